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
from typing import Any

from sqlalchemy import Engine

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
