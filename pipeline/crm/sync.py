"""Diff-based, idempotent sync of golden, scored leads to the CRM.

Order of work: merges recorded by the dedupe core first (so survivors are consolidated: both
records merged in the CRM, or a survivor never synced adopting the merged entity's record),
then the companies the contacts need, then the contacts in batches (the backend's size: 100
for HubSpot, tens of thousands for the outbox), each batch's ledger rows committed in one
set-based statement as soon as the CRM acknowledged it. Associations are collected across
contact batches and sent in the backend's larger association batches; each acknowledged one
is recorded in the ledger (`associated_domain`), so a run killed halfway and re-run resends at
most the batches in flight (upserts by email make that harmless) and sends exactly the
associations still missing; an unchanged re-run sends nothing at all.

Planning is vectorized: payloads, their canonical JSON and SHA-256, the diff against the
ledger, manual edits and enumeration mapping are polars expressions over the whole frame.

With the CRM read as a source (`contacts`: the CRM contacts each entity holds, see
`pipeline.crm.matches`), an entity holding exactly one live contact updates that contact by
id (never creates another; the values a person keeps there are left alone: any value the
contact holds that the pipeline did not write, and its email); one holding two or more waits
for a person's merge decision; one whose contacts were all deleted in the CRM is not
recreated; one holding none is created (an upsert by email, safe if the read lags).

Every write to the CRM goes through `_send`, one call per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import polars as pl
from sqlalchemy import Connection, Engine

from pipeline.crm.client import BatchResult, CrmClient
from pipeline.crm.enumerations import EnumerationMatches, Option, match_options
from pipeline.crm.ledger import (
    adopt,
    company_ids,
    load_ledger,
    manual_edits,
    mark_merged,
    record_associated,
    record_companies,
    record_rejections,
    record_synced,
    set_crm_id,
)
from pipeline.crm.mapping import (
    CrmMapping,
    PropertyMap,
    json_object,
    property_frame,
    sha256,
    with_member,
)
from pipeline.store import audit
from pipeline.store.pause import check_not_paused

BATCH_SIZE = 100  # HubSpot's limit for batch endpoints (the outbox's batches are larger)
COMPANY_KEY = "__company"
_ASSOCIATED = {"entity_id": pl.String, "domain": pl.String}
T = TypeVar("T")


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
    merges_for_review: int = 0  # both records read from the CRM: a merge proposal's business
    adopted: int = 0
    updated_existing: int = 0  # entities holding one CRM contact, updated by id
    held_for_merge: int = 0  # entities holding two or more, waiting for a merge decision
    deleted_in_crm: int = 0  # entities whose CRM contacts were deleted there: not recreated
    preserved_crm_values: int = 0  # values a person keeps in the CRM, not overwritten
    companies: int = 0
    companies_rejected: int = 0
    associations: int = 0
    associations_rejected: int = 0
    batches: int = 0
    association_batches: int = 0
    preserved_manual_edits: int = 0
    errors_by_category: dict[str, int] = field(default_factory=dict)
    # Per mapped enumeration ("companies.industry"): rows per method, unmapped values.
    enumerations: dict[str, dict[str, int]] = field(default_factory=dict)
    unmapped: dict[str, dict[str, int]] = field(default_factory=dict)
    enumeration_matches: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def rejected_rate(self) -> float:
        return self.rejected / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if k != "enumeration_matches"}
        data["rejected_rate"] = round(self.rejected_rate, 4)
        return data

    def count_errors(self, categories: list[str]) -> None:
        for category in categories:
            self.errors_by_category[category] = self.errors_by_category.get(category, 0) + 1


def _send(
    engine: Engine,
    kind: str,
    size: int,
    call: Callable[[], T],
    shared: Connection | None = None,
) -> T:
    """The one place every CRM write passes, once per batch (`kind`: upsert, create, update,
    companies, associate, merge; `size`: its inputs). The kill switch is read here, so a
    run in flight stops before its next write when side effects are paused. `shared`: the
    outbox's open transaction on this same store, which the flag is read through (a second
    SQLite connection would wait for the write lock that transaction holds)."""
    same_store = shared is not None and shared.engine is engine
    check_not_paused(
        shared if same_store and shared is not None else engine, f"CRM {kind} batch of {size}"
    )
    return call()


def merge_sender(engine: Engine) -> Callable[[Callable[[], str]], str]:
    """`_send` for one merge call at a time (approved merge proposals)."""
    return lambda call: _send(engine, "merge", 1, call)


def _ref(crm_id: str | None, entity_id: str) -> str:
    return crm_id or f"entity:{entity_id}"


def _audit(conn: Connection, action: str, subject: str, run_id: str | None, pair: dict) -> None:
    audit.record(
        conn,
        actor="crm_sync",
        action=action,
        subject=subject,
        run_id=run_id,
        details={"entity": pair["entity_id"], "merged_entity": pair["other_entity_id"]},
    )


def apply_merges(
    merges: pl.DataFrame,
    client: CrmClient,
    engine: Engine,
    run_id: str | None,
    report: SyncReport,
    read_ids: frozenset[str] = frozenset(),
) -> None:
    """Merge the CRM records of entities the dedupe core merged when both were synced; when
    only the merged one was, the survivor adopts its record. Two records both read from
    the CRM (`read_ids`) are a merge proposal's, merged only once a person approves."""
    if merges.is_empty():
        return
    ledger = load_ledger(engine, client.backend)
    synced = ledger.filter(pl.col("status") == "synced").drop("status")
    other = synced.rename(lambda c: f"other_{c}" if c != "entity_id" else "other_entity_id")
    pairs = (
        merges.filter(pl.col("event") == "merge")
        .select("entity_id", "other_entity_id")
        .unique(maintain_order=True)
        .filter(pl.col("entity_id") != pl.col("other_entity_id"))
        .join(other, on="other_entity_id", how="inner")
    )
    both = pairs.join(synced, on="entity_id", how="inner")
    for row in both.iter_rows(named=True):
        primary = _ref(row["crm_id"], row["entity_id"])
        merged = _ref(row["other_crm_id"], row["other_entity_id"])
        if primary == merged:
            continue
        if primary in read_ids and merged in read_ids:
            report.merges_for_review += 1
            continue
        survivor = _send(
            engine, "merge", 1, lambda p=primary, m=merged: client.merge_contacts(p, m)
        )
        with engine.begin() as conn:
            mark_merged(conn, client.backend, row["other_entity_id"], row["entity_id"], run_id)
            if row["crm_id"] is not None and survivor != row["crm_id"]:
                # HubSpot gives the merged record a new id; the survivor's ledger row follows.
                set_crm_id(conn, client.backend, row["entity_id"], survivor)
            _audit(conn, f"{client.backend}.merge_contacts", f"{merged} -> {survivor}", run_id, row)
        report.merges += 1
    # A survivor with no ledger row at all (never synced) takes over the merged record.
    orphans = pairs.join(ledger.select("entity_id"), on="entity_id", how="anti").unique(
        "other_entity_id", keep="first", maintain_order=True
    )
    orphans = orphans.unique("entity_id", keep="first", maintain_order=True)
    if orphans.is_empty():
        return
    with engine.begin() as conn:
        for row in orphans.iter_rows(named=True):
            ref = _ref(row["other_crm_id"], row["other_entity_id"])
            adopt(conn, client.backend, row["entity_id"], row["other_entity_id"], ref, run_id)
            _audit(
                conn, f"{client.backend}.adopt_contact", f"{row['entity_id']} -> {ref}", run_id, row
            )
            report.adopted += 1


