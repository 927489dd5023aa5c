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
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, select

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
class Association:
    """One contact-company link, as single-record callers (the prospecting agent) pass it."""

    email: str
    contact_id: str | None
    domain: str
    company_id: str | None


def association_batch(pairs: pl.DataFrame | Sequence[Association]) -> pl.DataFrame:
    """The frame `associate` works on (id_value, contact_id, domain, company_id)."""
    if isinstance(pairs, pl.DataFrame):
        return pairs
    return pl.DataFrame(
        [(p.email, p.contact_id, p.domain, p.company_id) for p in pairs],
        schema=dict.fromkeys(ASSOCIATION_COLUMNS, pl.String),
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


@dataclass(frozen=True)
class CrmRecord:
    """One contact, company or task as the CRM holds it (the prospecting agent's lookups)."""

    object_type: str  # contact | company | task
    id: str
    properties: dict[str, str | None] = field(default_factory=dict)
    created: bool = False  # made by this call


@dataclass(frozen=True)
class FollowUpTask:
    """A follow-up task for a person (the owner), linked to a contact; `key` is stable per
    task so a re-run finds it instead of making a second one."""

    key: str
    contact_id: str
    email: str
    subject: str
    body: str
    due_at: datetime
    owner_email: str
    owner_id: str | None = None
    priority: str = "MEDIUM"


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

    # --- single-record lookups and writes (the prospecting agent) ---------------------------
    # Not abstract: a backend without them says so when they are used.
    def _lacks(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"the {self.backend} CRM backend cannot {what}")

    def find_contact(self, email: str) -> CrmRecord | None:
        """The contact with this email, or None."""
        raise self._lacks("look contacts up")

    def find_company(self, domain: str) -> CrmRecord | None:
        """The company with this domain, or None."""
        raise self._lacks("look companies up")

    def create_contact(self, email: str, properties: dict[str, str]) -> CrmRecord:
        """Create the contact (an existing one with the email is returned instead)."""
        raise self._lacks("create contacts one by one")

    def create_company(self, domain: str, properties: dict[str, str]) -> CrmRecord:
        raise self._lacks("create companies one by one")

    def owner_id(self, email: str) -> str | None:
        """The CRM user (owner) with this email, or None."""
        return None

    def current_contact_ids(self, ids: list[str]) -> dict[str, str | None]:
        """Each contact id -> the record it is now: itself, the record it was merged into,
        or None (deleted). How a merge that happened just before a crash is found."""
        raise self._lacks("look contact ids up")

    def find_task(self, task: FollowUpTask) -> str | None:
        """The id of this task if it was created before (by its key), or None."""
        raise self._lacks("look tasks up")

    def create_task(self, task: FollowUpTask) -> str:
        """Create one task for the owner, linked to the contact; returns its id."""
        raise self._lacks("create tasks")


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

    def _append(
        self, operation: str, object_type: str, rows: pl.DataFrame | list[tuple[str, Any]]
    ) -> int:
        """rows: object_key, payload (JSON text), or a list of (key, payload dict); one
        statement, one transaction."""
        if isinstance(rows, list):
            rows = pl.DataFrame(
                [
                    (key, json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
                    for key, p in rows
                ],
                schema={"object_key": pl.String, "payload": pl.String},
                orient="row",
            )
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
        pairs = association_batch(pairs)
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

    # --- single-record lookups and writes (the prospecting agent) ---------------------------
    # An outbox record's id is its first planned row's ("outbox:<crm_outbox.id>"); its
    # properties are every planned payload for the key, later ones winning.
    def _planned(self, object_type: str, key: str, operations: tuple[str, ...]) -> CrmRecord | None:
        t = crm_outbox
        query = (
            select(t.c.id, t.c.payload)
            .where(
                t.c.object_type == object_type,
                t.c.object_key == key,
                t.c.operation.in_(operations),
            )
            .order_by(t.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        properties: dict[str, str | None] = {}
        for row in rows:
            payload = json.loads(row.payload)
            if isinstance(payload, dict):
                properties.update({k: None if v is None else str(v) for k, v in payload.items()})
        return CrmRecord(object_type, f"outbox:{rows[0].id}", properties)

    def find_contact(self, email: str) -> CrmRecord | None:
        return self._planned("contact", email.lower(), ("upsert", "create"))

    def find_company(self, domain: str) -> CrmRecord | None:
        return self._planned("company", domain.lower(), ("upsert", "create"))

    def create_contact(self, email: str, properties: dict[str, str]) -> CrmRecord:
        email = email.lower()
        found = self.find_contact(email)
        if found is not None:
            return found
        self._append("create", "contact", [(email, {**properties, "email": email})])
        made = self.find_contact(email)
        assert made is not None
        return CrmRecord("contact", made.id, made.properties, created=True)

    def create_company(self, domain: str, properties: dict[str, str]) -> CrmRecord:
        domain = domain.lower()
        found = self.find_company(domain)
        if found is not None:
            return found
        self._append("create", "company", [(domain, {**properties, "domain": domain})])
        made = self.find_company(domain)
        assert made is not None
        return CrmRecord("company", made.id, made.properties, created=True)

    def owner_id(self, email: str) -> str | None:
        return email.lower()  # the outbox names owners by email

    def current_contact_ids(self, ids: list[str]) -> dict[str, str | None]:
        """Ids followed through the merges planned in the outbox (merged -> primary)."""
        t = crm_outbox
        query = select(t.c.payload).where(t.c.operation == "merge", t.c.object_type == "contact")
        with self._engine.connect() as conn:
            into = {}
            for (payload,) in conn.execute(query):
                pair = json.loads(payload)
                into[str(pair["merged"])] = str(pair["primary"])
        out: dict[str, str | None] = {}
        for contact_id in ids:
            current, seen = contact_id, set()
            while current in into and current not in seen:
                seen.add(current)
                current = into[current]
            out[contact_id] = current
        return out

    def find_task(self, task: FollowUpTask) -> str | None:
        found = self._planned("task", task.key, ("create",))
        return found.id if found else None

    def create_task(self, task: FollowUpTask) -> str:
        found = self.find_task(task)
        if found is not None:
            return found
        payload = {
            "contact": task.email,
            "contact_id": task.contact_id,
            "subject": task.subject,
            "body": task.body,
            "owner": task.owner_id or task.owner_email,
            "due_at": task.due_at.isoformat(),
            "priority": task.priority,
        }
        self._append("create", "task", [(task.key, payload)])
        made = self.find_task(task)
        assert made is not None
        return made
