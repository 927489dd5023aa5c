"""Reserve, send, record: every draft and every send exactly once, whoever asks.

A message becomes a row of `email_messages` (its idempotency key unique) before anything
else happens; its status then moves, each move a committed transaction:

    awaiting_approval -> approved -> sending -> sent | drafted
                                     sending -> approved (not taken; tried again later)
                                     sending -> failed | in_doubt
    awaiting_approval | approved | in_doubt -> denied | cancelled | suppressed

`sending` is written before the provider is called and replaced by the provider's id after
it answered. A process that dies in between leaves the row `sending`; `reconcile` asks the
backend whether it has that Message-ID (the outbox table, Gmail's `rfc822msgid:` search)
and records what it finds. A backend that cannot tell (plain SMTP) leaves the message
`in_doubt` for a person: never sent again blindly.

Before each draft and each send the kill switch is read (`check_not_paused`) and the
recipient is checked against the suppression list, in the transaction that marks it
`sending`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update

from pipeline.clock import Clock, SystemClock
from pipeline.email.backend import (
    CannotTell,
    DeliveryError,
    DeliveryInDoubt,
    EmailBackend,
    EmailConfigError,
    RecipientRefused,
)
from pipeline.email.message import OutgoingEmail
from pipeline.store.pause import check_not_paused
from pipeline.store.sql import dialect_insert
from pipeline.store.tables import email_messages, suppression_list

log = logging.getLogger("pipeline.email")

MAX_ATTEMPTS = 3  # a message the provider keeps refusing (not a bounce) is given up after this
DELIVERED = ("sent", "drafted")
OPEN = ("awaiting_approval", "approved", "in_doubt")


@dataclass(frozen=True)
class Outcome:
    row_id: int
    status: str  # sent, drafted, suppressed, held, retry, failed, bounced, in_doubt, skipped
    provider_id: str | None = None
    thread_id: str | None = None
    error: str | None = None


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands datetimes back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def email_of(row: Any) -> OutgoingEmail:
    return OutgoingEmail(
        from_header=row.from_header,
        to=row.to_email,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        message_id=row.message_id,
        in_reply_to=row.in_reply_to,
        thread_hint=row.provider_thread_hint,
        headers=json.loads(row.headers),
        date=utc(row.sent_at) or utc(row.updated_at),
    )


def is_suppressed(conn: Connection, address: str) -> bool:
    found = conn.execute(
        select(suppression_list.c.reason).where(suppression_list.c.email == address.lower())
    ).first()
    return found is not None


class Mailer:
    """The one way any domain drafts or sends (see the module docstring).

    `sending_allowed` is False in EMAIL_SEND_MODE=draft_only: a message meant to be sent is
    then held (never drafted instead, never sent) until a person turns sending on.
    `after_provider` is called between the provider's answer and the record; tests use it
    to crash there."""

    def __init__(
        self,
        engine: Engine,
        backend: EmailBackend,
        *,
        sending_allowed: bool,
        clock: Clock | None = None,
        stale_after: timedelta = timedelta(minutes=15),
        after_provider: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.sending_allowed = sending_allowed
        self.clock = clock or SystemClock()
        self.stale_after = stale_after
        self._after_provider = after_provider

    # --- reserve ---------------------------------------------------------------------------
    def reserve(
        self,
        conn: Connection,
        *,
        key: str,
        purpose: str,
        intent: str,
        email: OutgoingEmail,
        status: str,
        not_before: datetime | None = None,
        ref: str | None = None,
    ) -> int | None:
        """Insert the message under `key` in the caller's transaction; None if the key was
        reserved before (the step was already drafted, sent or planned)."""
        if intent not in ("draft", "send"):
            raise ValueError(f"intent must be draft or send, not {intent!r}")
        if status not in ("awaiting_approval", "approved"):
            raise ValueError(f"a new message is awaiting_approval or approved, not {status!r}")
        now = self.clock.now()
        statement = (
            dialect_insert(conn, email_messages)
            .values(
                idempotency_key=key,
                purpose=purpose,
                ref=ref,
                intent=intent,
                backend=self.backend.name,
                mailbox=email.mailbox,
                from_header=email.from_header,
                to_email=email.to.lower(),
                subject=email.subject,
                body_text=email.text,
                body_html=email.html,
                headers=json.dumps(email.headers, sort_keys=True),
                message_id=email.message_id,
                in_reply_to=email.in_reply_to,
                provider_thread_hint=email.thread_hint,
                status=status,
                not_before=not_before,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(email_messages.c.id)
        )
        return conn.execute(statement).scalar()

    # --- deliver ---------------------------------------------------------------------------
    def deliver(
        self, row_id: int, guard: Callable[[Connection, Any], str | None] | None = None
    ) -> Outcome:
        """Draft or send one approved message (the kill switch is read first). `guard`, run
        in the transaction that claims the message, may return a reason not to send it
        after all (the sequence stopped meanwhile): the message is then cancelled."""
        with self.engine.connect() as conn:
            row = conn.execute(select(email_messages).where(email_messages.c.id == row_id)).one()
        check_not_paused(self.engine, f"email {'drafts' if row.intent == 'draft' else 'sends'}")
        if row.status != "approved":
            return Outcome(row_id, "skipped", error=f"status is {row.status}")
        if row.intent == "send" and not self.sending_allowed:
            return Outcome(row_id, "held", error="sending is off (EMAIL_SEND_MODE=draft_only)")
        now = self.clock.now()
        with self.engine.begin() as conn:
            if is_suppressed(conn, row.to_email):
                conn.execute(
                    update(email_messages)
                    .where(email_messages.c.id == row_id, email_messages.c.status == "approved")
                    .values(status="suppressed", updated_at=now)
                )
                return Outcome(row_id, "suppressed")
            veto = guard(conn, row) if guard is not None else None
            if veto is not None:
                conn.execute(
                    update(email_messages)
                    .where(email_messages.c.id == row_id, email_messages.c.status == "approved")
                    .values(status="cancelled", error=veto[:2000], updated_at=now)
                )
                return Outcome(row_id, "cancelled", error=veto)
            claimed = conn.execute(
                update(email_messages)
                .where(email_messages.c.id == row_id, email_messages.c.status == "approved")
                .values(status="sending", updated_at=now, attempts=email_messages.c.attempts + 1)
            ).rowcount
        if not claimed:
            return Outcome(row_id, "skipped", error="taken by another process")
        email = email_of(row)
        if email.date is None or row.intent == "send":
            email = OutgoingEmail(**{**email.__dict__, "date": now})
        try:
            result = (
                self.backend.draft(email) if row.intent == "draft" else self.backend.send(email)
            )
        except RecipientRefused as exc:
            self._finish(row_id, "failed", error=str(exc))
            return Outcome(row_id, "bounced", error=str(exc))
        except DeliveryError as exc:
            status = "failed" if row.attempts + 1 >= MAX_ATTEMPTS else "approved"
            self._finish(row_id, status, error=str(exc))
            return Outcome(row_id, "failed" if status == "failed" else "retry", error=str(exc))
        except DeliveryInDoubt as exc:
            self._finish(row_id, "in_doubt", error=str(exc))
            return Outcome(row_id, "in_doubt", error=str(exc))
        except EmailConfigError as exc:
            self._finish(row_id, "approved", error=str(exc))
            raise
        if self._after_provider is not None:
            self._after_provider(row_id)
        status = "drafted" if row.intent == "draft" else "sent"
        self._finish(
            row_id,
            status,
            provider_id=result.provider_id,
            thread_id=result.thread_id,
            sent_at=now,
        )
        return Outcome(row_id, status, result.provider_id, result.thread_id)

    def _finish(self, row_id: int, status: str, **values: Any) -> None:
        fields = {"status": status, "updated_at": self.clock.now()}
        if "provider_id" in values:
            fields["provider_id"] = values["provider_id"]
            fields["provider_thread_id"] = values.get("thread_id")
            fields["sent_at"] = values.get("sent_at")
            fields["error"] = None
        if "error" in values:
            fields["error"] = (values["error"] or "")[:2000]
        with self.engine.begin() as conn:
            conn.execute(
                update(email_messages)
                .where(email_messages.c.id == row_id, email_messages.c.status == "sending")
                .values(**fields)
            )

    def send_now(
        self, email: OutgoingEmail, *, key: str, purpose: str, intent: str = "send"
    ) -> Outcome:
        """Reserve and deliver one message at once (a digest, an agent's draft). A key seen
        before returns what happened to it instead of sending again."""
        with self.engine.begin() as conn:
            row_id = self.reserve(
                conn, key=key, purpose=purpose, intent=intent, email=email, status="approved"
            )
            if row_id is None:
                row = conn.execute(
                    select(email_messages.c.id, email_messages.c.status).where(
                        email_messages.c.idempotency_key == key
                    )
                ).one()
                if row.status != "approved":
                    return Outcome(row.id, "skipped", error=f"already {row.status}")
                row_id = row.id
        return self.deliver(row_id)

    # --- crash recovery --------------------------------------------------------------------
    def reconcile(self, purpose: str | None = None) -> list[Outcome]:
        """Settle messages left `sending` by a process that stopped mid-delivery."""
        cutoff = self.clock.now() - self.stale_after
        query = select(email_messages).where(
            email_messages.c.status == "sending", email_messages.c.updated_at <= cutoff
        )
        if purpose is not None:
            query = query.where(email_messages.c.purpose == purpose)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        outcomes = []
        for row in rows:
            email = email_of(row)
            try:
                found = self.backend.find(email, row.intent)
            except CannotTell as exc:
                self._finish(row.id, "in_doubt", error=f"a run stopped mid-delivery; {exc}")
                outcomes.append(Outcome(row.id, "in_doubt", error=str(exc)))
                log.warning("email %s: delivery in doubt (%s)", row.id, exc)
                continue
            if found is None:
                self._finish(row.id, "approved", error="a run stopped before the provider took it")
                outcomes.append(Outcome(row.id, "retry"))
                continue
            status = "drafted" if row.intent == "draft" else "sent"
            self._finish(
                row.id,
                status,
                provider_id=found.provider_id,
                thread_id=found.thread_id,
                sent_at=utc(row.updated_at),
            )
            outcomes.append(Outcome(row.id, status, found.provider_id, found.thread_id))
            log.warning(
                "email %s: found at the provider after a crash (%s); recorded, not re-sent",
                row.id,
                found.provider_id,
            )
        return outcomes

    # --- decisions -------------------------------------------------------------------------
    def decide(self, conn: Connection, row_ids: list[int], *, approve: bool, by: str) -> list[int]:
        """Approve (awaiting or in doubt -> approved) or deny; returns the ids changed."""
        now = self.clock.now()
        target = "approved" if approve else "denied"
        changed = conn.execute(
            update(email_messages)
            .where(
                email_messages.c.id.in_(row_ids),
                email_messages.c.status.in_(("awaiting_approval", "in_doubt")),
            )
            .values(status=target, decided_by=by[:120], decided_at=now, updated_at=now)
            .returning(email_messages.c.id)
        )
        return [r for (r,) in changed]


def sent_counts(
    engine: Engine, mailboxes: list[str], start: datetime, end: datetime
) -> dict[str, int]:
    """Messages delivered (sent or drafted) per mailbox in [start, end)."""
    if not mailboxes:
        return {}
    m = email_messages
    query = (
        select(m.c.mailbox, func.count())
        .where(
            m.c.mailbox.in_(mailboxes),
            m.c.status.in_(DELIVERED),
            and_(m.c.sent_at >= start, m.c.sent_at < end),
        )
        .group_by(m.c.mailbox)
    )
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def last_sent(engine: Engine, mailboxes: list[str]) -> dict[str, datetime]:
    if not mailboxes:
        return {}
    m = email_messages
    query = (
        select(m.c.mailbox, func.max(m.c.sent_at))
        .where(m.c.mailbox.in_(mailboxes), m.c.status.in_(DELIVERED))
        .group_by(m.c.mailbox)
    )
    with engine.connect() as conn:
        return {mb: utc(at) for mb, at in conn.execute(query).all() if at is not None}