def _default_options(values: list[str]) -> list[Option]:
    return [Option(v, v.replace("_", " ").title()) for v in values]


def _mapped_properties(
    frame: pl.DataFrame,
    properties: dict[str, PropertyMap],
    what: str,
    mapping: CrmMapping,
    portal_options: dict[str, list[Option]],
    report: SyncReport,
) -> pl.DataFrame:
    """The property columns, with enumeration properties mapped onto their options."""
    props = property_frame(frame, properties, what)
    for name, prop in properties.items():
        if prop.options is None:
            continue
        enumeration = mapping.enumerations[prop.options]
        options = portal_options.get(name) or _default_options(enumeration.options)
        mapped, matches = match_options(props[name], enumeration, options)
        props = props.with_columns(mapped.alias(name))
        _report_enumeration(report, f"{what}.{name}", matches)
    return props


def _report_enumeration(report: SyncReport, key: str, matches: EnumerationMatches) -> None:
    report.enumerations[key] = matches.counts()
    report.unmapped[key] = matches.unmapped()
    report.enumeration_matches[key] = matches.matches


def _without_manual_edits(
    props: pl.DataFrame, crm_ids: pl.Series, edits: set[tuple[str, str]], owned: frozenset[str]
) -> tuple[pl.DataFrame, int]:
    """Properties a person edited in the CRM (and the pipeline does not own) left out."""
    preserved = 0
    for name in props.columns:
        if name in owned:
            continue
        edited = [crm_id for crm_id, prop in edits if prop == name]
        if not edited:
            continue
        hit = crm_ids.is_in(edited).fill_null(False) & props[name].is_not_null()
        preserved += int(hit.sum())
        props = props.with_columns(pl.when(hit).then(None).otherwise(pl.col(name)).alias(name))
    return props, preserved


