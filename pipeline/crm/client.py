"""The CRM interface the sync talks to, and the outbox backend that really works offline.

`OutboxCrm` appends every planned create, update, association and merge to `crm_outbox` in
the operational store, once (a unique constraint on operation, object and payload), so a user
sees exactly what would happen in HubSpot without an account. The HubSpot backend
(`pipeline.crm.hubspot`) implements the same interface on the official client.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from pipeline.store.sql import dialect_insert, sha256_hex, utcnow
from pipeline.store.tables import crm_outbox


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


@dataclass(frozen=True)
class Association:
    email: str
    contact_id: str | None
    domain: str
    company_id: str | None


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

    @abstractmethod
    def describe(self) -> str:
        """One line for the run log (never a token)."""

    @abstractmethod
    def check_properties(self, object_type: str, names: set[str]) -> None:
        """Raise MappingError naming any property the CRM does not have."""

    @abstractmethod
    def upsert_contacts(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult: ...

    @abstractmethod
    def create_contacts(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult: ...

    @abstractmethod
    def update_contacts(self, inputs: list[tuple[str, str, dict[str, str]]]) -> BatchResult:
        """inputs: (CRM id, email, properties)."""

    @abstractmethod
    def ensure_companies(self, companies: dict[str, dict[str, str]]) -> dict[str, str | None]:
        """Find each company by domain, create it when missing; domain -> CRM id."""

    @abstractmethod
    def associate(self, pairs: list[Association]) -> None: ...

    @abstractmethod
    def merge_contacts(self, primary_id: str, merged_id: str) -> str:
        """Merge `merged_id` into `primary_id`; returns the surviving id."""

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

    def find_task(self, task: FollowUpTask) -> str | None:
        """The id of this task if it was created before (by its key), or None."""
        raise self._lacks("look tasks up")

    def create_task(self, task: FollowUpTask) -> str:
        """Create one task for the owner, linked to the contact; returns its id."""
        raise self._lacks("create tasks")


class OutboxCrm(CrmClient):
    backend = "outbox"

    def __init__(self, engine: Engine, run_id: str | None = None) -> None:
        self._engine = engine
        self._run_id = run_id

    def describe(self) -> str:
        return "CRM outbox (crm_outbox table in the operational store; nothing leaves this machine)"

    def check_properties(self, object_type: str, names: set[str]) -> None:
        return None  # any property is fine in the outbox; HubSpot checks its own list

    def _append(self, operation: str, object_type: str, rows: list[tuple[str, Any]]) -> int:
        if not rows:
            return 0
        now = utcnow()
        values = []
        for key, payload in rows:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
            values.append(
                {
                    "run_id": self._run_id,
                    "operation": operation,
                    "object_type": object_type,
                    "object_key": key,
                    "payload": text,
                    "payload_sha256": sha256_hex(text),
                    "created_at": now,
                }
            )
        stmt = dialect_insert(self._engine, crm_outbox).on_conflict_do_nothing(
            index_elements=["operation", "object_type", "object_key", "payload_sha256"]
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt, values).rowcount or 0

    def upsert_contacts(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult:
        self._append("upsert", "contact", inputs)
        return BatchResult(ids=dict.fromkeys((email for email, _ in inputs), None))

    def create_contacts(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult:
        self._append("create", "contact", inputs)
        return BatchResult(ids=dict.fromkeys((email for email, _ in inputs), None))

    def update_contacts(self, inputs: list[tuple[str, str, dict[str, str]]]) -> BatchResult:
        self._append("update", "contact", [(email, props) for _, email, props in inputs])
        return BatchResult(ids={email: crm_id for crm_id, email, _ in inputs})

    def ensure_companies(self, companies: dict[str, dict[str, str]]) -> dict[str, str | None]:
        self._append("upsert", "company", list(companies.items()))
        return dict.fromkeys(companies, None)

    def associate(self, pairs: list[Association]) -> None:
        self._append(
            "associate",
            "contact_company",
            [(f"{p.email}->{p.domain}", {"contact": p.email, "company": p.domain}) for p in pairs],
        )

    def create_tasks(self, tasks: list[CrmTask]) -> None:
        self._append(
            "create",
            "task",
            [(t.key, {"contact": t.email, "subject": t.subject, "body": t.body}) for t in tasks],
        )

    def merge_contacts(self, primary_id: str, merged_id: str) -> str:
        self._append(
            "merge",
            "contact",
            [(f"{merged_id}->{primary_id}", {"primary": primary_id, "merged": merged_id})],
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
