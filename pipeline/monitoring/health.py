"""Schedules that look after themselves: consecutive failures counted per monitoring
schedule; at MONITORING_MAX_FAILURES the schedule pauses itself, says why in the audit log,
and the admin is told (an email, and a failed check in the UI). One command resumes it.

The counts live in the operational store (`monitoring_schedules`), written from each
finished run by the `monitoring_schedule_health` sensor; each schedule reads its row before
launching and skips, with the reason, while paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from pipeline.email.mailer import Mailer, Outcome
from pipeline.email.message import OutgoingEmail, new_message_id
from pipeline.store import audit
from pipeline.store.sql import dialect_insert
from pipeline.store.tables import monitoring_schedules as t

SCHEDULES = ("monitoring_refresh", "daily_digest", "weekly_digest")


class UnknownSchedule(ValueError):
    pass


@dataclass(frozen=True)
class ScheduleState:
    name: str
    consecutive_failures: int = 0
    paused: bool = False
    paused_at: datetime | None = None
    paused_reason: str | None = None
    last_run_id: str | None = None
    last_status: str | None = None
    last_run_at: datetime | None = None
    last_error: str | None = None
    resumed_at: datetime | None = None
    resumed_by: str | None = None

    def describe(self) -> str:
        if self.paused:
            return (
                f"{self.name}: PAUSED since {self.paused_at:%Y-%m-%d %H:%M} UTC: "
                f"{self.paused_reason} (`python -m pipeline monitoring resume {self.name}`)"
            )
        last = (
            f"last run {self.last_status} at {self.last_run_at:%Y-%m-%d %H:%M} UTC"
            if self.last_run_at
            else "no run recorded yet"
        )
        fails = (
            f", {self.consecutive_failures} failure(s) in a row"
            if self.consecutive_failures
            else ""
        )
        return f"{self.name}: running; {last}{fails}"


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _state(row) -> ScheduleState:  # type: ignore[no-untyped-def]
    values = dict(row._mapping)
    for key in ("paused_at", "last_run_at", "resumed_at"):
        values[key] = _aware(values[key])
    values["paused"] = bool(values["paused"])
    return ScheduleState(**values)


def state(engine: Engine, name: str) -> ScheduleState:
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.name == name)).first()
    return _state(row) if row is not None else ScheduleState(name)


def states(engine: Engine) -> list[ScheduleState]:
    return [state(engine, name) for name in SCHEDULES]


def _check(name: str) -> None:
    if name not in SCHEDULES:
        raise UnknownSchedule(
            f"no monitoring schedule {name!r}; the schedules are {', '.join(SCHEDULES)}"
        )


def record_run(
    engine: Engine,
    name: str,
    run_id: str,
    *,
    ok: bool,
    error: str | None,
    max_failures: int,
    at: datetime,
) -> tuple[ScheduleState, bool]:
    """Count one finished run of the schedule; (state, whether it paused just now). The
    same run recorded twice counts once."""
    _check(name)
    with engine.begin() as conn:
        conn.execute(dialect_insert(conn, t).values(name=name).on_conflict_do_nothing())
        row = conn.execute(select(t).where(t.c.name == name).with_for_update()).one()
        current = _state(row)
        if current.last_run_id == run_id:
            return current, False
        failures = 0 if ok else current.consecutive_failures + 1
        values = {
            "consecutive_failures": failures,
            "last_run_id": run_id,
            "last_status": "success" if ok else "failure",
            "last_run_at": at,
            "last_error": None if ok else (error or "unknown error")[:2000],
        }
        paused_now = not ok and not current.paused and failures >= max_failures
        if paused_now:
            reason = (
                f"{failures} consecutive failed runs (MONITORING_MAX_FAILURES={max_failures}); "
                f"last error: {(error or 'unknown error')[:500]}"
            )
            values |= {"paused": True, "paused_at": at, "paused_reason": reason}
            audit.record(
                conn,
                actor=f"schedule:{name}",
                action="monitoring_schedule_paused",
                subject=name,
                run_id=run_id,
                details={"consecutive_failures": failures, "reason": reason},
            )
        conn.execute(update(t).where(t.c.name == name).values(**values))
        row = conn.execute(select(t).where(t.c.name == name)).one()
    return _state(row), paused_now


def resume(engine: Engine, name: str, by: str, at: datetime) -> ScheduleState:
    """Unpause and forget the failures; recorded in the audit log."""
    _check(name)
    with engine.begin() as conn:
        conn.execute(dialect_insert(conn, t).values(name=name).on_conflict_do_nothing())
        before = _state(conn.execute(select(t).where(t.c.name == name)).one())
        conn.execute(
            update(t)
            .where(t.c.name == name)
            .values(
                paused=False,
                paused_at=None,
                paused_reason=None,
                consecutive_failures=0,
                resumed_at=at,
                resumed_by=by[:120],
            )
        )
        audit.record(
            conn,
            actor=by,
            action="monitoring_schedule_resumed",
            subject=name,
            details={"was_paused": before.paused, "reason_was": before.paused_reason},
        )
    return state(engine, name)


def alert_admin(
    mailer: Mailer, sender: str, admin: str | None, paused: ScheduleState
) -> Outcome | None:
    """One email per pause (keyed by schedule and pause time) to MONITORING_ADMIN_EMAIL."""
    if not admin or not paused.paused or paused.paused_at is None:
        return None
    key = f"monitoring-admin:{paused.name}:{paused.paused_at:%Y%m%dT%H%M%S}"
    text = (
        f"The monitoring schedule {paused.name} paused itself at "
        f"{paused.paused_at:%Y-%m-%d %H:%M} UTC.\n\nWhy: {paused.paused_reason}\n\n"
        f"Last run: {paused.last_run_id}\n\nWhen the cause is fixed, resume it with:\n\n"
        f"    python -m pipeline monitoring resume {paused.name}\n"
    )
    email = OutgoingEmail(
        from_header=sender,
        to=admin,
        subject=f"Monitoring schedule {paused.name} paused after repeated failures",
        text=text,
        message_id=new_message_id(sender),
        headers={"Auto-Submitted": "auto-generated"},
    )
    return mailer.send_now(email, key=key, purpose="monitoring_admin")