def _without_crm_values(
    props: pl.DataFrame,
    frame: pl.DataFrame,
    written: pl.Series,
    owned: frozenset[str],
    id_property: str,
) -> tuple[pl.DataFrame, int]:
    """For entities holding one CRM contact: the values the contact holds that the pipeline
    did not write (`written`: the ledger's last payload) left out, unless the mapping owns
    the property; its email always (the contact is updated by id)."""
    matched = frame["matched_id"].is_not_null()
    if not matched.any():
        return props, 0
    theirs_json = frame["crm_properties"]
    preserved = 0
    for name in props.columns:
        if name in owned and name != id_property:
            continue
        theirs = theirs_json.str.json_path_match(f"$.{name}")
        held = matched & theirs.is_not_null() & (theirs != "") & props[name].is_not_null()
        if name != id_property:
            wrote = written.str.json_path_match(f"$.{name}")
            held = held & (wrote.is_null() | (wrote != theirs))
        held = held.fill_null(False)
        hits = int(held.sum())
        if hits:
            preserved += hits
            props = props.with_columns(pl.when(held).then(None).otherwise(pl.col(name)).alias(name))
    return props, preserved


def _written(engine: Engine, backend: str, entity_ids: pl.Series) -> pl.Series:
    """The properties last written per entity (canonical JSON; null: none), aligned."""
    from sqlalchemy import select

    from pipeline.store.tables import crm_sync_ledger as t

    wanted = entity_ids.drop_nulls().unique().to_list()
    rows: list[tuple[str, str]] = []
    with engine.connect() as conn:
        for start in range(0, len(wanted), 10_000):
            chunk = wanted[start : start + 10_000]
            rows += conn.execute(
                select(t.c.entity_id, t.c.properties).where(
                    t.c.backend == backend, t.c.entity_id.in_(chunk)
                )
            ).all()
    found = pl.DataFrame(rows, schema={"entity_id": pl.String, "written": pl.String}, orient="row")
    return entity_ids.to_frame("entity_id").join(
        found, on="entity_id", how="left", maintain_order="left"
    )["written"]


_CONTACT_COLUMNS = {
    "matched_id": pl.String,
    "live": pl.UInt32,
    "archived": pl.UInt32,
    "crm_properties": pl.String,
}


