"""Per CRM sync run, what the operational store recorded, as warehouse tables the marts read.

The store keeps, per run id: the ledger rows the run last wrote (`crm_sync_ledger.run_id`), the
records the CRM rejected with its category (`crm_sync_rejections`), and the contact merges it
made (the audit log, `<backend>.merge_contacts`). A run that was stopped halfway (a crash, the
kill switch) is there too. What only the run's report knows (how many it sent, found
unchanged, created) comes from the `crm_contacts` materialization of that run, handed in as
`reports`; a run without one is `incomplete` and those figures are null.

Rate-limit waits are not recorded anywhere yet: the HubSpot client counts its waits in
memory only. The columns exist (null) so the mart's shape does not change when the sync
starts recording them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from pipeline.store.tables import audit_log, crm_sync_ledger, crm_sync_rejections

RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "backend": pl.String(),
    "mode": pl.String(),
    # succeeded: crm_contacts materialized in this run; incomplete: it wrote to the store but
    # did not finish (failed, stopped by the kill switch).
    "status": pl.String(),
    "started_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
    "considered": pl.Int64(),
    "sent": pl.Int64(),
    "created": pl.Int64(),
    "unchanged": pl.Int64(),
    "rejected": pl.Int64(),
    "merges": pl.Int64(),
    "ledger_rows": pl.Int64(),
    "rate_limit_waits": pl.Int64(),
    "rate_limit_wait_seconds": pl.Float64(),
}

REJECTIONS_SCHEMA: dict[str, pl.DataType] = {
    "rejection_id": pl.Int64(),
    "run_id": pl.String(),
    "backend": pl.String(),
    "entity_id": pl.String(),
    "id_value": pl.String(),
    "category": pl.String(),
    "message": pl.String(),
    "rejected_at": pl.Datetime("us"),
}

# Figures of the run's report (the crm_contacts materialization's metadata) kept per run.
REPORT_FIGURES = ("considered", "sent", "created", "unchanged")


def _naive_utc(value: datetime | None) -> datetime | None:
    """Warehouse timestamps are naive UTC (SQLite hands back naive, Postgres aware values)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def rejections_frame(engine: Engine) -> pl.DataFrame:
    """Every rejection the CRM sync recorded (not the input payload: it is in the store)."""
    r = crm_sync_rejections
    query = select(
        r.c.id,
        r.c.run_id,
        r.c.backend,
        r.c.entity_id,
        r.c.id_value,
        r.c.category,
        r.c.message,
        r.c.rejected_at,
    ).order_by(r.c.id)
    with engine.connect() as conn:
        rows = [(*row[:-1], _naive_utc(row[-1])) for row in conn.execute(query)]
    return pl.DataFrame(rows, schema=REJECTIONS_SCHEMA, orient="row")


def _store_facts(engine: Engine) -> dict[str, dict[str, Any]]:
    """run id -> backend, first/last time seen, ledger rows, rejections and merges."""
    facts: dict[str, dict[str, Any]] = {}

    def seen(run_id: str, backend: str | None, first: datetime | None, last: datetime | None):
        fact = facts.setdefault(
            run_id,
            {
                "backend": None,
                "first": None,
                "last": None,
                "ledger_rows": 0,
                "rejected": 0,
                "merges": 0,
            },
        )
        fact["backend"] = fact["backend"] or backend
        for key, value, pick in (("first", first, min), ("last", last, max)):
            value = _naive_utc(value)
            if value is not None:
                fact[key] = value if fact[key] is None else pick(fact[key], value)
        return fact

    ledger, rejections, audit = crm_sync_ledger, crm_sync_rejections, audit_log
    merges = (audit.c.actor == "crm_sync", audit.c.action.like("%.merge_contacts"))
    # (figure, run id, backend or action, time, filters): each grouped per run.
    sources = (
        ("ledger_rows", ledger.c.run_id, ledger.c.backend, ledger.c.synced_at, ()),
        ("rejected", rejections.c.run_id, rejections.c.backend, rejections.c.rejected_at, ()),
        ("merges", audit.c.run_id, audit.c.action, audit.c.at, merges),
    )
    with engine.connect() as conn:
        for figure, run_col, backend_col, time_col, filters in sources:
            query = (
                select(run_col, backend_col, func.count(), func.min(time_col), func.max(time_col))
                .where(run_col.is_not(None), *filters)
                .group_by(run_col, backend_col)
            )
            for run_id, backend, rows, first, last in conn.execute(query):
                # The audit action is "<backend>.merge_contacts".
                seen(run_id, backend.split(".")[0], first, last)[figure] += rows
    return facts


def sync_runs_frame(engine: Engine, reports: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per sync run. `reports`: per crm_contacts materialization, its run id, time
    (`at`, UTC) and metadata figures (`backend`, `mode`, `sent`, `unchanged`, ...)."""
    facts = _store_facts(engine)
    by_run = {str(r["run_id"]): r for r in reports}
    rows = []
    for run_id in sorted(set(facts) | set(by_run)):
        fact, report = facts.get(run_id, {}), by_run.get(run_id)
        at = _naive_utc(report["at"]) if report and report.get("at") else None
        first = fact.get("first") or at
        rows.append(
            {
                "run_id": run_id,
                "backend": (report or {}).get("backend") or fact.get("backend"),
                "mode": (report or {}).get("mode"),
                "status": "succeeded" if report else "incomplete",
                "started_at": first,
                "finished_at": at or fact.get("last"),
                **{k: (report or {}).get(k) for k in REPORT_FIGURES},
                # The store's count covers a run stopped halfway too.
                "rejected": fact.get("rejected", (report or {}).get("rejected", 0)),
                "merges": fact.get("merges", (report or {}).get("merges", 0)),
                "ledger_rows": fact.get("ledger_rows", 0),
                "rate_limit_waits": None,
                "rate_limit_wait_seconds": None,
            }
        )
    if not rows:
        return pl.DataFrame(schema=RUNS_SCHEMA)
    return pl.DataFrame(rows, schema=RUNS_SCHEMA).sort("started_at", "run_id", nulls_last=True)
