"""The composition root: the one module that wires the Dagster layer into Definitions.

Everything else in `pipeline/` is plain Python and polars; this module is where resources
are chosen from the environment and the code location is assembled.
"""

from __future__ import annotations

import logging
import os

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    define_asset_job,
    load_assets_from_modules,
)

from assets import crm as crm_assets
from assets import dedupe, enrich, ingest, normalize, scoring, webhooks
from assets.partitions import arrival_day
from pipeline.config import Settings, load_settings
from pipeline.scoring import DEFAULT_ICP_PATH
from pipeline.store import redact_url
from resources.crm import CrmResource, HubSpotCrmResource, OutboxCrmResource
from resources.enrichment import EnrichmentProvider, OfflineEnrichment, WaterfallEnrichment
from resources.io_manager import LeadsWarehouseIOManager
from resources.lead_source import LeadSource, LocalFolderLeadSource
from resources.ops_store import OpsStore
from resources.scoring import IcpSource
from resources.settings import PipelineSettings
from resources.warehouse import Warehouse
from sensors.file_arrival import build_file_arrival_sensor
from sensors.webhook_inbox import build_webhook_inbox_sensor

log = logging.getLogger("pipeline")

WAREHOUSE_SCHEMA = "leads"

ingest_job = define_asset_job(
    "ingest_job",
    selection=AssetSelection.groups("ingest"),
    partitions_def=arrival_day,
    description="Land the day's files, parse them, normalize the rows.",
)

dedupe_job = define_asset_job(
    "dedupe_job",
    selection=AssetSelection.groups("dedupe"),
    description="Resolve all normalized leads to entities and golden records.",
)


enrich_job = define_asset_job(
    "enrich_job",
    selection=AssetSelection.groups("enrich"),
    description="Enrich and score the golden leads.",
)


crm_job = define_asset_job(
    "crm_job",
    selection=AssetSelection.groups("crm"),
    description="Sync the scored golden leads to the CRM (outbox or HubSpot).",
)


def enrichment_from(settings: Settings) -> EnrichmentProvider:
    """LEADS_ENRICHMENT picks the backend; `http` with a missing key or a bad config file is
    an error here, when the code location loads, not a silent offline run."""
    if settings.enrichment == "offline":
        return OfflineEnrichment(default_country=settings.default_country)
    if settings.enrichment == "http":
        from pipeline.enrich import load_config, open_providers

        path = str(settings.enrichment_config) if settings.enrichment_config else None
        for provider in open_providers(load_config(path)).values():  # checks every key
            provider.close()
        return WaterfallEnrichment(config_path=path, default_country=settings.default_country)
    raise ValueError(f"LEADS_ENRICHMENT must be 'offline' or 'http', got {settings.enrichment!r}")


def crm_from(settings: Settings) -> CrmResource:
    """CRM_BACKEND picks the backend; `hubspot` without HUBSPOT_ACCESS_TOKEN is a
    configuration error, never a quiet switch to the outbox."""
    mapping = str(settings.crm_mapping) if settings.crm_mapping else None
    if settings.crm_backend == "outbox":
        return OutboxCrmResource(
            mapping_path=mapping, max_rejected_rate=settings.crm_max_rejected_rate
        )
    if settings.crm_backend == "hubspot":
        if settings.hubspot_access_token is None:
            raise ValueError("CRM_BACKEND=hubspot needs HUBSPOT_ACCESS_TOKEN (a private app token)")
        return HubSpotCrmResource(
            access_token=EnvVar("HUBSPOT_ACCESS_TOKEN"),
            base_url=settings.hubspot_base_url,
            requests_per_10s=settings.hubspot_requests_per_10s,
            daily_limit=settings.hubspot_daily_limit,
            mapping_path=mapping,
            max_rejected_rate=settings.crm_max_rejected_rate,
        )
    raise ValueError(f"CRM_BACKEND must be 'outbox' or 'hubspot', got {settings.crm_backend!r}")


