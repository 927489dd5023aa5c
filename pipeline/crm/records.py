"""The CRM's own records (`crm_records`): contacts and companies as the CRM holds them, kept
up to date from what each read returns.

One row per record and object type. A read (`RecordsRead`) brings the records it saw, live or
archived; `apply_read` folds it into the previous snapshot:

- a record read again replaces its row; `changed_at` moves only when a value the dedupe
  matches on changed (a new owner or lifecycle stage is not a new person), so the dedupe
  re-resolves only for those;
- records listed in a live record's `merged_ids` (HubSpot's `hs_merged_object_ids`) are
  `merged` into it (a stub row when the id was never read: ids the sync may still hold);
- after a read of every record of a type (`full`), rows of that type it did not see are
  `deleted` (gone without an archive entry: purged, or deleted in an export's portal);
- the cursor of the next incremental read is the latest `modified_at` read per type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

CONTACT, COMPANY = "contact", "company"
STATUSES = ("live", "archived", "merged", "deleted")

# What a read returns per record (HubSpot's properties already mapped to these columns).
READ_SCHEMA: dict[str, pl.DataType] = {
    "object_type": pl.String(),
    "crm_id": pl.String(),
    "archived": pl.Boolean(),
    "email": pl.String(),
    "additional_emails": pl.List(pl.String()),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "phone": pl.String(),
    "mobile_phone": pl.String(),
    "company": pl.String(),
    "domain": pl.String(),
    "website": pl.String(),
    "job_title": pl.String(),
    "country": pl.String(),
    "city": pl.String(),
    "owner_id": pl.String(),
    "lifecycle_stage": pl.String(),
    "associated_company_id": pl.String(),
    "merged_ids": pl.List(pl.String()),
    "created_at": pl.Datetime("us"),
    "modified_at": pl.Datetime("us"),
    "archived_at": pl.Datetime("us"),
    # Every property as the CRM returned it (JSON object of strings), for the sync to tell
    # the values a person keeps in the CRM from the ones the pipeline wrote.
    "properties": pl.String(),
    # Where it was read: "hubspot", or "export:<file name>".
    "source": pl.String(),
}

RECORDS_SCHEMA: dict[str, pl.DataType] = {
    **{k: v for k, v in READ_SCHEMA.items() if k != "archived"},
    "status": pl.String(),
    "merged_into": pl.String(),
    "read_at": pl.Datetime("us"),
    # When a value the dedupe matches on last changed (first read, or a new name, address...).
    "changed_at": pl.Datetime("us"),
}

# Values whose change makes the record a different input to the dedupe.
MATCHED_VALUES = (
    "email",
    "additional_emails",
    "first_name",
    "last_name",
    "phone",
    "mobile_phone",
    "company",
    "domain",
    "website",
    "job_title",
    "country",
    "city",
    "associated_company_id",
)

# HubSpot property -> crm_records column, per object type.
CONTACT_PROPERTIES = {
    "email": "email",
    "hs_additional_emails": "additional_emails",
    "firstname": "first_name",
    "lastname": "last_name",
    "phone": "phone",
    "mobilephone": "mobile_phone",
    "company": "company",
    "website": "website",
    "jobtitle": "job_title",
    "country": "country",
    "city": "city",
    "hubspot_owner_id": "owner_id",
    "lifecyclestage": "lifecycle_stage",
    "associatedcompanyid": "associated_company_id",
    "hs_merged_object_ids": "merged_ids",
    "createdate": "created_at",
    "lastmodifieddate": "modified_at",
    "hs_object_id": "crm_id",
}
COMPANY_PROPERTIES = {
    "name": "company",
    "domain": "domain",
    "website": "website",
    "country": "country",
    "city": "city",
    "hubspot_owner_id": "owner_id",
    "lifecyclestage": "lifecycle_stage",
    "hs_merged_object_ids": "merged_ids",
    "createdate": "created_at",
    "hs_lastmodifieddate": "modified_at",
    "hs_object_id": "crm_id",
}
PROPERTIES = {CONTACT: CONTACT_PROPERTIES, COMPANY: COMPANY_PROPERTIES}
MODIFIED_PROPERTY = {CONTACT: "lastmodifieddate", COMPANY: "hs_lastmodifieddate"}
LIST_SEPARATOR = ";"  # HubSpot's multi-value separator (additional emails, merged ids)


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORDS_SCHEMA)


def empty_read() -> pl.DataFrame:
    return pl.DataFrame(schema=READ_SCHEMA)


@dataclass
class RecordsRead:
    """What one read of the CRM returned."""

    records: pl.DataFrame  # READ_SCHEMA
    full: frozenset[str] = frozenset()  # object types read whole (live and archived)
    requests: int = 0
    mode: dict[str, str] = field(default_factory=dict)  # object type -> full | incremental
    rejected: list[dict] = field(default_factory=list)  # rows that could not be read
    notes: list[str] = field(default_factory=list)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    parts = [p.strip() for p in str(value).split(LIST_SEPARATOR) if p.strip()]
    return parts or None


def parse_timestamp(value: object) -> datetime | None:
    """HubSpot's timestamps: ISO 8601 (`2026-10-01T09:14:00.123Z`) or epoch milliseconds;
    naive UTC, as the warehouse keeps them."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        from datetime import UTC

        return datetime.fromtimestamp(int(text) / 1000, UTC).replace(tzinfo=None)
    from dateutil import parser

    parsed = parser.isoparse(text) if "T" in text else parser.parse(text)
    if parsed.tzinfo is not None:
        from datetime import UTC

        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def records_from_api(object_type: str, results: Iterable[dict], source: str) -> pl.DataFrame:
    """READ_SCHEMA rows from HubSpot's records (SimplePublicObject JSON: id, properties,
    createdAt, updatedAt, archived, archivedAt)."""
    mapping = PROPERTIES[object_type]
    rows = []
    for record in results:
        props = {k: v for k, v in (record.get("properties") or {}).items() if v not in (None, "")}
        row: dict = {column: props.get(name) for name, column in mapping.items()}
        row["crm_id"] = str(record.get("id") or props.get("hs_object_id"))
        row["created_at"] = parse_timestamp(props.get("createdate") or record.get("createdAt"))
        modified = props.get(MODIFIED_PROPERTY[object_type]) or record.get("updatedAt")
        row["modified_at"] = parse_timestamp(modified)
        row["archived"] = bool(record.get("archived"))
        row["archived_at"] = parse_timestamp(record.get("archivedAt"))
        row["merged_ids"] = _split(row.get("merged_ids"))
        row["additional_emails"] = _split(row.get("additional_emails"))
        row["object_type"] = object_type
        row["source"] = source
        row["properties"] = json.dumps(props, sort_keys=True, ensure_ascii=False)
        rows.append(row)
    return pl.DataFrame(rows, schema=READ_SCHEMA) if rows else empty_read()


