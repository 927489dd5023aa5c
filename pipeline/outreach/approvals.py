"""The approval queue (EMAIL_SEND_MODE=approval) and messages whose delivery is in doubt.

A person lists what waits (recipient, step, rendered subject, why enrolled), approves
(sent at once if the recipient's window is open and the mailbox has room today, else when
it opens) or denies (the enrolment stops, or with `skip_step` moves on to its next step).
Every decision goes to the audit log with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from pipeline.email.mailer import utc
from pipeline.outreach.engine import Outreach, TickReport
from pipeline.outreach.states import transition
from pipeline.store import audit
from pipeline.store.tables import email_messages, outreach_enrolments


@dataclass(frozen=True)
class Waiting:
    id: int
    status: str  # awaiting_approval | in_doubt
    recipient: str
    sequence: str
    step: int
    subject: str
    reason: str
    due: datetime | None
    error: str | None


def waiting(outreach: Outreach) -> list[Waiting]:
    m, t = email_messages, outreach_enrolments
    with outreach.engine.connect() as conn:
        messages = conn.execute(
            select(m)
            .where(m.c.purpose == "outreach", m.c.status.in_(("awaiting_approval", "in_doubt")))
            .order_by(m.c.not_before, m.c.id)
        ).all()
        ids = [int(r.ref.split(":")[1]) for r in messages if r.ref]
        people = {r.id: r for r in outreach._enrolments(conn, ids, t)}
    out = []
    for r in messages:
        enrolment = people.get(int(r.ref.split(":")[1])) if r.ref else None
        out.append(
            Waiting(
                id=r.id,
                status=r.status,
                recipient=r.to_email,
                sequence=enrolment.sequence if enrolment else "?",
                step=int(r.idempotency_key.rsplit(":", 1)[1]) + 1,
                subject=r.subject,
                reason=enrolment.reason if enrolment else "",
                due=utc(r.not_before),
                error=r.error if r.status == "in_doubt" else None,
            )
        )
    return out


def approve(
    outreach: Outreach, ids: list[int] | None, by: str, *, all_due: bool = False
) -> tuple[list[int], TickReport]:
    """Approve the given messages (or every one whose time has come); then deliver what
    may go now."""
    now = outreach.clock.now()
    if all_due:
        ids = [w.id for w in waiting(outreach) if w.status == "awaiting_approval" and (
            w.due is None or w.due <= now)]  # fmt: skip
    with outreach.engine.begin() as conn:
        changed = outreach.mailer.decide(conn, ids or [], approve=True, by=by)
        for row_id in changed:
            audit.record(conn, actor=by, action="outreach.approve", subject=f"email {row_id}")
    report = TickReport(now, outreach.mode)
    if changed:
        with outreach.lease():
            outreach.deliver_approved(report)
    return changed, report


def deny(
    outreach: Outreach, ids: list[int], by: str, *, skip_step: bool = False, reason: str = ""
) -> list[int]:
    now = outreach.clock.now()
    m, t = email_messages, outreach_enrolments
    with outreach.engine.begin() as conn:
        changed = outreach.mailer.decide(conn, ids, approve=False, by=by)
        for row_id in changed:
            ref = conn.execute(select(m.c.ref).where(m.c.id == row_id)).scalar()
            audit.record(
                conn,
                actor=by,
                action="outreach.deny",
                subject=f"email {row_id}",
                details={"skip_step": skip_step, "reason": reason or None},
            )
            if not ref:
                continue
            row = conn.execute(select(t).where(t.c.id == int(ref.split(":")[1]))).one()
            if skip_step:
                outreach._advance(
                    conn, row, now, cause=f"step {row.step + 1} skipped (denied)", intent="skip"
                )
            else:
                transition(
                    conn,
                    [(row.id, row.state)],
                    "stopped",
                    cause="denied",
                    actor=by,
                    at=now,
                    step=row.step,
                    details={"reason": reason} if reason else None,
                    values={"next_due_at": None},
                )
    return changed
