"""The outbox backend: whole messages in the operational store; nothing leaves the machine.

Also where the SMTP backend keeps its drafts (SMTP has no drafts folder)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from pipeline.email.backend import EmailBackend, ProviderResult
from pipeline.email.message import OutgoingEmail, to_mime
from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import email_outbox


def store_message(engine: Engine, email: OutgoingEmail, kind: str) -> ProviderResult:
    """Insert once per Message-ID; a second call finds the first row."""
    row = {
        "message_id": email.message_id,
        "kind": kind,
        "mailbox": email.mailbox,
        "to_email": email.to,
        "subject": email.subject,
        "raw": to_mime(email).as_string(),
        "created_at": utcnow(),
    }
    statement = dialect_insert(engine, email_outbox).on_conflict_do_nothing(
        index_elements=["message_id"]
    )
    with engine.begin() as conn:
        conn.execute(statement, row)
        outbox_id = conn.execute(
            select(email_outbox.c.id).where(email_outbox.c.message_id == email.message_id)
        ).scalar_one()
    return ProviderResult(provider_id=f"outbox:{outbox_id}")


def stored_message(engine: Engine, message_id: str, kind: str | None = None) -> int | None:
    query = select(email_outbox.c.id).where(email_outbox.c.message_id == message_id)
    if kind is not None:
        query = query.where(email_outbox.c.kind == kind)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


class OutboxBackend(EmailBackend):
    name = "outbox"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> str:
        return "email outbox (email_outbox table in the operational store; nothing leaves here)"

    def draft(self, email: OutgoingEmail) -> ProviderResult:
        return store_message(self._engine, email, "draft")

    def send(self, email: OutgoingEmail) -> ProviderResult:
        return store_message(self._engine, email, "sent")

    def find(self, email: OutgoingEmail, intent: str) -> ProviderResult | None:
        found = stored_message(self._engine, email.message_id)
        return None if found is None else ProviderResult(provider_id=f"outbox:{found}")
