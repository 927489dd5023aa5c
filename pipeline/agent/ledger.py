"""Where each submission and each of its steps stands, in the operational store.

A submission's `step` is the step to do next. A step is claimed (`running`) in one
conditional write before it runs, so two runs never do it twice; then it is `done` (with its
result, which later steps read instead of doing it again), `failed` (tried again from
`next_attempt_at`, with a doubling backoff), `waiting` (the LLM budget is spent: not a
failure) or `dead` after the configured attempts, with a row in `agent_dead_letters` naming
the step. A claim older than the lease (a run that died) can be taken over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update

from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import agent_dead_letters, agent_steps, agent_submissions

STEPS = ("intake", "crm", "mail_history", "free_slots", "message", "draft", "followup")
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class Submission:
    submission_id: str
    email: str | None
    status: str
    step: str | None
    prospect: dict[str, Any]
    submission: dict[str, Any]
    origin: str
    detail: str | None


def _submission(row: Any) -> Submission:
    return Submission(
        row.submission_id,
        row.email,
        row.status,
        row.step,
        json.loads(row.prospect) if row.prospect else {},
        json.loads(row.submission),
        row.origin,
        row.detail,
    )


def next_step(step: str) -> str | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def record_submission(
    engine: Engine,
    *,
    submission_id: str,
    data: dict[str, Any],
    origin: str,
    inbox_id: int | None,
    form_id: str | None,
    portal_id: str | None,
    page_url: str | None,
    submitted_at: datetime | None,
    email: str | None,
    prospect: dict[str, Any] | None,
    rejected: str | None,
) -> bool:
    """Insert the submission once (True) or leave the existing row alone (False)."""
    now = utcnow()
    statement = (
        dialect_insert(engine, agent_submissions)
        .values(
            submission_id=submission_id,
            form_id=form_id,
            portal_id=portal_id,
            page_url=page_url,
            submitted_at=submitted_at,
            origin=origin,
            inbox_id=inbox_id,
            email=email,
            submission=json.dumps(data, sort_keys=True),
            prospect=json.dumps(prospect, sort_keys=True, default=str) if prospect else None,
            status="rejected" if rejected else "in_progress",
            step=None if rejected else "intake",
            detail=rejected,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["submission_id"])
        .returning(agent_submissions.c.submission_id)
    )
    with engine.begin() as conn:
        return conn.execute(statement).scalar() is not None


def get(engine: Engine, submission_id: str) -> Submission | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(agent_submissions).where(agent_submissions.c.submission_id == submission_id)
        ).first()
    return _submission(row) if row else None


def submissions(engine: Engine, ids: list[str] | None = None) -> list[Submission]:
    query = select(agent_submissions).order_by(agent_submissions.c.created_at)
    if ids is not None:
        query = query.where(agent_submissions.c.submission_id.in_(ids))
    with engine.connect() as conn:
        return [_submission(r) for r in conn.execute(query)]


def ready(engine: Engine, step: str, now: datetime | None = None) -> list[Submission]:
    """Submissions whose next step is `step` and that may take it now."""
    now = now or utcnow()
    s, t = agent_submissions, agent_steps
    due = or_(
        t.c.status.is_(None),
        and_(t.c.status.in_(("failed", "waiting")), t.c.next_attempt_at <= now),
        and_(t.c.status == "running", t.c.claimed_at <= now - LEASE),
    )
    query = (
        select(s)
        .select_from(s.outerjoin(t, and_(t.c.submission_id == s.c.submission_id, t.c.step == step)))
        .where(s.c.status == "in_progress", s.c.step == step, due)
        .order_by(s.c.created_at)
    )
    with engine.connect() as conn:
        return [_submission(r) for r in conn.execute(query)]


def claim(engine: Engine, submission_id: str, step: str, run_id: str | None) -> int | None:
    """Take the step (returns its attempt number) or None if another run has it or it is
    not due."""
    now = utcnow()
    t = agent_steps
    with engine.begin() as conn:
        inserted = conn.execute(
            dialect_insert(conn, t)
            .values(
                submission_id=submission_id,
                step=step,
                status="running",
                attempts=0,
                run_id=run_id,
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["submission_id", "step"])
            .returning(t.c.attempts)
        ).first()
        if inserted is not None:
            return 1
        taken = conn.execute(
            update(t)
            .where(
                t.c.submission_id == submission_id,
                t.c.step == step,
                or_(
                    and_(t.c.status.in_(("failed", "waiting")), t.c.next_attempt_at <= now),
                    and_(t.c.status == "running", t.c.claimed_at <= now - LEASE),
                ),
            )
            .values(status="running", run_id=run_id, claimed_at=now)
            .returning(t.c.attempts)
        ).first()
    return None if taken is None else int(taken.attempts) + 1


def finish(
    engine: Engine,
    submission_id: str,
    step: str,
    result: dict[str, Any],
    inputs_sha256: str,
    duration_ms: int,
) -> None:
    now = utcnow()
    following = next_step(step)
    with engine.begin() as conn:
        conn.execute(
            update(agent_steps)
            .where(agent_steps.c.submission_id == submission_id, agent_steps.c.step == step)
            .values(
                status="done",
                attempts=agent_steps.c.attempts + 1,
                result=json.dumps(result, sort_keys=True, default=str),
                inputs_sha256=inputs_sha256,
                error=None,
                finished_at=now,
                next_attempt_at=None,
                duration_ms=duration_ms,
            )
        )
        conn.execute(
            update(agent_submissions)
            .where(agent_submissions.c.submission_id == submission_id)
            .values(
                step=following,
                status="in_progress" if following else "done",
                detail=None,
                updated_at=now,
            )
        )


def fail(
    engine: Engine,
    submission_id: str,
    step: str,
    error: str,
    *,
    max_attempts: int,
    backoff: timedelta,
    inputs_sha256: str | None = None,
    duration_ms: int | None = None,
) -> str:
    """Count a failed attempt: `failed` (retried later) or `dead` (dead-lettered)."""
    now = utcnow()
    t = agent_steps
    with engine.begin() as conn:
        row = conn.execute(
            select(t.c.attempts).where(t.c.submission_id == submission_id, t.c.step == step)
        ).one()
        attempts = int(row.attempts) + 1
        dead = attempts >= max_attempts
        conn.execute(
            update(t)
            .where(t.c.submission_id == submission_id, t.c.step == step)
            .values(
                status="dead" if dead else "failed",
                attempts=attempts,
                error=error[:4000],
                inputs_sha256=inputs_sha256,
                finished_at=now,
                duration_ms=duration_ms,
                next_attempt_at=None if dead else now + backoff * (2 ** (attempts - 1)),
            )
        )
        if dead:
            conn.execute(
                insert(agent_dead_letters).values(
                    submission_id=submission_id,
                    step=step,
                    error=error[:4000],
                    attempts=attempts,
                    dead_at=now,
                )
            )
        conn.execute(
            update(agent_submissions)
            .where(agent_submissions.c.submission_id == submission_id)
            .values(
                status="dead" if dead else "in_progress",
                detail=f"step {step} {'dead-lettered' if dead else 'failed'} "
                f"(attempt {attempts} of {max_attempts}): {error[:1000]}",
                updated_at=now,
            )
        )
    return "dead" if dead else "failed"


def wait(engine: Engine, submission_id: str, step: str, reason: str, until: datetime) -> None:
    """Put the step aside until `until` without counting an attempt (a spent budget)."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(agent_steps)
            .where(agent_steps.c.submission_id == submission_id, agent_steps.c.step == step)
            .values(status="waiting", error=reason[:4000], next_attempt_at=until, finished_at=now)
        )
        conn.execute(
            update(agent_submissions)
            .where(agent_submissions.c.submission_id == submission_id)
            .values(detail=f"step {step} waiting until {until:%Y-%m-%d %H:%M} UTC: {reason}")
        )


