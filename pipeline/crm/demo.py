"""The CRM-as-a-source part of `make demo`: a sample HubSpot export read as the portal
(data/sample_crm; some of its contacts are sample leads under other addresses, some are
duplicates of each other), then what the sync would update instead of create, and the
merge proposals."""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.config import PROJECT_ROOT, Settings

SAMPLE_EXPORT = PROJECT_ROOT / "data" / "sample_crm" / "hubspot_contacts_export.csv"
SCHEMA = "leads"


def demo_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """The sample export as the CRM, where none is configured and the CRM is the outbox."""
    if settings.crm_backend != "outbox" or settings.crm_import_file is not None:
        return settings, []
    note = f"CRM_IMPORT_FILE unset: the demo reads {SAMPLE_EXPORT} as the HubSpot portal"
    return settings.model_copy(update={"crm_import_file": SAMPLE_EXPORT}), [note]


def _table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame | None:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [SCHEMA, name],
    ).fetchall()[0][0]
    return con.sql(f"select * from {SCHEMA}.{name}").pl() if found else None


def demo_text(settings: Settings) -> str:
    from pipeline.crm.client import OutboxCrm
    from pipeline.crm.ledger import load_ledger
    from pipeline.crm.proposals import stored
    from pipeline.store import open_store

    if not settings.warehouse_path.exists():
        return ""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        records = _table(con, "crm_records")
        golden = _table(con, "scored_leads")
    if records is None or records.is_empty():
        return "The CRM as a source: nothing read (set CRM_IMPORT_FILE, or CRM_BACKEND=hubspot)."
    engine = open_store(settings.store_url)
    backend = settings.crm_backend
    contacts = records.filter(pl.col("object_type") == "contact")
    by_status = dict(contacts.group_by("status").len().iter_rows())
    out = [
        "The CRM as a source",
        "-------------------",
        f"Read: {contacts.height} contacts ("
        + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        + f") from {contacts['source'][0]}",
    ]
    ledger = load_ledger(engine, backend).filter(pl.col("crm_id").is_not_null())
    if backend == OutboxCrm.backend:
        # The outbox gives no ids of its own: an id here is a contact read from the CRM.
        ids = contacts.select(
            pl.col("crm_id"),
            pl.col("email").alias("crm_email"),
            (pl.col("first_name") + " " + pl.col("last_name")).alias("crm_name"),
        )
        updated = ledger.join(ids, on="crm_id", how="inner").sort("crm_id")
        if golden is not None and "member_ids" in golden.columns:
            leads = golden.select(
                "entity_id", pl.col("member_ids").list.eval(
                    pl.element().filter(~pl.element().str.starts_with("crm:"))
                ).list.len().alias("leads")
            )  # fmt: skip
            updated = updated.join(leads, on="entity_id", how="left")
        else:
            updated = updated.with_columns(pl.lit(None).alias("leads"))
        out.append(
            f"Leads already in the CRM: {updated.height} contact(s) the sync updates by id "
            "instead of creating a second one:"
        )
        for row in updated.iter_rows(named=True):
            out.append(
                f"  - contact {row['crm_id']} {row['crm_name']} <{row['crm_email']}>: "
                f"{row['leads'] or 0} lead(s) from files, lead email {row['id_value']}"
            )
    waiting = stored(engine, backend, ("pending", "approved"))
    out.append(
        f"Duplicates inside the CRM: {len(waiting)} merge proposal(s) waiting for a decision"
        + (" (their entities wait too, the sync holds them):" if waiting else ".")
    )
    for p in waiting:
        names = " / ".join(
            f"{m['crm_id']} {m.get('first_name') or ''} {m.get('last_name') or ''} "
            f"<{m.get('email') or '-'}>".replace("  ", " ")
            for m in p["members"]
        )
        weight = f"{p['match_weight']:+.1f}" if p["match_weight"] is not None else "n/a"
        out.append(f"  - {p['id']} (weight {weight}, keep {p['survivor_id']}): {names}")
    out.append(
        "  `python -m pipeline crm merges` shows them side by side with the reasons; "
        "`crm merges approve ID` merges, `crm merges deny ID` keeps them apart."
    )
    return "\n".join(out)
