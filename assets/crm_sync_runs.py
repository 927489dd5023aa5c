"""`crm_sync_runs` and `crm_sync_rejections` (group `crm`): what each CRM sync run did, from the
operational store and the runs' own reports, as warehouse tables for the marts
(`marts/crm_sync_health`). The sync itself is `assets/crm.py`; this only reads.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AutomationCondition,
    DagsterInstance,
    Output,
    multi_asset,
)

from assets.metadata import counts, preview
from pipeline.marts.crm_sync_runs import REPORT_FIGURES, rejections_frame, sync_runs_frame
from resources.ops_store import OpsStore

CRM_CONTACTS = AssetKey("crm_contacts")
PAGE = 500


def sync_reports(instance: DagsterInstance) -> Iterator[dict[str, Any]]:
    """Per materialization of crm_contacts: run id, time and the report's figures."""
    cursor = None
    while True:
        page = instance.fetch_materializations(CRM_CONTACTS, limit=PAGE, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            metadata = materialization.metadata if materialization else {}
            report: dict[str, Any] = {
                "run_id": record.run_id,
                "at": datetime.fromtimestamp(record.timestamp, UTC),
            }
            for key in (*REPORT_FIGURES, "rejected", "merges", "backend", "mode"):
                if key in metadata:
                    report[key] = metadata[key].value
            yield report
        if not page.has_more:
            return
        cursor = page.cursor


@multi_asset(
    group_name="crm",
    deps=[CRM_CONTACTS],
    outs={
        "crm_sync_runs": AssetOut(
            kinds={"polars", "duckdb"},
            automation_condition=AutomationCondition.eager(),
            description=(
                "One row per CRM sync run: backend, mode, succeeded or incomplete (stopped "
                "halfway), sent, created, unchanged, rejected, merges, ledger rows it last "
                "wrote; rate-limit waits are null until the sync records them."
            ),
        ),
        "crm_sync_rejections": AssetOut(
            kinds={"polars", "duckdb"},
            automation_condition=AutomationCondition.eager(),
            description=(
                "Every record the CRM rejected, per run, with the CRM's category and message "
                "(the input payload stays in the operational store)."
            ),
        ),
    },
)
def crm_sync_runs(context: AssetExecutionContext, ops_store: OpsStore):
    engine = ops_store.engine
    reports = list(sync_reports(context.instance))
    runs = sync_runs_frame(engine, reports)
    rejections = rejections_frame(engine)
    context.log.info(
        f"{runs.height} CRM sync run(s) ({len(reports)} with a report), "
        f"{rejections.height} rejection(s)"
    )
    yield Output(
        runs,
        output_name="crm_sync_runs",
        metadata={
            "runs": runs.height,
            "by_status": counts(runs, "status"),
            "preview": preview(
                runs.select("run_id", "status", "sent", "unchanged", "rejected", "merges")
            ),
        },
    )
    yield Output(
        rejections,
        output_name="crm_sync_rejections",
        metadata={"by_category": counts(rejections, "category")},
    )