def _values_hash() -> pl.Expr:
    return pl.struct(
        [
            pl.col(c).list.join(LIST_SEPARATOR) if c in ("additional_emails",) else pl.col(c)
            for c in MATCHED_VALUES
        ]
    ).hash(seed=11)


def _with_merges(records: pl.DataFrame) -> pl.DataFrame:
    """Rows named in a live record's merged_ids -> merged into it (stubs for ids never
    read); chains (A into B, B into C) resolved to the live end."""
    merged = (
        records.filter((pl.col("status") == "live") & pl.col("merged_ids").is_not_null())
        .select("object_type", pl.col("crm_id").alias("into"), "merged_ids", "modified_at")
        .explode("merged_ids")
        .rename({"merged_ids": "crm_id"})
        .filter(pl.col("crm_id") != pl.col("into"))
        # An id named by two live records (merged twice): the most recent merge holds it.
        .sort("modified_at", descending=True, nulls_last=True)
        .unique(["object_type", "crm_id"], keep="first")
        .drop("modified_at")
    )
    if merged.is_empty():
        return records
    stubs = merged.join(records, on=["object_type", "crm_id"], how="anti").select(
        "object_type", "crm_id"
    )
    out = pl.concat([records, stubs], how="diagonal_relaxed")
    out = (
        out.join(merged, on=["object_type", "crm_id"], how="left")
        .with_columns(
            # Also a row read live under its old id before the merge: HubSpot listing it in
            # the survivor's merged ids is the later fact.
            pl.when(pl.col("into").is_not_null())
            .then(pl.lit("merged"))
            .otherwise(pl.col("status"))
            .alias("status"),
            pl.coalesce("into", "merged_into").alias("merged_into"),
        )
        .drop("into")
    )
    return resolve_chains(out)


def resolve_chains(records: pl.DataFrame) -> pl.DataFrame:
    """merged_into pointing at the record that is live at the end of the chain."""
    for _ in range(8):
        hop = records.select(
            "object_type",
            pl.col("crm_id").alias("merged_into"),
            pl.col("merged_into").alias("_next"),
        ).filter(pl.col("_next").is_not_null())
        joined = records.join(hop, on=["object_type", "merged_into"], how="left")
        if joined["_next"].null_count() == joined.height:
            return records
        records = joined.with_columns(pl.coalesce("_next", "merged_into").alias("merged_into"))
        records = records.drop("_next")
    return records


