"""Every monitoring email (alerts, digests, admin notices) with its delivery status.

`status` is the email ledger's (sent, suppressed, failed, in doubt, ...); `delivery` adds
what came back through `/webhooks/email-events`: a bounce or complaint for the message (by
its Message-ID, else for the address after the message was sent) makes it `bounced` or
`complained`; a sent message with neither is `delivered`.
"""

from __future__ import annotations

import json
from datetime import UTC

import polars as pl
from sqlalchemy import Engine, select

from pipeline.monitoring.notify import PURPOSES
from pipeline.store.tables import email_messages as m
from pipeline.store.tables import webhook_inbox as w

EMAIL_LOG_SCHEMA = {
    "email_id": pl.Int64,
    "purpose": pl.String,
    "kind": pl.String,
    "user_email": pl.String,
    "subject": pl.String,
    "ref": pl.String,
    "status": pl.String,
    "delivery": pl.String,
    "backend": pl.String,
    "provider_id": pl.String,
    "message_id": pl.String,
    "error": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    "sent_at": pl.Datetime("us", "UTC"),
    "event_at": pl.Datetime("us", "UTC"),
}


def _utc(value):  # type: ignore[no-untyped-def]
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def email_logs(engine: Engine) -> pl.DataFrame:
    with engine.connect() as conn:
        messages = conn.execute(
            select(
                m.c.id,
                m.c.purpose,
                m.c.to_email,
                m.c.subject,
                m.c.ref,
                m.c.status,
                m.c.backend,
                m.c.provider_id,
                m.c.message_id,
                m.c.error,
                m.c.created_at,
                m.c.sent_at,
            )
            .where(m.c.purpose.in_(PURPOSES))
            .order_by(m.c.id)
        ).all()
        events = conn.execute(
            select(w.c.event_type, w.c.object_id, w.c.occurred_at, w.c.payload).where(
                w.c.source == "email",
                w.c.event_type.in_(["email.bounce", "email.complaint"]),
            )
        ).all()
    by_message: dict[str, tuple[str, object]] = {}
    by_address: dict[str, list[tuple[str, object]]] = {}
    for event_type, address, occurred, payload in events:
        kind = "bounced" if event_type == "email.bounce" else "complained"
        try:
            message_id = json.loads(payload).get("message_id")
        except (ValueError, AttributeError):
            message_id = None
        occurred = _utc(occurred)
        if message_id:
            by_message[message_id] = (kind, occurred)
        if address:
            by_address.setdefault(address.lower(), []).append((kind, occurred))
    rows = []
    for r in messages:
        sent_at = _utc(r.sent_at)
        found = by_message.get(r.message_id)
        if found is None and sent_at is not None:
            later = [
                e for e in by_address.get(r.to_email, []) if e[1] is not None and e[1] >= sent_at
            ]
            found = min(later, key=lambda e: e[1]) if later else None
        delivery = (
            found[0] if found is not None else "delivered" if r.status == "sent" else "not sent"
        )
        rows.append(
            {
                "email_id": r.id,
                "purpose": r.purpose,
                "kind": r.purpose.removeprefix("monitoring_"),
                "user_email": r.to_email,
                "subject": r.subject,
                "ref": r.ref,
                "status": r.status,
                "delivery": delivery,
                "backend": r.backend,
                "provider_id": r.provider_id,
                "message_id": r.message_id,
                "error": r.error,
                "created_at": _utc(r.created_at),
                "sent_at": sent_at,
                "event_at": found[1] if found is not None else None,
            }
        )
    return (
        pl.DataFrame(rows, schema=EMAIL_LOG_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=EMAIL_LOG_SCHEMA)
    )
