"""The `sequence_state` asset's table: one row per enrolment with its history.

The store is where the state lives (several processes write it); this is its snapshot, with
each enrolment's transitions as a JSON list (when, from, to, step, cause, who) so the
catalog shows how every enrolment got where it is.
"""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy import Engine, select

from pipeline.email.mailer import utc
from pipeline.store.tables import outreach_enrolments, outreach_transitions

SNAPSHOT_SCHEMA = {
    "enrolment_id": pl.Int64,
    "sequence": pl.String,
    "email": pl.String,
    "entity_id": pl.String,
    "mailbox": pl.String,
    "state": pl.String,
    "step": pl.Int64,
    "steps_total": pl.Int64,
    "next_due_at": pl.Datetime("us", "UTC"),
    "timezone": pl.String,
    "timezone_source": pl.String,
    "reason": pl.String,
    "last_message_at": pl.Datetime("us", "UTC"),
    "enrolled_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
}


def sequence_snapshot(engine: Engine) -> pl.DataFrame:
    t, tr = outreach_enrolments, outreach_transitions
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.c.id, t.c.sequence, t.c.email, t.c.entity_id, t.c.mailbox, t.c.state,
                t.c.step, t.c.steps_total, t.c.next_due_at, t.c.timezone, t.c.timezone_source,
                t.c.reason, t.c.last_message_at, t.c.enrolled_at, t.c.updated_at,
            ).order_by(t.c.id)
        ).all()  # fmt: skip
        history = conn.execute(
            select(
                tr.c.enrolment_id, tr.c.at, tr.c.from_state, tr.c.to_state, tr.c.step,
                tr.c.cause, tr.c.actor,
            ).order_by(tr.c.id)
        ).all()  # fmt: skip
    frame = pl.DataFrame(
        [(*r[:8], utc(r[8]), *r[9:12], utc(r[12]), utc(r[13]), utc(r[14])) for r in rows],
        schema=SNAPSHOT_SCHEMA,
        orient="row",
    )
    entries: dict[int, list[dict]] = {}
    for h in history:
        entries.setdefault(h.enrolment_id, []).append(
            {
                "at": utc(h.at).isoformat(),
                "from": h.from_state,
                "to": h.to_state,
                "step": h.step,
                "cause": h.cause,
                "by": h.actor,
            }
        )
    return frame.with_columns(
        pl.Series(
            "history",
            [json.dumps(entries.get(i, [])) for i in frame["enrolment_id"].to_list()],
            pl.String,
        )
    )


def recent_transitions(engine: Engine, limit: int = 20) -> pl.DataFrame:
    t, tr = outreach_enrolments, outreach_transitions
    with engine.connect() as conn:
        rows = conn.execute(
            select(tr.c.at, t.c.email, tr.c.from_state, tr.c.to_state, tr.c.step, tr.c.cause)
            .join(t, t.c.id == tr.c.enrolment_id)
            .order_by(tr.c.id.desc())
            .limit(limit)
        ).all()
    return pl.DataFrame(
        [(utc(r[0]), *r[1:]) for r in rows],
        schema={
            "at": pl.Datetime("us", "UTC"),
            "email": pl.String,
            "from": pl.String,
            "to": pl.String,
            "step": pl.Int64,
            "cause": pl.String,
        },
        orient="row",
    )
