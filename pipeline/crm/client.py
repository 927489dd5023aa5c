"""The CRM interface the sync talks to, and the outbox backend that really works offline.

Batches travel as polars frames whose `payload` column holds each record's properties as
canonical JSON (see `pipeline.crm.mapping`). `OutboxCrm` appends every planned create, update,
association and merge to `crm_outbox` in the operational store, once (a unique constraint on
operation, object and payload hash), one set-based statement per batch: the outbox has no
batch limit of its own, so its batches are large (`batch_limit`). The HubSpot backend
(`pipeline.crm.hubspot`) implements the same interface on the official client, 100 records
per call.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Connection, Engine

from pipeline.crm.enumerations import Option
from pipeline.crm.mapping import json_object, sha256
from pipeline.store.sql import dialect_insert, execute_many, utcnow
from pipeline.store.tables import crm_outbox

# Columns of the frames the batch methods take.
CONTACT_COLUMNS = ("id_value", "payload")  # + crm_ref for updates
COMPANY_COLUMNS = ("domain", "payload")
ASSOCIATION_COLUMNS = ("id_value", "contact_id", "domain", "company_id")
OUTBOX_BATCH = 100_000  # rows per outbox statement: memory stays bounded, progress shows


def contact_batch(batch: pl.DataFrame | Sequence[tuple]) -> pl.DataFrame:
    """The frame the contact batch methods work on. Callers outside the sync may pass lists
    instead: (email, properties) for upserts and creates, (CRM id, email, properties) for
    updates (outreach's opt-out updates do)."""
    if isinstance(batch, pl.DataFrame):
        return batch
    rows = list(batch)
    schema = {"id_value": pl.String, "payload": pl.String}
    if rows and len(rows[0]) == 3:
        schema = {"crm_ref": pl.String, **schema}
    return pl.DataFrame(
        [
            (
                *row[:-1],
                json.dumps(row[-1], sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            )
            for row in rows
        ],
        schema=schema,
        orient="row",
    )


@dataclass(frozen=True)
class RecordError:
    """One record the CRM refused: its id value (or input position), category and message."""

    key: str
    category: str
    message: str


@dataclass
class BatchResult:
    ids: dict[str, str | None] = field(default_factory=dict)  # id value -> CRM id
    created: set[str] = field(default_factory=set)
    errors: list[RecordError] = field(default_factory=list)

    def add(self, other: BatchResult) -> BatchResult:
        self.ids.update(other.ids)
        self.created |= other.created
        self.errors += other.errors
        return self


@dataclass(frozen=True)
class CrmTask:
    """A task for the contact's owner (an outreach sequence's `crm_task` step)."""

    key: str  # stable per task: a re-run plans the same key
    email: str
    contact_id: str | None
    subject: str
    body: str


class CrmClient(ABC):
    backend: str
    batch_limit: int  # records per create/update/upsert/company call
    association_limit: int  # pairs per association call

    @abstractmethod
    def describe(self) -> str:
        """One line for the run log (never a token)."""

    @abstractmethod
    def check_properties(self, object_type: str, names: set[str]) -> dict[str, list[Option]]:
        """Raise MappingError naming any property the CRM does not have; return the options
        of those that are enumerations (empty when the backend does not know them)."""

    @abstractmethod
    def upsert_contacts(self, batch: pl.DataFrame) -> BatchResult:
        """batch: id_value (email), payload."""

    @abstractmethod
    def create_contacts(self, batch: pl.DataFrame) -> BatchResult:
        """batch: id_value (email), payload."""

    @abstractmethod
    def update_contacts(self, batch: pl.DataFrame) -> BatchResult:
        """batch: crm_ref (the CRM id), id_value, payload."""

    @abstractmethod
    def ensure_companies(self, companies: pl.DataFrame) -> BatchResult:
        """companies: domain, payload. Find each company by domain, create it when missing;
        the result's ids are domain -> CRM id, its errors keyed by domain."""

    @abstractmethod
    def associate(self, pairs: pl.DataFrame) -> BatchResult:
        """pairs: id_value, contact_id, domain, company_id. The result's ids are the
        acknowledged id values (-> company id), its errors keyed by id value."""

    @abstractmethod
    def merge_contacts(self, primary_id: str, merged_id: str) -> str:
        """Merge `merged_id` into `primary_id`; returns the surviving id."""

    @contextmanager
    def transaction(self) -> Iterator[Connection | None]:
        """A backend that writes to the operational store itself (the outbox) makes its
        writes inside this block one transaction, and yields its connection so the caller's
        ledger rows commit with them; a remote CRM yields None."""
        yield None

    def create_tasks(self, tasks: list[CrmTask]) -> None:
        """Create follow-up tasks on contacts (only the outbox backend does, so far)."""
        raise NotImplementedError(f"the {self.backend} CRM backend cannot create tasks yet")

    def close(self) -> None:
        return None


class OutboxCrm(CrmClient):
    backend = "outbox"
    batch_limit = OUTBOX_BATCH
    association_limit = OUTBOX_BATCH

    def __init__(self, engine: Engine, run_id: str | None = None) -> None:
        self._engine = engine
        self._run_id = run_id
        self._conn: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection | None]:
        if self._conn is not None:  # already inside one
            yield self._conn
            return
        with self._engine.begin() as conn:
            self._conn = conn
            try:
                yield conn
            finally:
                self._conn = None

    def describe(self) -> str:
        return "CRM outbox (crm_outbox table in the operational store; nothing leaves this machine)"

    def check_properties(self, object_type: str, names: set[str]) -> dict[str, list[Option]]:
        return {}  # any property is fine in the outbox; HubSpot checks its own list

    def _append(self, operation: str, object_type: str, rows: pl.DataFrame) -> int:
        """rows: object_key, payload (JSON text); one statement, one transaction."""
        if rows.is_empty():
            return 0
        # In index order: SQLite inserts into the unique index's B-tree page by page instead
        # of at random (a quarter less CPU at 165,000 rows).
        values = rows.sort("object_key").select(
            pl.lit(self._run_id, pl.String).alias("run_id"),
            pl.lit(operation).alias("operation"),
            pl.lit(object_type).alias("object_type"),
            "object_key",
            "payload",
            sha256(pl.col("payload")).alias("payload_sha256"),
        )
        stmt = dialect_insert(self._engine, crm_outbox).on_conflict_do_nothing(
            index_elements=["operation", "object_type", "object_key", "payload_sha256"]
        )
        with self.transaction() as conn:
            assert conn is not None
            return max(execute_many(conn, stmt, values, {"created_at": utcnow()}), 0)

    def _contacts(self, operation: str, batch: pl.DataFrame) -> BatchResult:
        batch = contact_batch(batch)
        self._append(
            operation, "contact", batch.select(pl.col("id_value").alias("object_key"), "payload")
        )
        return BatchResult(ids=dict.fromkeys(batch["id_value"].to_list(), None))

    def upsert_contacts(self, batch: pl.DataFrame) -> BatchResult:
        return self._contacts("upsert", batch)

    def create_contacts(self, batch: pl.DataFrame) -> BatchResult:
        return self._contacts("create", batch)

    def update_contacts(self, batch: pl.DataFrame) -> BatchResult:
        batch = contact_batch(batch)
        self._append(
            "update", "contact", batch.select(pl.col("id_value").alias("object_key"), "payload")
        )
        return BatchResult(ids=dict(batch.select("id_value", "crm_ref").iter_rows()))

    def ensure_companies(self, companies: pl.DataFrame) -> BatchResult:
        self._append(
            "upsert", "company", companies.select(pl.col("domain").alias("object_key"), "payload")
        )
        return BatchResult(ids=dict.fromkeys(companies["domain"].to_list(), None))

    def associate(self, pairs: pl.DataFrame) -> BatchResult:
        rows = pairs.select(
            pl.concat_str("id_value", pl.lit("->"), "domain").alias("object_key"),
            pl.col("domain").alias("company"),
            pl.col("id_value").alias("contact"),
        ).select("object_key", json_object(["company", "contact"]).alias("payload"))
        self._append("associate", "contact_company", rows)
        return BatchResult(ids=dict(pairs.select("id_value", "company_id").iter_rows()))

    def create_tasks(self, tasks: list[CrmTask]) -> None:
        rows = pl.DataFrame(
            {
                "object_key": [t.key for t in tasks],
                "contact": [t.email for t in tasks],
                "subject": [t.subject for t in tasks],
                "body": [t.body for t in tasks],
            },
            schema=dict.fromkeys(("object_key", "contact", "subject", "body"), pl.String),
        )
        self._append(
            "create",
            "task",
            rows.select("object_key", json_object(["body", "contact", "subject"]).alias("payload")),
        )

    def merge_contacts(self, primary_id: str, merged_id: str) -> str:
        row = pl.DataFrame(
            {
                "object_key": [f"{merged_id}->{primary_id}"],
                "merged": [merged_id],
                "primary": [primary_id],
            }
        )
        self._append(
            "merge",
            "contact",
            row.select("object_key", json_object(["merged", "primary"]).alias("payload")),
        )
        return primary_id
