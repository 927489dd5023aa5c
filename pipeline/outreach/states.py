"""Enrolment states and their transitions, each recorded with its cause.

    enrolled -> scheduled -> (due) -> sent -> ... -> completed
                             pending_approval -> sent | stopped (denied)
    any active state -> replied | bounced | unsubscribed | stopped | paused
    paused -> scheduled | sent (the mailbox resumed)

Other processes change enrolments too (the webhook receiver's unsubscribe, event
processing, approvals), so every change is a conditional UPDATE on the state it expects:
whoever comes second finds the state moved and does nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from pipeline.store.tables import email_messages, outreach_enrolments, outreach_transitions

ACTIVE = ("enrolled", "scheduled", "pending_approval", "sent", "paused")
RUNNING = ("scheduled", "sent")  # steps come due on their own
TERMINAL = ("replied", "bounced", "unsubscribed", "completed", "stopped")
STATES = ("enrolled", "scheduled", "pending_approval", "sent", *TERMINAL[:-1], "paused", "stopped")


def transition(
    conn: Connection,
    rows: Iterable[tuple[int, str]],
    to_state: str,
    *,
    cause: str,
    actor: str,
    at: datetime,
    step: int | None = None,
    details: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> list[int]:
    """Move each (id, expected state) to `to_state`; returns the ids that moved."""
    by_state: dict[str, list[int]] = defaultdict(list)
    for enrolment_id, state in rows:
        by_state[state].append(enrolment_id)
    moved: list[tuple[int, str]] = []
    t = outreach_enrolments
    for state, ids in by_state.items():
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            result = conn.execute(
                update(t)
                .where(t.c.id.in_(chunk), t.c.state == state)
                .values(state=to_state, updated_at=at, **(values or {}))
                .returning(t.c.id)
            )
            moved.extend((r, state) for (r,) in result)
    if moved:
        text = json.dumps(details, sort_keys=True, default=str) if details else None
        conn.execute(
            insert(outreach_transitions),
            [
                {
                    "enrolment_id": enrolment_id,
                    "at": at,
                    "from_state": state,
                    "to_state": to_state,
                    "step": step,
                    "cause": cause[:64],
                    "actor": actor[:120],
                    "details": text,
                }
                for enrolment_id, state in moved
            ],
        )
        if to_state in TERMINAL:
            cancel_open_messages(conn, [i for i, _ in moved], at)
    return [i for i, _ in moved]


def enrolment_ref(enrolment_id: int) -> str:
    return f"enrolment:{enrolment_id}"


def message_key(enrolment_id: int, step: int) -> str:
    """One message per enrolment and step, ever (the exactly-once key)."""
    return f"outreach:{enrolment_id}:{step}"


def cancel_open_messages(conn: Connection, enrolment_ids: list[int], at: datetime) -> None:
    """Messages of stopped enrolments that were waiting (approval, a send slot) never go."""
    refs = [enrolment_ref(i) for i in enrolment_ids]
    m = email_messages
    for start in range(0, len(refs), 900):
        conn.execute(
            update(m)
            .where(
                m.c.ref.in_(refs[start : start + 900]),
                m.c.status.in_(("awaiting_approval", "approved", "in_doubt")),
            )
            .values(status="cancelled", updated_at=at)
        )


def active_for(
    conn: Connection, *, emails: Iterable[str] = (), domains: Iterable[str] = ()
) -> list[Any]:
    t = outreach_enrolments
    emails, domains = [e.lower() for e in emails], [d.lower() for d in domains]
    found: list[Any] = []
    # In chunks: a tick may look up thousands of addresses (bound-parameter limits).
    for start in range(0, len(emails), 900):
        found += conn.execute(
            select(t).where(t.c.email.in_(emails[start : start + 900]), t.c.state.in_(ACTIVE))
        ).all()
    for start in range(0, len(domains), 900):
        found += conn.execute(
            select(t).where(
                t.c.domain.in_(domains[start : start + 900]),
                t.c.stop_on_domain_reply.is_(True),
                t.c.state.in_(ACTIVE),
            )
        ).all()
    unique = {r.id: r for r in found}
    return list(unique.values())
