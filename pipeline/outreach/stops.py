"""Stop conditions: replies, bounces, complaints, unsubscribes, CRM lifecycle changes,
manual stops and the suppression list. Each is a transition with its cause; each also
cancels the enrolment's messages still waiting to go.

Called from wherever the news arrives: the webhook receiver (one-click unsubscribe), the
processing of `/webhooks/email-events` inbox events, the Gmail thread poll and the tick.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, select

from pipeline.crm.changes import suppress
from pipeline.outreach.states import ACTIVE, active_for, transition
from pipeline.store import audit
from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import (
    crm_contact_changes,
    crm_sync_ledger,
    email_messages,
    outreach_crm_updates,
    outreach_enrolments,
    suppression_list,
)

# What an email event does to an enrolment: (state, cause).
EVENT_STATES = {
    "reply": ("replied", "reply"),
    "bounce": ("bounced", "bounce"),
    "complaint": ("stopped", "complaint"),
    "unsubscribe": ("unsubscribed", "unsubscribe"),
}
SUPPRESSION_STATES = {
    "unsubscribed": ("unsubscribed", "suppressed: unsubscribed"),
    "complaint": ("stopped", "suppressed: complaint"),
    "hard_bounce": ("bounced", "suppressed: hard bounce"),
}
MAILER_DAEMONS = ("mailer-daemon@", "postmaster@")


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def enrolments_of_message(conn: Connection, message_id: str | None) -> list[Any]:
    """The enrolment a message of ours belongs to (a reply's In-Reply-To)."""
    if not message_id:
        return []
    m, t = email_messages, outreach_enrolments
    ref = conn.execute(
        select(m.c.ref).where(m.c.message_id == message_id.strip(), m.c.purpose == "outreach")
    ).scalar()
    if not ref or not ref.startswith("enrolment:"):
        return []
    row = conn.execute(
        select(t).where(t.c.id == int(ref.split(":")[1]), t.c.state.in_(ACTIVE))
    ).first()
    return [row] if row is not None else []


def stop_for_email_event(
    engine: Engine,
    kind: str,
    address: str,
    *,
    at: datetime | None = None,
    message_id: str | None = None,
    actor: str = "email_events",
) -> int:
    """Apply a reply, bounce, complaint or unsubscribe; returns enrolments stopped."""
    state, cause = EVENT_STATES[kind]
    address = address.strip().lower()
    at = at or utcnow()
    if kind == "unsubscribe":
        return unsubscribe(engine, address, source=actor, at=at)
    with engine.begin() as conn:
        domains = [_domain(address)] if kind == "reply" else []
        rows = active_for(conn, emails=[address], domains=domains)
        rows += [
            r for r in enrolments_of_message(conn, message_id) if r.id not in {x.id for x in rows}
        ]
        moved = []
        for row in rows:
            why = cause
            if kind == "reply" and row.email != address:
                why = (
                    "reply from the thread"
                    if row.domain != _domain(address)
                    else "reply from the domain"
                )
            moved += transition(
                conn,
                [(row.id, row.state)],
                state,
                cause=why,
                actor=actor,
                at=at,
                step=row.step,
                details={"from": address} if row.email != address else None,
                values={"next_due_at": None},
            )
    return len(moved)


def unsubscribe(engine: Engine, address: str, *, source: str, at: datetime | None = None) -> int:
    """Suppress the address, stop its enrolments, queue the CRM opt-out; idempotent."""
    address = address.strip().lower()
    at = at or utcnow()
    suppress(engine, address, "unsubscribed", source)
    with engine.begin() as conn:
        rows = active_for(conn, emails=[address])
        moved = transition(
            conn,
            [(r.id, r.state) for r in rows],
            "unsubscribed",
            cause="unsubscribe",
            actor=source,
            at=at,
            values={"next_due_at": None},
        )
        conn.execute(
            dialect_insert(conn, outreach_crm_updates)
            .values(email=address, change="unsubscribe", status="pending", created_at=at)
            .on_conflict_do_nothing(index_elements=["email", "change"])
        )
        audit.record(
            conn,
            actor=source,
            action="outreach.unsubscribe",
            subject=address,
            details={"enrolments_stopped": len(moved)},
        )
    return len(moved)


def manual_stop(engine: Engine, address: str, *, by: str, reason: str | None = None) -> int:
    address = address.strip().lower()
    now = utcnow()
    with engine.begin() as conn:
        rows = active_for(conn, emails=[address])
        moved = transition(
            conn,
            [(r.id, r.state) for r in rows],
            "stopped",
            cause="manual stop",
            actor=by,
            at=now,
            details={"reason": reason} if reason else None,
            values={"next_due_at": None},
        )
        audit.record(
            conn,
            actor=by,
            action="outreach.stop",
            subject=address,
            details={"reason": reason, "enrolments_stopped": len(moved)},
        )
    return len(moved)


_ENROLMENT_FRAME = {
    "id": pl.Int64,
    "email": pl.String,
    "state": pl.String,
    "sequence": pl.String,
    "enrolled_at": pl.Datetime("us", "UTC"),
}


def stop_suppressed(engine: Engine, at: datetime, actor: str = "sequence_tick") -> int:
    """Active enrolments whose address reached the suppression list by any road."""
    t, listed = outreach_enrolments, suppression_list
    with engine.begin() as conn:
        # Only the active enrolments the list names (joined in SQL: a tick reads no others).
        rows = conn.execute(
            select(t.c.id, t.c.email, t.c.state, t.c.sequence, t.c.enrolled_at, listed.c.reason)
            .join(listed, listed.c.email == t.c.email)
            .where(t.c.state.in_(ACTIVE))
        ).all()
        hits = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={**_ENROLMENT_FRAME, "reason": pl.String},
            orient="row",
        )
        moved = 0
        for reason, group in hits.group_by("reason"):
            state, cause = SUPPRESSION_STATES.get(
                str(reason[0]), ("stopped", f"suppressed: {reason[0]}")
            )
            moved += len(
                transition(
                    conn,
                    group.select("id", "state").rows(),
                    state,
                    cause=cause,
                    actor=actor,
                    at=at,
                    values={"next_due_at": None},
                )
            )
    return moved