def _plan(
    scored: pl.DataFrame,
    mapping: CrmMapping,
    engine: Engine,
    backend: str,
    options: dict[str, dict[str, list[Option]]],
    report: SyncReport,
    contacts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per entity: email, payload (canonical JSON), ledger properties and hash, company, the
    ledger's state, and the CRM contacts it holds (`matched_id` when exactly one live)."""
    contact_props = _mapped_properties(
        scored, mapping.contacts.properties, "contacts", mapping, options["contacts"], report
    )
    id_prop = mapping.contacts.id_property
    frame = pl.DataFrame(
        {
            "entity_id": scored["entity_id"].cast(pl.String),
            "id_value": contact_props[id_prop].str.to_lowercase(),
        }
    )
    if mapping.companies is not None:
        company_props = _mapped_properties(
            scored,
            mapping.companies.properties,
            "companies",
            mapping,
            options["companies"],
            report,
        )
        domains = company_props[mapping.companies.key].str.to_lowercase()
        if "is_free_email" in scored.columns:
            free = scored["is_free_email"].fill_null(False)
            domains = pl.select(pl.when(~free).then(domains)).to_series()
        company_json = company_props.select(json_object(company_props.columns)).to_series()
        frame = frame.with_columns(domains.alias("domain"), company_json.alias("company_payload"))
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias("domain"),
            pl.lit(None, pl.String).alias("company_payload"),
        )
    report.considered = frame.height
    report.no_email = frame["id_value"].null_count()
    ledger = load_ledger(engine, backend).rename({"id_value": "ledger_id_value"})
    frame = frame.with_row_index("_row").join(ledger, on="entity_id", how="left")
    if contacts is not None and not contacts.is_empty():
        frame = frame.join(
            contacts.select("entity_id", *_CONTACT_COLUMNS), on="entity_id", how="left"
        )
    else:
        frame = frame.with_columns(pl.lit(None, t).alias(c) for c, t in _CONTACT_COLUMNS.items())
    # The contact an entity holds is the one it updates, whatever the ledger remembers.
    frame = frame.sort("_row").with_columns(pl.coalesce("matched_id", "crm_id").alias("crm_id"))
    # Manual edits and payloads are computed on the property columns aligned with `frame`.
    props = contact_props.with_columns(frame["domain"].alias(COMPANY_KEY))
    edits = manual_edits(engine)
    if edits:
        contact_only, preserved = _without_manual_edits(
            props.drop(COMPANY_KEY), frame["crm_id"], edits, mapping.owned()
        )
        props = contact_only.with_columns(props[COMPANY_KEY])
        report.preserved_manual_edits = preserved
    if frame["matched_id"].is_not_null().any():
        contact_only, kept = _without_crm_values(
            props.drop(COMPANY_KEY),
            frame,
            _written(engine, backend, frame["entity_id"]),
            mapping.owned(),
            id_prop,
        )
        props = contact_only.with_columns(props[COMPANY_KEY])
        report.preserved_crm_values = kept
    columns = [c for c in props.columns if c != COMPANY_KEY]
    encoded = (
        props.select(json_object(columns).alias("payload"), pl.col(COMPANY_KEY))
        .select(
            "payload",
            with_member(pl.col("payload"), COMPANY_KEY, pl.col(COMPANY_KEY)).alias("properties"),
        )
        .with_columns(sha256(pl.col("properties")).alias("hash"))
    )
    frame = frame.with_columns(encoded)
    return frame.filter(pl.col("id_value").is_not_null()).drop("_row")


def _rejection_rows(frame: pl.DataFrame, category: str, message: str) -> list[dict]:
    return [
        {
            "entity_id": entity_id,
            "id_value": id_value,
            "category": category,
            "message": message,
            "input": payload,
        }
        for entity_id, id_value, payload in frame.select(
            "entity_id", "id_value", "payload"
        ).iter_rows()
    ]


def _errors_frame(result: BatchResult) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id_value": [e.key for e in result.errors],
            "category": [e.category for e in result.errors],
            "message": [e.message for e in result.errors],
        },
        schema={"id_value": pl.String, "category": pl.String, "message": pl.String},
    )


def _ids_frame(ids: dict[str, str | None], key: str, value: str) -> pl.DataFrame:
    return pl.DataFrame(
        {key: list(ids), value: list(ids.values())}, schema={key: pl.String, value: pl.String}
    )


