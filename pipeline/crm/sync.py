"""Diff-based, idempotent sync of golden, scored leads to the CRM.

Order of work: merges recorded by the dedupe core first (so survivors are consolidated),
then the companies the changed contacts need, then the contacts in batches (each followed by
its associations), each batch's ledger rows committed as soon as the CRM acknowledged it. A
run killed halfway and re-run therefore resends at most the batch in flight, which upserts by
email make harmless; an unchanged re-run sends nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Engine

from pipeline.crm.client import Association, BatchResult, CrmClient
from pipeline.crm.ledger import (
    LedgerRow,
    company_ids,
    load_ledger,
    manual_edits,
    mark_merged,
    record_companies,
    record_rejections,
    record_synced,
    set_crm_id,
)
from pipeline.crm.mapping import CrmMapping, payload_hash, payloads, property_frame
from pipeline.store import audit

BATCH_SIZE = 100  # HubSpot's limit for batch endpoints
COMPANY_KEY = "__company"


@dataclass
class SyncReport:
    backend: str
    mode: str
    considered: int = 0
    no_email: int = 0
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    skipped_by_mode: int = 0
    sent: int = 0
    created: int = 0
    rejected: int = 0
    merges: int = 0
    companies: int = 0
    associations: int = 0
    batches: int = 0
    preserved_manual_edits: int = 0
    errors_by_category: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_rate(self) -> float:
        return self.rejected / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["rejected_rate"] = round(self.rejected_rate, 4)
        return data


def _ref(crm_id: str | None, entity_id: str) -> str:
    return crm_id or f"entity:{entity_id}"


def apply_merges(
    merges: pl.DataFrame,
    client: CrmClient,
    engine: Engine,
    run_id: str | None,
    report: SyncReport,
) -> None:
    """Merge CRM records of entities the dedupe core merged, when both were synced."""
    if merges.is_empty():
        return
    ledger = load_ledger(engine, client.backend).filter(pl.col("status") == "synced")
    pairs = (
        merges.filter(pl.col("event") == "merge")
        .select("entity_id", "other_entity_id")
        .unique()
        .join(ledger, on="entity_id", how="inner")
        .join(
            ledger.rename(lambda c: f"other_{c}" if c != "entity_id" else "other_entity_id"),
            on="other_entity_id",
            how="inner",
        )
        .filter(pl.col("entity_id") != pl.col("other_entity_id"))
    )
    for row in pairs.iter_rows(named=True):
        primary = _ref(row["crm_id"], row["entity_id"])
        merged = _ref(row["other_crm_id"], row["other_entity_id"])
        if primary == merged:
            continue
        survivor = client.merge_contacts(primary, merged)
        with engine.begin() as conn:
            mark_merged(conn, client.backend, row["other_entity_id"], row["entity_id"], run_id)
            if row["crm_id"] is not None and survivor != row["crm_id"]:
                # HubSpot gives the merged record a new id; the survivor's ledger row follows.
                set_crm_id(conn, client.backend, row["entity_id"], survivor)
            audit.record(
                conn,
                actor="crm_sync",
                action=f"{client.backend}.merge_contacts",
                subject=f"{merged} -> {survivor}",
                run_id=run_id,
                details={"entity": row["entity_id"], "merged_entity": row["other_entity_id"]},
            )
        report.merges += 1


def _plan(
    scored: pl.DataFrame, mapping: CrmMapping, engine: Engine, backend: str, report: SyncReport
) -> pl.DataFrame:
    """Per entity: email, payload, hash, ledger state and whether it must be sent."""
    contact_props = property_frame(scored, mapping.contacts.properties, "contacts")
    id_prop = mapping.contacts.id_property
    frame = pl.DataFrame(
        {
            "entity_id": scored["entity_id"].cast(pl.String),
            "id_value": contact_props[id_prop].str.to_lowercase(),
            "payload": payloads(contact_props),
        },
        schema={"entity_id": pl.String, "id_value": pl.String, "payload": pl.Object},
    )
    if mapping.companies is not None:
        company_props = property_frame(scored, mapping.companies.properties, "companies")
        free = scored["is_free_email"] if "is_free_email" in scored.columns else None
        domains = company_props[mapping.companies.key]
        if free is not None:
            domains = pl.select(pl.when(~free.fill_null(False)).then(domains)).to_series()
        frame = frame.with_columns(
            domains.alias("domain"),
            pl.Series("company_payload", payloads(company_props), pl.Object),
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias("domain"),
            pl.lit(None, pl.Object).alias("company_payload"),
        )
    report.considered = frame.height
    report.no_email = frame["id_value"].null_count()
    ledger = load_ledger(engine, backend)
    frame = frame.filter(pl.col("id_value").is_not_null()).join(
        ledger.rename({"id_value": "ledger_id_value"}), on="entity_id", how="left"
    )
    edits = manual_edits(engine)
    owned = mapping.owned()
    final_payloads, hashes = [], []
    for row in frame.select("crm_id", "payload", "domain").iter_rows():
        crm_id, payload, domain = row
        payload = dict(payload)
        if crm_id is not None and edits:
            for prop in [p for p in payload if p not in owned and (crm_id, p) in edits]:
                del payload[prop]
                report.preserved_manual_edits += 1
        if domain:
            payload[COMPANY_KEY] = domain
        final_payloads.append(payload)
        hashes.append(payload_hash(payload))
    return frame.with_columns(
        pl.Series("payload", final_payloads, pl.Object), pl.Series("hash", hashes, pl.String)
    )


def sync_contacts(
    scored: pl.DataFrame,
    merges: pl.DataFrame,
    mapping: CrmMapping,
    client: CrmClient,
    engine: Engine,
    *,
    run_id: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str], None] = lambda _m: None,
    after_batch: Callable[[int], None] | None = None,
) -> SyncReport:
    mode = mapping.contacts.mode
    report = SyncReport(backend=client.backend, mode=mode)
    client.check_properties("contacts", set(mapping.contacts.properties))
    if mapping.companies is not None:
        client.check_properties("companies", set(mapping.companies.properties))
    apply_merges(merges, client, engine, run_id, report)
    plan = _plan(scored, mapping, engine, client.backend, report)
    live = pl.col("status").is_null() | (pl.col("status") == "synced")
    plan = plan.filter(live)
    is_new = pl.col("properties_hash").is_null()
    changed = ~is_new & (pl.col("properties_hash") != pl.col("hash"))
    report.new = plan.filter(is_new).height
    report.changed = plan.filter(changed).height
    report.unchanged = plan.filter(~is_new & ~changed).height
    wanted = {"upsert": is_new | changed, "create_only": is_new, "update_only": changed}[mode]
    todo = plan.filter(wanted)
    report.skipped_by_mode = plan.filter((is_new | changed) & ~wanted).height
    # One contact per email: a second entity with the same address would overwrite the first.
    todo = todo.with_row_index("_row")
    first = pl.col("_row") == pl.col("_row").min().over("id_value")
    duplicate = todo.filter(~first)
    todo = todo.filter(first).drop("_row")
    if not duplicate.is_empty():
        with engine.begin() as conn:
            report.rejected += record_rejections(
                conn,
                client.backend,
                run_id,
                (
                    {
                        "entity_id": r["entity_id"],
                        "id_value": r["id_value"],
                        "category": "DUPLICATE_EMAIL",
                        "message": "another entity already syncs this email in this run",
                        "input": {k: v for k, v in r["payload"].items() if k != COMPANY_KEY},
                    }
                    for r in duplicate.iter_rows(named=True)
                ),
            )
        report.errors_by_category["DUPLICATE_EMAIL"] = duplicate.height
    if todo.is_empty():
        progress(f"nothing to send: {report.unchanged} unchanged, {report.skipped_by_mode} skipped")
        return report

    known_companies = company_ids(engine, client.backend)
    wanted_companies: dict[str, dict[str, str]] = {}
    for domain, company in todo.select("domain", "company_payload").iter_rows():
        if domain and domain not in known_companies and domain not in wanted_companies:
            wanted_companies[domain] = dict(company or {})
    for start in range(0, len(wanted_companies), batch_size):
        chunk = dict(list(wanted_companies.items())[start : start + batch_size])
        ids = client.ensure_companies(chunk)
        record_companies(
            engine, client.backend, ids, {d: p.get("name", "") for d, p in chunk.items()}
        )
        known_companies.update(ids)
        report.companies += len(ids)

    total = todo.height
    progress(
        f"{client.backend}: sending {total} contacts ({report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged) in batches of {batch_size}"
    )
    rows = todo.select("entity_id", "id_value", "crm_id", "payload", "hash", "domain").rows()
    for number, start in enumerate(range(0, total, batch_size), start=1):
        batch = rows[start : start + batch_size]
        result = _send(client, mode, batch)
        report.batches += 1
        report.sent += len(batch)
        report.created += len(result.created)
        synced, associations = [], []
        by_email = {r[1]: r for r in batch}
        for email, crm_id in result.ids.items():
            row = by_email.get(email)
            if row is None:
                continue
            entity_id, _, _, payload, digest, domain = row
            synced.append(LedgerRow(entity_id, email, crm_id, payload, digest))
            if domain and domain in known_companies:
                associations.append(Association(email, crm_id, domain, known_companies[domain]))
        if associations:
            client.associate(associations)
            report.associations += len(associations)
        rejected_rows = []
        for error in result.errors:
            row = by_email.get(error.key)
            rejected_rows.append(
                {
                    "entity_id": row[0] if row else None,
                    "id_value": error.key,
                    "category": error.category,
                    "message": error.message,
                    "input": {k: v for k, v in row[3].items() if k != COMPANY_KEY} if row else {},
                }
            )
            report.errors_by_category[error.category] = (
                report.errors_by_category.get(error.category, 0) + 1
            )
        with engine.begin() as conn:
            record_synced(conn, client.backend, synced, run_id)
            report.rejected += record_rejections(conn, client.backend, run_id, rejected_rows)
        progress(
            f"batch {number}/{-(-total // batch_size)}: {len(synced)} synced, "
            f"{len(rejected_rows)} rejected"
        )
        if after_batch is not None:
            after_batch(number)
    return report


def _send(client: CrmClient, mode: str, batch: list[tuple]) -> BatchResult:
    def body(payload: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in payload.items() if k != COMPANY_KEY}

    if mode == "update_only":
        return client.update_contacts(
            [
                (_ref(crm_id, entity_id), email, body(p))
                for entity_id, email, crm_id, p, _, _ in batch
            ]
        )
    inputs = [(email, body(p)) for _, email, _, p, _, _ in batch]
    if mode == "create_only":
        return client.create_contacts(inputs)
    return client.upsert_contacts(inputs)