def apply_read(previous: pl.DataFrame | None, read: RecordsRead, now: datetime) -> pl.DataFrame:
    """The snapshot after `read` (see the module docstring)."""
    before = previous if previous is not None else empty_records()
    before = before.select(list(RECORDS_SCHEMA)).cast(RECORDS_SCHEMA)  # type: ignore[arg-type]
    fresh = (
        read.records.sort("modified_at", nulls_last=True)
        .unique(["object_type", "crm_id"], keep="last", maintain_order=True)
        .with_columns(
            pl.when(pl.col("archived")).then(pl.lit("archived")).otherwise(pl.lit("live"))
            .alias("status"),
            pl.lit(None, pl.String).alias("merged_into"),
            pl.lit(now, pl.Datetime("us")).alias("read_at"),
        )
        .drop("archived")
    )  # fmt: skip
    old_hash = before.select(
        "object_type", "crm_id", _values_hash().alias("_old"), pl.col("changed_at").alias("_was")
    )
    fresh = (
        fresh.with_columns(_values_hash().alias("_new"))
        .join(old_hash, on=["object_type", "crm_id"], how="left")
        .with_columns(
            pl.when(pl.col("_old").is_not_null() & (pl.col("_old") == pl.col("_new")))
            .then(pl.col("_was"))
            .otherwise(pl.lit(now, pl.Datetime("us")))
            .alias("changed_at")
        )
        .drop("_new", "_old", "_was")
    )
    kept = before.join(
        fresh.select("object_type", "crm_id"), on=["object_type", "crm_id"], how="anti"
    )
    if read.full:
        gone = pl.col("object_type").is_in(list(read.full)) & pl.col("status").is_in(
            ["live", "archived"]
        )
        kept = kept.with_columns(
            pl.when(gone).then(pl.lit("deleted")).otherwise(pl.col("status")).alias("status"),
            pl.when(gone)
            .then(pl.lit(now, pl.Datetime("us")))
            .otherwise(pl.col("read_at"))
            .alias("read_at"),
        )
    records = pl.concat([kept, fresh.select(list(RECORDS_SCHEMA))], how="vertical_relaxed")
    records = _with_merges(records)
    return (
        records.select(list(RECORDS_SCHEMA))
        .cast(RECORDS_SCHEMA)
        .sort(  # type: ignore[arg-type]
            ["object_type", pl.col("crm_id").str.len_chars(), "crm_id"]
        )
    )


def cursors(records: pl.DataFrame | None) -> dict[str, datetime | None]:
    """Per object type, the latest modification read (None: never read)."""
    out: dict[str, datetime | None] = {CONTACT: None, COMPANY: None}
    if records is None or records.is_empty():
        return out
    latest = (
        records.filter(pl.col("modified_at").is_not_null())
        .group_by("object_type")
        .agg(pl.col("modified_at").max())
    )
    out.update(dict(latest.iter_rows()))
    return out


def last_full_read(records: pl.DataFrame | None, object_type: str) -> datetime | None:
    """When every record of the type was last read: the oldest `read_at` of its rows (a full
    read stamps them all; an incremental one only those it saw)."""
    if records is None or records.is_empty():
        return None
    rows = records.filter(pl.col("object_type") == object_type)
    return rows["read_at"].min() if rows.height else None  # type: ignore[return-value]


def current_ids(records: pl.DataFrame | None) -> pl.DataFrame:
    """crm_id -> current_id (itself when live or archived, the survivor when merged, null
    when deleted), for contacts."""
    schema = {"crm_id": pl.String, "current_id": pl.String, "status": pl.String}
    if records is None or records.is_empty():
        return pl.DataFrame(schema=schema)
    contacts = records.filter(pl.col("object_type") == CONTACT)
    return contacts.select(
        "crm_id",
        pl.when(pl.col("status") == "merged")
        .then(pl.col("merged_into"))
        .when(pl.col("status") == "deleted")
        .then(None)
        .otherwise(pl.col("crm_id"))
        .alias("current_id"),
        "status",
    )


def summary(records: pl.DataFrame) -> dict[str, dict[str, int]]:
    """object type -> status -> rows."""
    out: dict[str, dict[str, int]] = {}
    for object_type, status, n in records.group_by("object_type", "status").len().iter_rows():
        out.setdefault(object_type, {})[status] = int(n)
    return out