def stop_for_crm_changes(
    engine: Engine, stop_rules: dict[str, tuple[bool, list[str]]], at: datetime
) -> int:
    """A lifecycle stage changed (or the contact was deleted) in the CRM after enrolment.

    `stop_rules`: sequence -> (stop on lifecycle change, only these stages or all)."""
    c, ledger = crm_contact_changes, crm_sync_ledger
    with engine.begin() as conn:
        changes = conn.execute(
            select(ledger.c.id_value, c.c.change, c.c.property, c.c.value, c.c.occurred_at)
            .join(ledger, ledger.c.crm_id == c.c.crm_id)
            .where(
                (c.c.property == "lifecyclestage") | c.c.change.in_(("deletion", "privacyDeletion"))
            )
        ).all()
        if not changes:
            return 0
        frame = pl.DataFrame(
            [tuple(r) for r in changes],
            schema={
                "email": pl.String,
                "change": pl.String,
                "property": pl.String,
                "value": pl.String,
                "occurred_at": pl.Datetime("us"),
            },
            orient="row",
        ).with_columns(
            pl.col("email").str.to_lowercase(),
            pl.col("occurred_at").dt.replace_time_zone("UTC"),
        )
        # Only the active enrolments of the changed contacts.
        rows = active_for(conn, emails=frame["email"].drop_nulls().unique().to_list())
        active = pl.DataFrame(
            [(r.id, r.email, r.state, r.sequence, r.enrolled_at) for r in rows],
            schema=_ENROLMENT_FRAME,
            orient="row",
        )
        hits = active.join(frame, on="email", how="inner").filter(
            pl.col("occurred_at") > pl.col("enrolled_at")
        )
        moved = 0
        for row in hits.unique("id").iter_rows(named=True):
            on, stages = stop_rules.get(row["sequence"], (True, []))
            deleted = row["change"] != "property"
            if not deleted and (not on or (stages and (row["value"] or "").lower() not in stages)):
                continue
            cause = "crm contact deleted" if deleted else "crm lifecycle change"
            moved += len(
                transition(
                    conn,
                    [(row["id"], row["state"])],
                    "stopped",
                    cause=cause,
                    actor="crm",
                    at=at,
                    details=None if deleted else {"lifecyclestage": row["value"]},
                    values={"next_due_at": None},
                )
            )
    return moved
