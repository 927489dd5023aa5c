"""The CRM as a source (group `crm`): its contacts and companies (`crm_records`), and its
contacts as leads for the dedupe (`crm_leads`).

`crm_records` reads incrementally: what changed since the latest modification it holds (its
own table is the cursor, written with the records, so a failed run never skips changes).
Reads share the `hubspot_api` pool with the sync: one portal, one rate limit.
"""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    Config,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)
from pydantic import Field

from assets.crm import CRM_POOL
from assets.metadata import counts, preview
from pipeline.crm.as_leads import crm_leads as normalized_crm_leads
from pipeline.crm.mapping import load_mapping
from pipeline.crm.records import apply_read, empty_records, summary
from resources.crm import CrmResource
from resources.ops_store import OpsStore
from resources.settings import PipelineSettings
from resources.warehouse import Warehouse

GROUP = "crm"


class CrmImportConfig(Config):
    full_refresh: bool = Field(
        default=False, description="Read every record again instead of what changed."
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _same_origin(previous: pl.DataFrame | None, source_name: str) -> bool:
    """Whether the records held were read from this kind of source (a switch from an export
    file to the portal, or back, starts afresh)."""
    if previous is None or previous.is_empty():
        return True
    prefix = "export:" if source_name == "export" else source_name
    return bool(previous["source"].drop_nulls().str.starts_with(prefix).all())


@multi_asset(
    group_name=GROUP,
    pool=CRM_POOL,
    outs={
        "crm_records": AssetOut(
            kinds={"hubspot", "polars", "duckdb"},
            description=(
                "Contacts and companies as the CRM holds them (HubSpot through its API, or a "
                "HubSpot export file with CRM_IMPORT_FILE): emails and additional emails, "
                "names, phones, company, domain, title, country, owner, lifecycle stage, "
                "created and modified dates, record id; `status` live, archived (deleted in "
                "the CRM), merged (into `merged_into`) or deleted (gone). Read incrementally "
                "by last modification, with its latest as the cursor; every record again once "
                "a week."
            ),
        ),
        "crm_import_rejections": AssetOut(
            kinds={"polars", "duckdb"},
            description=(
                "Rows of the CRM export file that could not be read as records, each naming "
                "the file, row, field and reason, as of the latest read (empty when the "
                "portal itself is read)."
            ),
        ),
    },
    check_specs=[
        AssetCheckSpec(
            "export_rows_read",
            asset="crm_records",
            description="Every row of the export file could be read as a record.",
        )
    ],
)
def crm_records(
    context: AssetExecutionContext,
    config: CrmImportConfig,
    crm: CrmResource,
    ops_store: OpsStore,
    warehouse: Warehouse,
):
    engine = ops_store.engine
    mapping = load_mapping(crm.mapping_path)
    source = crm.source(engine, context.run_id, list(mapping.contacts.properties))
    context.log.info(f"CRM source: {source.describe()}")
    now = _now()
    previous = warehouse.read("crm_records")
    if not _same_origin(previous, source.name):
        context.log.info("the CRM source changed since the last read: reading it afresh")
        previous = None
    if source.name == "none":
        records, read = empty_records(), None
    else:
        read = source.read(previous, full=config.full_refresh, now=now, progress=context.log.info)
        records = apply_read(previous, read, now)
    changed = records.filter(pl.col("changed_at") == now) if records.height else records
    rejected = pl.DataFrame(
        read.rejected if read else [],
        schema={"file": pl.String, "row": pl.Int64, "field": pl.String, "reason": pl.String},
    )
    yield Output(
        records,
        output_name="crm_records",
        metadata={
            "source": source.describe(),
            "records": MetadataValue.json(summary(records)),
            "read": read.records.height if read else 0,
            "changed": changed.height,
            "mode": MetadataValue.json(read.mode if read else {}),
            # HubSpot only: the API requests this read made.
            "requests": read.requests if read else 0,
            "rejected_rows": rejected.height,
            "rejected": preview(rejected, 20),
            "preview": preview(
                records.filter(pl.col("object_type") == "contact").select(
                    "crm_id", "status", "email", "first_name", "last_name", "company", "owner_id"
                )
            ),
        },
    )
    yield Output(
        rejected.with_columns(pl.lit(now).alias("read_at")),
        output_name="crm_import_rejections",
        metadata={"rejected_rows": rejected.height, "preview": preview(rejected, 20)},
    )
    yield AssetCheckResult(
        check_name="export_rows_read",
        asset_key="crm_records",
        passed=rejected.is_empty(),
        severity=AssetCheckSeverity.WARN,
        metadata={"rejected_rows": rejected.height},
    )


@asset(
    group_name=GROUP,
    kinds={"polars", "duckdb"},
    description=(
        "The CRM's live and archived contacts as leads, normalized like the files' leads "
        "(provenance `crm`, lead id `crm:<record id>`): the dedupe matches them with the "
        "leads, so a lead already in the CRM under another address updates that contact."
    ),
)
def crm_leads(
    context: AssetExecutionContext, crm_records: pl.DataFrame, settings: PipelineSettings
):
    leads, rejected = normalized_crm_leads(crm_records, settings.default_country)
    context.log.info(f"{leads.height} CRM contact(s) as leads, {rejected.height} without identity")
    return Output(
        leads,
        metadata={
            "leads": leads.height,
            "by_status": counts(leads, "crm_status"),
            "without_identity": rejected.height,
            "without_identity_ids": MetadataValue.json(
                rejected["lead_id"].head(50).to_list() if rejected.height else []
            ),
            "preview": preview(
                leads.select("lead_id", "full_name", "email_canonical", "phone_e164", "company")
            ),
        },
    )
