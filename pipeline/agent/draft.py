"""Step 6, the draft: through the email interface, always a draft (`intent="draft"`): this
flow never sends. The idempotency key is the submission's, so a re-delivered webhook or a
re-run finds the draft it made. A person reviews it in the owner's mailbox (or the outbox)
and sends it, or not."""

from __future__ import annotations

from typing import Any

from pipeline.email.mailer import Mailer, Outcome
from pipeline.email.message import OutgoingEmail, new_message_id

PURPOSE = "agent"


class DraftNotMade(RuntimeError):
    """The mailer did not draft the message; `final` when retrying cannot help."""

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def draft_key(submission_id: str) -> str:
    return f"agent:{submission_id}"


def make_draft(
    mailer: Mailer,
    submission_id: str,
    *,
    from_header: str,
    to: str,
    message: dict[str, Any],
) -> dict[str, Any]:
    # A crash between the provider and the record left the row `sending`: settle it first.
    mailer.reconcile(purpose=PURPOSE)
    email = OutgoingEmail(
        from_header=from_header,
        to=to,
        subject=message["subject"],
        text=message["body"],
        message_id=new_message_id(from_header),
        headers={"X-Leads-Agent-Submission": submission_id},
    )
    outcome: Outcome = mailer.send_now(
        email, key=draft_key(submission_id), purpose=PURPOSE, intent="draft"
    )
    if outcome.status == "skipped" and outcome.error == "already drafted":
        from sqlalchemy import select

        from pipeline.store.tables import email_messages

        with mailer.engine.connect() as conn:
            row = conn.execute(
                select(email_messages).where(email_messages.c.id == outcome.row_id)
            ).one()
        return _result(row.id, row.provider_id, row.message_id, to, row.subject, message)
    if outcome.status == "suppressed":
        raise DraftNotMade(f"{to} is on the suppression list: no draft is made", final=True)
    if outcome.status != "drafted":
        raise DraftNotMade(f"the draft was not made ({outcome.status}: {outcome.error})")
    return _result(
        outcome.row_id, outcome.provider_id, email.message_id, to, email.subject, message
    )


def _result(
    row_id: int, provider_id: str | None, message_id: str, to: str, subject: str, message: dict
) -> dict[str, Any]:
    return {
        "email_message_id": row_id,
        "provider_id": provider_id,
        "message_id": message_id,
        "to": to,
        "subject": subject,
        "writer": message.get("writer"),
    }