def lead_source_from(settings: Settings) -> LeadSource:
    return LocalFolderLeadSource(folder=str(settings.source_dir))


def ops_store_from(settings: Settings) -> OpsStore:
    """The store resource; a URL from the environment is passed as an EnvVar so the UI shows
    the variable's name, never the password inside the URL."""
    url = (
        EnvVar("LEADS_DATABASE_URL")
        if settings.database_url and os.environ.get("LEADS_DATABASE_URL") == settings.database_url
        else settings.store_url
    )
    return OpsStore(database_url=url, max_attempts=settings.webhook_max_attempts)


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or load_settings()
    source = lead_source_from(settings)
    enrichment = enrichment_from(settings)
    crm = crm_from(settings)
    log.info(
        "lead source: %s; warehouse: %s; operational store: %s; %s; CRM backend: %s",
        source.describe(),
        settings.warehouse_path,
        redact_url(settings.store_url),
        enrichment.describe(),
        settings.crm_backend,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Definitions(
        assets=load_assets_from_modules(
            [ingest, normalize, dedupe, enrich, scoring, crm_assets, webhooks]
        ),
        jobs=[ingest_job, dedupe_job, enrich_job, crm_job, webhooks.process_webhook_events],
        sensors=[
            build_file_arrival_sensor(ingest_job.name),
            build_webhook_inbox_sensor(webhooks.process_webhook_events, ingest_job),
        ],
        resources={
            "ops_store": ops_store_from(settings),
            "enrichment": enrichment,
            "crm": crm,
            "icp": IcpSource(path=str(settings.icp or DEFAULT_ICP_PATH)),
            "io_manager": LeadsWarehouseIOManager(
                database=str(settings.warehouse_path), schema=WAREHOUSE_SCHEMA
            ),
            "lead_source": source,
            "warehouse": Warehouse(
                database=str(settings.warehouse_path), schema_name=WAREHOUSE_SCHEMA
            ),
            "settings": PipelineSettings(
                data_dir=str(settings.data_dir),
                default_country=settings.default_country,
                header_aliases=str(settings.header_aliases) if settings.header_aliases else None,
                excel_sheets=settings.excel_sheets,
                max_file_bytes=int(settings.max_file_bytes),
                max_uncompressed_bytes=int(settings.max_uncompressed_bytes),
                max_field_chars=settings.max_field_chars,
            ),
        },
    )


defs = build_definitions()


# The terminal shows warnings only; the full event log is in the UI (`make dev`).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_ingest_for_all_arrivals(settings: Settings) -> bool:
    """Materialize `ingest_job` for each arrival day present in the source, on the
    persistent instance (DAGSTER_HOME), so the runs show up in the UI afterwards."""
    from dagster import DagsterInstance

    from assets.partitions import arrival_partition_key

    definitions = build_definitions(settings)
    days = sorted(
        {
            arrival_partition_key(f.arrived_at)
            for f in lead_source_from(settings).list_files(None, None)
        }
    )
    job = definitions.resolve_job_def(ingest_job.name)
    ok = True
    with DagsterInstance.get() as instance:
        for day in days:
            print(f"materializing ingest assets for arrival day {day} ...", flush=True)
            result = job.execute_in_process(
                instance=instance, partition_key=day, raise_on_error=False, run_config=QUIET
            )
            ok = ok and result.success
            if not result.success:
                print(f"run {result.run_id} for {day} failed; see `make dev` for its logs")
        if ok:
            print("resolving duplicates into entities ...", flush=True)
            result = definitions.resolve_job_def(dedupe_job.name).execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET
            )
            ok = result.success
        for job, what in (
            (enrich_job, "enriching and scoring the golden leads"),
            (crm_job, f"syncing contacts to the CRM ({settings.crm_backend})"),
        ):
            if not ok:
                break
            print(f"{what} ...", flush=True)
            result = definitions.resolve_job_def(job.name).execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET
            )
            ok = result.success
    return ok