def release(engine: Engine, submission_id: str, step: str, reason: str) -> None:
    """Give a claim back untried (the kill switch stopped the run before the side effect)."""
    with engine.begin() as conn:
        conn.execute(
            update(agent_steps)
            .where(
                agent_steps.c.submission_id == submission_id,
                agent_steps.c.step == step,
                agent_steps.c.status == "running",
            )
            .values(status="failed", error=reason[:4000], next_attempt_at=utcnow())
        )


def results(engine: Engine, submission_id: str) -> dict[str, dict[str, Any]]:
    """step -> result of every done step."""
    t = agent_steps
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.step, t.c.result).where(
                t.c.submission_id == submission_id, t.c.status == "done"
            )
        )
        return {r.step: json.loads(r.result or "{}") for r in rows}


def step_rows(engine: Engine, step: str | None = None) -> list[dict[str, Any]]:
    t = agent_steps
    query = select(t).order_by(t.c.submission_id)
    if step is not None:
        query = query.where(t.c.step == step)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def due_retries(engine: Engine, now: datetime | None = None) -> list[tuple[str, str, int]]:
    """(submission, step, attempts) of failed or waiting steps due another try."""
    now = now or utcnow()
    t, s = agent_steps, agent_submissions
    query = (
        select(t.c.submission_id, t.c.step, t.c.attempts)
        .select_from(t.join(s, s.c.submission_id == t.c.submission_id))
        .where(
            s.c.status == "in_progress",
            or_(
                and_(t.c.status.in_(("failed", "waiting")), t.c.next_attempt_at <= now),
                and_(t.c.status == "running", t.c.claimed_at <= now - LEASE),
            ),
        )
        .order_by(t.c.submission_id)
    )
    with engine.connect() as conn:
        return [(r.submission_id, r.step, int(r.attempts)) for r in conn.execute(query)]


def dead_letters(engine: Engine, include_replayed: bool = False) -> list[dict[str, Any]]:
    d = agent_dead_letters
    query = select(d).order_by(d.c.id)
    if not include_replayed:
        query = query.where(d.c.replayed_at.is_(None))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def replay(engine: Engine, submission_ids: list[str] | None = None) -> list[str]:
    """Put dead-lettered steps back in line with a fresh set of attempts."""
    d, t, s = agent_dead_letters, agent_steps, agent_submissions
    now = utcnow()
    with engine.begin() as conn:
        query = select(d.c.id, d.c.submission_id, d.c.step).where(d.c.replayed_at.is_(None))
        if submission_ids is not None:
            query = query.where(d.c.submission_id.in_(submission_ids))
        rows = conn.execute(query).all()
        for row in rows:
            conn.execute(update(d).where(d.c.id == row.id).values(replayed_at=now))
            conn.execute(
                update(t)
                .where(t.c.submission_id == row.submission_id, t.c.step == row.step)
                .values(status="failed", attempts=0, next_attempt_at=now)
            )
            conn.execute(
                update(s)
                .where(s.c.submission_id == row.submission_id, s.c.status == "dead")
                .values(status="in_progress", detail=f"step {row.step} replayed", updated_at=now)
            )
    return sorted({r.submission_id for r in rows})


def retry_now(engine: Engine, submission_ids: list[str]) -> None:
    """Failed or waiting steps of these submissions are due at once (a person asked)."""
    if not submission_ids:
        return
    t = agent_steps
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.submission_id.in_(submission_ids), t.c.status.in_(("failed", "waiting")))
            .values(next_attempt_at=utcnow())
        )