class _Associations:
    """Contact-company associations, sent in the backend's association batches; each
    acknowledged one is recorded in the ledger (`associated_domain`).

    When one contact batch can fill an association batch (the outbox), a batch's
    associations go out with it and are recorded in the same ledger statement as its
    contacts. Otherwise (HubSpot: 100 contacts, 2,000 associations per call) they are
    collected across contact batches, and each association batch is recorded as it is
    acknowledged."""

    SCHEMA: ClassVar[dict[str, pl.DataType]] = {
        "entity_id": pl.String,
        "id_value": pl.String,
        "contact_id": pl.String,
        "domain": pl.String,
        "company_id": pl.String,
    }

    def __init__(
        self,
        client: CrmClient,
        engine: Engine,
        run_id: str | None,
        report: SyncReport,
        companies: pl.DataFrame,
        batch_size: int,
        progress: Callable[[str], None],
    ) -> None:
        self._client, self._engine, self._run_id = client, engine, run_id
        self._report, self._progress = report, progress
        self._companies = companies  # domain, company_id
        self._batch_size = batch_size
        self._pending = pl.DataFrame(schema=self.SCHEMA)
        self.with_contacts = client.batch_limit >= batch_size

    def _wanted(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Of acknowledged contacts (entity_id, id_value, crm_id, domain, associated_domain),
        those whose company is known and whose association is not yet acknowledged."""
        return (
            rows.filter(
                pl.col("domain").is_not_null()
                & (
                    pl.col("associated_domain").is_null()
                    | (pl.col("associated_domain") != pl.col("domain"))
                )
            )
            .join(self._companies, on="domain", how="inner")
            .select(
                "entity_id",
                "id_value",
                pl.col("crm_id").alias("contact_id"),
                "domain",
                "company_id",
            )
            .cast(self.SCHEMA)  # type: ignore[arg-type]
        )

    def _deliver(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, list[dict]]:
        """Send one association batch: (acknowledged entity_id, domain), rejection rows."""
        # Inside the contact batch's outbox transaction when sent with it (re-entered here).
        with self._client.transaction() as shared:
            result = _send(
                self._engine,
                "associate",
                batch.height,
                lambda: self._client.associate(
                    batch.select("id_value", "contact_id", "domain", "company_id")
                ),
                shared,
            )
        done = batch.join(
            _ids_frame(result.ids, "id_value", "_ack"), on="id_value", how="semi"
        ).select("entity_id", "domain")
        failed = batch.join(_errors_frame(result), on="id_value", how="inner")
        rejected = [
            {
                "entity_id": r["entity_id"],
                "id_value": r["id_value"],
                "category": r["category"],
                "message": f"association with {r['domain']}: {r['message']}",
                "input": {"contact": r["contact_id"], "company": r["company_id"]},
            }
            for r in failed.iter_rows(named=True)
        ]
        self._report.associations += done.height
        self._report.associations_rejected += len(rejected)
        self._report.association_batches += 1
        self._report.count_errors(failed["category"].to_list())
        self._progress(f"associations: {done.height} acknowledged, {len(rejected)} rejected")
        return done, rejected

    def send_now(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[dict]]:
        """Send the associations of `rows` now; the caller records the result."""
        wanted = self._wanted(rows)
        done, rejected = [pl.DataFrame(schema={"entity_id": pl.String, "domain": pl.String})], []
        for start in range(0, wanted.height, self._batch_size):
            ok, bad = self._deliver(wanted.slice(start, self._batch_size))
            done.append(ok)
            rejected += bad
        return pl.concat(done), rejected

    def add(self, rows: pl.DataFrame) -> None:
        """Queue the associations of `rows`; send every full batch (recorded as it goes)."""
        self._pending = pl.concat([self._pending, self._wanted(rows)])
        while self._pending.height >= self._batch_size:
            self._flush_one()

    def flush(self) -> None:
        while not self._pending.is_empty():
            self._flush_one()

    def _flush_one(self) -> None:
        batch = self._pending.head(self._batch_size)
        self._pending = self._pending.slice(self._batch_size)
        done, rejected = self._deliver(batch)
        with self._engine.begin() as conn:
            record_associated(conn, self._client.backend, done)
            record_rejections(conn, self._client.backend, self._run_id, rejected)


def _ensure_companies(
    client: CrmClient,
    engine: Engine,
    run_id: str | None,
    needed: pl.DataFrame,
    report: SyncReport,
    batch_size: int,
) -> pl.DataFrame:
    """The companies `needed` (domain, company_payload) found or created; every known
    company as (domain, company_id)."""
    known = company_ids(engine, client.backend)
    missing = (
        needed.filter(pl.col("domain").is_not_null() & ~pl.col("domain").is_in(list(known)))
        .unique("domain", keep="first", maintain_order=True)
        .select("domain", pl.col("company_payload").alias("payload"))
    )
    for start in range(0, missing.height, batch_size):
        chunk = missing.slice(start, batch_size)
        with client.transaction() as shared:
            result = _send(
                engine,
                "companies",
                chunk.height,
                lambda c=chunk: client.ensure_companies(c),
                shared,
            )
            acked = chunk.join(
                _ids_frame(result.ids, "domain", "crm_id"), on="domain", how="inner"
            ).select(
                "domain",
                "crm_id",
                pl.col("payload").str.json_path_match("$.name").alias("name"),
            )
            failed = chunk.join(_errors_frame(result).rename({"id_value": "domain"}), on="domain")
            same_store = shared is not None and shared.engine is engine
            with nullcontext(shared) if same_store else engine.begin() as conn:
                record_companies(conn, client.backend, acked)
                report.companies_rejected += record_rejections(
                    conn,
                    client.backend,
                    run_id,
                    (
                        {
                            "id_value": domain,
                            "category": category,
                            "message": f"company {domain}: {message}",
                            "input": payload,
                        }
                        for domain, payload, category, message in failed.iter_rows()
                    ),
                )
        known.update(acked.select("domain", "crm_id").iter_rows())
        report.companies += acked.height
        report.count_errors(failed["category"].to_list())
    return _ids_frame(known, "domain", "company_id")


def sync_contacts(
    scored: pl.DataFrame,
    merges: pl.DataFrame,
    mapping: CrmMapping,
    client: CrmClient,
    engine: Engine,
    *,
    run_id: str | None = None,
    batch_size: int | None = None,
    association_batch_size: int | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    after_batch: Callable[[int], None] | None = None,
    contacts: pl.DataFrame | None = None,
) -> SyncReport:
    """`contacts`: the CRM contacts each entity holds (`pipeline.crm.matches.
    entity_contacts`), when the CRM is read as a source."""
    mode = mapping.contacts.mode
    report = SyncReport(backend=client.backend, mode=mode)
    options = {"contacts": client.check_properties("contacts", set(mapping.contacts.properties))}
    if mapping.companies is not None:
        options["companies"] = client.check_properties(
            "companies", set(mapping.companies.properties)
        )
    read_ids: frozenset[str] = frozenset()
    if contacts is not None and not contacts.is_empty():
        read_ids = frozenset(
            pl.concat([contacts["live_ids"].explode(), contacts["archived_ids"].explode()])
            .drop_nulls()
            .to_list()
        )
    apply_merges(merges, client, engine, run_id, report, read_ids)
    plan = _plan(scored, mapping, engine, client.backend, options, report, contacts)
    live = pl.col("status").is_null() | (pl.col("status") == "synced")
    plan = plan.filter(live)
    held = pl.col("live").fill_null(0) >= 2
    gone = (pl.col("live").fill_null(0) == 0) & (pl.col("archived").fill_null(0) > 0)
    report.held_for_merge = plan.filter(held).height
    report.deleted_in_crm = plan.filter(gone).height
    plan = plan.filter(~held & ~gone)
    matched = pl.col("matched_id").is_not_null()
    is_new = pl.col("properties_hash").is_null() & ~matched
    changed = ~is_new & (
        pl.col("properties_hash").is_null() | (pl.col("properties_hash") != pl.col("hash"))
    )
    counts = plan.select(
        is_new.sum().alias("new"),
        changed.sum().alias("changed"),
        (~is_new & ~changed).sum().alias("unchanged"),
    ).row(0)
    report.new, report.changed, report.unchanged = (int(n) for n in counts)
    wanted = {"upsert": is_new | changed, "create_only": is_new, "update_only": changed}[mode]
    todo = plan.filter(wanted)
    report.skipped_by_mode = plan.filter((is_new | changed) & ~wanted).height
    # One contact per email: a second entity with the same address would overwrite the first.
    first = pl.int_range(pl.len()).over("id_value") == 0
    duplicate = todo.filter(~first)
    todo = todo.filter(first)
    if not duplicate.is_empty():
        with engine.begin() as conn:
            report.rejected += record_rejections(
                conn,
                client.backend,
                run_id,
                _rejection_rows(
                    duplicate,
                    "DUPLICATE_EMAIL",
                    "another entity already syncs this email in this run",
                ),
            )
        report.errors_by_category["DUPLICATE_EMAIL"] = duplicate.height
    # Contacts synced earlier whose association was never acknowledged (a crash, a failure).
    unassociated = plan.filter(
        ~wanted
        & pl.col("properties_hash").is_not_null()
        & pl.col("domain").is_not_null()
        & (
            pl.col("associated_domain").is_null()
            | (pl.col("associated_domain") != pl.col("domain"))
        )
    )
    if todo.is_empty() and unassociated.is_empty():
        progress(f"nothing to send: {report.unchanged} unchanged, {report.skipped_by_mode} skipped")
        return report

    limit = min(batch_size or client.batch_limit, client.batch_limit)
    companies = _ensure_companies(
        client,
        engine,
        run_id,
        pl.concat([todo, unassociated]).select("domain", "company_payload"),
        report,
        limit,
    )
    associations = _Associations(
        client,
        engine,
        run_id,
        report,
        companies,
        min(association_batch_size or client.association_limit, client.association_limit),
        progress,
    )
    associations.add(unassociated)  # what earlier runs left, sent with this run's

    route = {
        "create_only": pl.lit("create"),
        "update_only": pl.lit("update"),
        # A record known by id whose email changed (or was adopted from a merged entity),
        # and the contact an entity holds in the CRM, are updated by id: an upsert by the
        # lead's email would create a second contact.
        "upsert": pl.when(
            matched
            | (pl.col("crm_id").is_not_null() & (pl.col("ledger_id_value") != pl.col("id_value")))
        )
        .then(pl.lit("update"))
        .otherwise(pl.lit("upsert")),
    }[mode]
    report.updated_existing = todo.filter(matched).height
    todo = todo.with_columns(
        route.alias("route"),
        pl.coalesce("crm_id", pl.concat_str(pl.lit("entity:"), "entity_id")).alias("crm_ref"),
    )
    total = todo.height
    batches = sum(
        -(-todo.filter(pl.col("route") == r).height // limit)
        for r in ("upsert", "create", "update")
    )
    progress(
        f"{client.backend}: sending {total} contacts ({report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged) in {batches} batches of up to {limit}"
    )
    number = 0
    for kind in ("upsert", "create", "update"):
        rows = todo.filter(pl.col("route") == kind)
        for start in range(0, rows.height, limit):
            batch = rows.slice(start, limit)
            # The outbox writes the batch, its associations and its ledger rows in one
            # transaction; for HubSpot the ledger commits once HubSpot acknowledged.
            with client.transaction() as shared:
                result = _send(
                    engine,
                    kind,
                    batch.height,
                    lambda k=kind, b=batch: _write_contacts(client, k, b),
                    shared,
                )
                number += 1
                report.batches += 1
                report.sent += batch.height
                report.created += len(result.created)
                acked = (
                    batch.join(
                        _ids_frame(result.ids, "id_value", "_ack"), on="id_value", how="inner"
                    )
                    .with_columns(pl.coalesce("_ack", "crm_id").alias("crm_id"))
                    .drop("_ack")
                )
                failed = _errors_frame(result).join(
                    batch.select("id_value", "entity_id", "payload"), on="id_value", how="left"
                )
                associated, association_rejections = pl.DataFrame(schema=_ASSOCIATED), []
                if associations.with_contacts:
                    associated, association_rejections = associations.send_now(acked)
                same_store = shared is not None and shared.engine is engine
                with nullcontext(shared) if same_store else engine.begin() as conn:
                    record_synced(
                        conn,
                        client.backend,
                        acked.join(
                            associated.rename({"domain": "acknowledged_domain"}),
                            on="entity_id",
                            how="left",
                        ).select(
                            "entity_id",
                            "id_value",
                            "crm_id",
                            "properties",
                            pl.col("hash").alias("properties_hash"),
                            pl.col("acknowledged_domain").alias("associated_domain"),
                        ),
                        run_id,
                    )
                    report.rejected += record_rejections(
                        conn,
                        client.backend,
                        run_id,
                        (
                            {
                                "entity_id": r["entity_id"],
                                "id_value": r["id_value"],
                                "category": r["category"],
                                "message": r["message"],
                                "input": r["payload"] or "{}",
                            }
                            for r in failed.iter_rows(named=True)
                        ),
                    )
                    record_rejections(conn, client.backend, run_id, association_rejections)
            report.count_errors(failed["category"].to_list())
            progress(f"batch {number}/{batches}: {acked.height} synced, {failed.height} rejected")
            if not associations.with_contacts:
                associations.add(acked)
            if after_batch is not None:
                after_batch(number)
    associations.flush()
    return report


def _write_contacts(client: CrmClient, kind: str, batch: pl.DataFrame) -> BatchResult:
    if kind == "update":
        return client.update_contacts(batch.select("crm_ref", "id_value", "payload"))
    contacts = batch.select("id_value", "payload")
    if kind == "create":
        return client.create_contacts(contacts)
    return client.upsert_contacts(contacts)
