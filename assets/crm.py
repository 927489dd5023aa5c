"""The `crm` group: golden, scored leads synced to the CRM (outbox or HubSpot).

Writes go through the `hubspot_api` concurrency pool, so two runs never share the portal's
rate limit unknowingly. Before it writes, the sync carries out the merge proposals a person
approved and nobody merged yet (`pipeline.crm.merges`), and it updates the contact an entity
holds in the CRM (read by `crm_records`) instead of creating another.
"""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MetadataValue,
    Output,
    asset,
)

from assets.metadata import preview
from pipeline.crm.hubspot import HubSpotCrm
from pipeline.crm.ledger import load_ledger, rejections
from pipeline.crm.mapping import load_mapping
from pipeline.crm.matches import entity_contacts
from pipeline.crm.merges import execute_approved, load_steps
from pipeline.crm.sync import merge_sender, sync_contacts
from resources.crm import CrmResource
from resources.ops_store import OpsStore
from resources.warehouse import Warehouse

CRM_POOL = "hubspot_api"


@asset(
    group_name="crm",
    kinds={"hubspot", "polars"},
    pool=CRM_POOL,
    description=(
        "Scored golden leads synced to the CRM as contacts (with their companies and "
        "associations), diff-based: only new or changed entities are sent. The table is the "
        "sync ledger: entity, email, CRM id, sync status. Rejected records are in the "
        "operational store's crm_sync_rejections. An entity holding one contact of the CRM "
        "(crm_records) updates it by id; approved merge proposals are merged first."
    ),
    deps=[AssetKey("crm_merge_proposals")],
    check_specs=[
        AssetCheckSpec(
            "rejected_rate",
            asset="crm_contacts",
            description="Share of sent records the CRM rejected stays under the configured rate.",
        )
    ],
)
def crm_contacts(
    context: AssetExecutionContext,
    scored_leads: pl.DataFrame,
    entity_events: pl.DataFrame,
    crm: CrmResource,
    ops_store: OpsStore,
    warehouse: Warehouse,
):
    engine = ops_store.engine
    client = crm.client(engine, context.run_id)
    context.log.info(f"CRM backend: {client.describe()}")
    try:
        merges = execute_approved(
            client,
            engine,
            send=merge_sender(engine),
            run_id=context.run_id,
            progress=context.log.info,
        )
        contacts = None
        records = warehouse.read("crm_records")
        if records is not None and "member_ids" in scored_leads.columns:
            steps = load_steps(engine, client.backend)
            contacts = entity_contacts(
                scored_leads.select("entity_id", "member_ids"), records, steps
            )
        report = sync_contacts(
            scored_leads,
            entity_events,
            load_mapping(crm.mapping_path),
            client,
            engine,
            run_id=context.run_id,
            progress=context.log.info,
            contacts=contacts,
        )
    finally:
        client.close()
    ledger = load_ledger(engine, client.backend)
    rejected = rejections(engine, context.run_id)
    yield Output(
        ledger,
        metadata={
            **{
                k: MetadataValue.int(v)
                for k, v in report.as_dict().items()
                if isinstance(v, int) and not isinstance(v, bool)
            },
            "backend": client.backend,
            # HubSpot only: retried requests and the seconds spent waiting out 429s.
            **(
                {
                    "retries": MetadataValue.int(client.retries),
                    "rate_limit_wait_seconds": MetadataValue.float(
                        round(client.rate_limit_wait_seconds, 3)
                    ),
                }
                if isinstance(client, HubSpotCrm)
                else {}
            ),
            "mode": report.mode,
            "approved_merges": MetadataValue.json(merges.as_dict()),
            "rejected_rate": MetadataValue.float(report.rejected_rate),
            "errors_by_category": MetadataValue.json(report.errors_by_category),
            # Free text mapped onto enumerations (HubSpot's industry): rows per method, the
            # values nothing matched (not sent), and what each distinct value became.
            **{
                f"{key.split('.')[-1]}_mapping": MetadataValue.json(counts)
                for key, counts in report.enumerations.items()
            },
            **{
                f"{key.split('.')[-1]}_unmapped": MetadataValue.json(
                    dict(list(values.items())[:50])
                )
                for key, values in report.unmapped.items()
            },
            **{
                f"{key.split('.')[-1]}_matches": preview(matches, rows=20)
                for key, matches in report.enumeration_matches.items()
            },
            "rejections": preview(
                pl.DataFrame(rejected).select("id_value", "category", "message")
                if rejected
                else pl.DataFrame()
            ),
        },
    )
    yield AssetCheckResult(
        check_name="rejected_rate",
        passed=report.rejected_rate <= crm.max_rejected_rate,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "rejected": report.rejected,
            "sent": report.sent,
            "rejected_rate": MetadataValue.float(report.rejected_rate),
            "limit": MetadataValue.float(crm.max_rejected_rate),
        },
    )
