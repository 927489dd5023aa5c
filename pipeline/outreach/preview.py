"""What the sequences would send and when, in words (`make demo` prints it)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from pipeline.email.mailer import utc
from pipeline.store.tables import email_messages, outreach_enrolments


def plan_text(engine: Engine, mode: str, limit: int = 8) -> str:
    t, m = outreach_enrolments, email_messages
    with engine.connect() as conn:
        states = dict(conn.execute(select(t.c.state, func.count()).group_by(t.c.state)).all())
        drafted = conn.execute(
            select(m.c.to_email, m.c.subject, m.c.sent_at, m.c.status)
            .where(m.c.purpose == "outreach")
            .order_by(m.c.id)
            .limit(limit)
        ).all()
        upcoming = conn.execute(
            select(t.c.email, t.c.sequence, t.c.step, t.c.next_due_at, t.c.timezone, t.c.reason)
            .where(t.c.next_due_at.is_not(None))
            .order_by(t.c.next_due_at, t.c.id)
            .limit(limit)
        ).all()
        total_msgs = conn.execute(
            select(func.count()).where(m.c.purpose == "outreach")
        ).scalar_one()
    lines = [
        f"Outreach ({mode}: nothing is sent)" if mode == "draft_only" else f"Outreach ({mode})",
        "-" * 30,
        "Enrolments:        "
        + (", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"),
    ]
    if drafted:
        lines.append(f"Drafted this tick ({total_msgs} in the outbox):")
        for to, subject, at, status in drafted:
            when = f"{utc(at):%a %Y-%m-%d %H:%M} UTC" if at else status
            lines.append(f"  - {to}: {subject!r} ({status} {when})")
    if upcoming:
        lines.append("Next steps due (recipient's local time):")
        for email, sequence, step, due, zone, reason in upcoming:
            local = utc(due).astimezone(ZoneInfo(zone))
            lines.append(
                f"  - {local:%a %Y-%m-%d %H:%M} {zone}: step {step + 1} of {sequence} to "
                f"{email} ({reason})"
            )
    lines.append(
        "Drafts are in the operational store's email_outbox; `python -m pipeline outreach "
        "status` and `... outreach approvals` show more."
    )
    return "\n".join(lines)
