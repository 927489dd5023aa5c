"""The sync ledger and its neighbours in the operational store.

Per backend and entity: the CRM id and the hash of the properties last written, so a sync
sends only what changed; the company ids by domain; the rejections; and what changed on the
CRM side (manual edits, deletions), which the next sync must respect.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, select, update

from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import (
    crm_companies,
    crm_contact_changes,
    crm_sync_ledger,
    crm_sync_rejections,
)

LEDGER_SCHEMA = {
    "entity_id": pl.String,
    "id_value": pl.String,
    "crm_id": pl.String,
    "properties_hash": pl.String,
    "status": pl.String,
}
# Writes HubSpot attributes to our own private app; anything else is a person or another tool.
OWN_CHANGE_SOURCES = frozenset({"INTEGRATION", "API"})


@dataclass(frozen=True)
class LedgerRow:
    entity_id: str
    id_value: str
    crm_id: str | None
    properties: dict[str, str]
    properties_hash: str


def load_ledger(engine: Engine, backend: str) -> pl.DataFrame:
    t = crm_sync_ledger
    query = select(t.c.entity_id, t.c.id_value, t.c.crm_id, t.c.properties_hash, t.c.status)
    with engine.connect() as conn:
        rows = conn.execute(query.where(t.c.backend == backend)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=LEDGER_SCHEMA, orient="row")


def record_synced(
    conn: Connection, backend: str, rows: list[LedgerRow], run_id: str | None
) -> None:
    if not rows:
        return
    now = utcnow()
    stmt = dialect_insert(conn, crm_sync_ledger)
    stmt = stmt.on_conflict_do_update(
        index_elements=["backend", "entity_id"],
        set_={
            k: stmt.excluded[k]
            for k in ("id_value", "crm_id", "properties", "properties_hash", "synced_at", "run_id")
        }
        | {"status": "synced", "merged_into": None},
    )
    conn.execute(
        stmt,
        [
            {
                "backend": backend,
                "entity_id": r.entity_id,
                "id_value": r.id_value,
                "crm_id": r.crm_id,
                "properties": json.dumps(r.properties, sort_keys=True),
                "properties_hash": r.properties_hash,
                "synced_at": now,
                "run_id": run_id,
            }
            for r in rows
        ],
    )


def mark_merged(
    conn: Connection, backend: str, entity_id: str, into: str, run_id: str | None
) -> None:
    t = crm_sync_ledger
    conn.execute(
        update(t)
        .where(t.c.backend == backend, t.c.entity_id == entity_id)
        .values(status="merged", merged_into=into, synced_at=utcnow(), run_id=run_id)
    )


def set_crm_id(conn: Connection, backend: str, entity_id: str, crm_id: str) -> None:
    t = crm_sync_ledger
    conn.execute(
        update(t).where(t.c.backend == backend, t.c.entity_id == entity_id).values(crm_id=crm_id)
    )


def company_ids(engine: Engine, backend: str) -> dict[str, str | None]:
    c = crm_companies
    with engine.connect() as conn:
        rows = conn.execute(select(c.c.domain, c.c.crm_id).where(c.c.backend == backend))
        return {domain: crm_id for domain, crm_id in rows}


def record_companies(
    engine: Engine, backend: str, ids: dict[str, str | None], names: dict[str, str]
) -> None:
    if not ids:
        return
    stmt = dialect_insert(engine, crm_companies)
    stmt = stmt.on_conflict_do_update(
        index_elements=["backend", "domain"],
        set_={k: stmt.excluded[k] for k in ("crm_id", "name", "synced_at")},
    )
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            stmt,
            [
                {
                    "backend": backend,
                    "domain": d,
                    "crm_id": i,
                    "name": names.get(d),
                    "synced_at": now,
                }
                for d, i in ids.items()
            ],
        )


def record_rejections(
    conn: Connection, backend: str, run_id: str | None, rows: Iterable[dict]
) -> int:
    values = [
        {
            "run_id": run_id,
            "backend": backend,
            "entity_id": r.get("entity_id"),
            "id_value": r.get("id_value"),
            "category": r["category"][:64],
            "message": r["message"][:4000],
            "input": json.dumps(r.get("input", {}), sort_keys=True, default=str),
            "rejected_at": utcnow(),
        }
        for r in rows
    ]
    if values:
        conn.execute(crm_sync_rejections.insert(), values)
    return len(values)


def manual_edits(engine: Engine) -> set[tuple[str, str]]:
    """(CRM id, property) pairs a person changed in the CRM."""
    c = crm_contact_changes
    query = select(c.c.crm_id, c.c.property).where(
        c.c.change == "property",
        c.c.change_source.is_(None) | c.c.change_source.not_in(list(OWN_CHANGE_SOURCES)),
    )
    with engine.connect() as conn:
        return {(crm_id, prop) for crm_id, prop in conn.execute(query)}


def rejections(engine: Engine, run_id: str | None = None) -> list[dict]:
    r = crm_sync_rejections
    query = select(r).order_by(r.c.id)
    if run_id is not None:
        query = query.where(r.c.run_id == run_id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
