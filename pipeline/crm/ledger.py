"""The sync ledger and its neighbours in the operational store.

Per backend and entity: the CRM id and the hash of the properties last written, so a sync
sends only what changed, and the company its association was acknowledged for; the company
ids by domain; the rejections; and what changed on the CRM side (manual edits, deletions),
which the next sync must respect. Writes are set-based: one executemany per acknowledged
batch, in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import polars as pl
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)

from pipeline.store.sql import dialect_insert, execute_many, fetch_frame, utcnow
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
    "associated_domain": pl.String,
}
# Writes HubSpot attributes to our own private app; anything else is a person or another tool.
OWN_CHANGE_SOURCES = frozenset({"INTEGRATION", "API"})


SYNCED_COLUMNS = (
    "entity_id",
    "id_value",
    "crm_id",
    "properties",
    "properties_hash",
    "associated_domain",
)


def load_ledger(engine: Engine, backend: str) -> pl.DataFrame:
    t = crm_sync_ledger
    query = select(*(t.c[name] for name in LEDGER_SCHEMA)).where(t.c.backend == backend)
    with engine.connect() as conn:
        return fetch_frame(conn, query, LEDGER_SCHEMA)


def record_synced(conn: Connection, backend: str, rows: pl.DataFrame, run_id: str | None) -> int:
    """Upsert what the CRM acknowledged: `rows` has SYNCED_COLUMNS (properties as canonical
    JSON; associated_domain where the association was acknowledged with the contact, else
    null, which keeps what the ledger had)."""
    if rows.is_empty():
        return 0
    now = utcnow()
    stmt = dialect_insert(conn, crm_sync_ledger)
    stmt = stmt.on_conflict_do_update(
        index_elements=["backend", "entity_id"],
        set_={
            k: stmt.excluded[k]
            for k in ("id_value", "crm_id", "properties", "properties_hash", "synced_at", "run_id")
        }
        | {
            "status": "synced",
            "merged_into": None,
            "associated_domain": func.coalesce(
                stmt.excluded.associated_domain, crm_sync_ledger.c.associated_domain
            ),
        },
    )
    execute_many(
        conn,
        stmt,
        rows.select(SYNCED_COLUMNS).sort("entity_id"),  # primary key order: fewer page misses
        {"backend": backend, "synced_at": now, "run_id": run_id},
    )
    return rows.height


def record_associated(conn: Connection, backend: str, rows: pl.DataFrame) -> int:
    """Remember the acknowledged associations: `rows` has entity_id and domain."""
    if rows.is_empty():
        return 0
    t = crm_sync_ledger
    stmt = (
        update(t)
        .where(t.c.backend == bindparam("b_backend"), t.c.entity_id == bindparam("b_entity"))
        .values(associated_domain=bindparam("b_domain"))
    )
    execute_many(
        conn,
        stmt,
        rows.select(pl.col("entity_id").alias("b_entity"), pl.col("domain").alias("b_domain")).sort(
            "b_entity"
        ),
        {"b_backend": backend},
    )
    return rows.height


def adopt(
    conn: Connection, backend: str, survivor: str, merged: str, crm_ref: str, run_id: str | None
) -> None:
    """A survivor entity never synced takes over the merged entity's CRM record: its ledger
    row starts as a copy of the merged one (so the next sync sends it as a change of that
    record, by id), and the merged row is marked merged."""
    t = crm_sync_ledger
    source = select(
        t.c.backend,
        literal(survivor).label("entity_id"),
        t.c.id_value,
        literal(crm_ref).label("crm_id"),
        t.c.properties,
        t.c.properties_hash,
        literal("synced").label("status"),
        literal(utcnow(), DateTime(timezone=True)).label("synced_at"),
        literal(run_id, String).label("run_id"),
        t.c.associated_domain,
    ).where(t.c.backend == backend, t.c.entity_id == merged)
    columns = [
        "backend",
        "entity_id",
        "id_value",
        "crm_id",
        "properties",
        "properties_hash",
        "status",
        "synced_at",
        "run_id",
        "associated_domain",
    ]
    conn.execute(insert(t).from_select(columns, source))
    mark_merged(conn, backend, merged, survivor, run_id)


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


def record_companies(conn: Connection, backend: str, rows: pl.DataFrame) -> int:
    """Remember the companies the CRM acknowledged: `rows` has domain, crm_id, name."""
    stmt = dialect_insert(conn, crm_companies)
    stmt = stmt.on_conflict_do_update(
        index_elements=["backend", "domain"],
        set_={k: stmt.excluded[k] for k in ("crm_id", "name", "synced_at")},
    )
    execute_many(
        conn,
        stmt,
        rows.select("domain", "crm_id", "name").sort("domain"),
        {"backend": backend, "synced_at": utcnow()},
    )
    return rows.height


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
            "input": (
                r["input"]
                if isinstance(r.get("input"), str)
                else json.dumps(r.get("input", {}), sort_keys=True, default=str)
            ),
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
