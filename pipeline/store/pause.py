"""The kill switch's flag: one row in the operational store, read before every side effect.

Every side-effecting step (CRM writes, enrichment calls that cost money, email drafts and
sends, Drive watch channels) calls `check_not_paused` before each batch, so a run already in
flight stops before its next write, failing with who paused it, when and why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select

from pipeline.store import audit
from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import operations_pause, paused_automations

_ROW = 1


class SideEffectsPaused(RuntimeError):
    """Raised before a side effect while the kill switch is on."""


@dataclass(frozen=True)
class PauseState:
    paused: bool
    changed_by: str
    changed_at: datetime
    reason: str | None

    def describe(self) -> str:
        when = self.changed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        why = f": {self.reason}" if self.reason else ""
        return f"{'paused' if self.paused else 'resumed'} by {self.changed_by} at {when}{why}"


def current(target: Engine | Connection) -> PauseState | None:
    """The switch's last change, or None when it was never used. A Connection is read in its
    own transaction: a caller holding SQLite's write lock (the CRM outbox's batch) would wait
    on itself if the flag were read through a second connection."""
    query = select(operations_pause).where(operations_pause.c.id == _ROW)
    if isinstance(target, Connection):
        row = target.execute(query).first()
    else:
        with target.connect() as conn:
            row = conn.execute(query).first()
    if row is None:
        return None
    changed_at = row.changed_at
    if changed_at.tzinfo is None:  # SQLite hands back naive UTC
        changed_at = changed_at.replace(tzinfo=utcnow().tzinfo)
    return PauseState(bool(row.paused), row.changed_by, changed_at, row.reason)


def is_paused(engine: Engine) -> bool:
    state = current(engine)
    return state is not None and state.paused


def check_not_paused(engine: Engine | Connection, what: str) -> None:
    """Raise `SideEffectsPaused` naming `what` was stopped, by whom, when and why (read
    through the caller's connection when it passes one, see `current`)."""
    state = current(engine)
    if state is not None and state.paused:
        raise SideEffectsPaused(
            f"{what} stopped: side effects are {state.describe()} "
            "(`python -m pipeline resume-all` turns them back on)"
        )


class PauseGate:
    """`check_not_paused` for a loop of side effects, shared by its threads; `interval` > 0
    asks the store at most that often (0, the default: before every call)."""

    def __init__(self, engine: Engine | None, what: str, interval: float = 0.0) -> None:
        self._engine, self._what, self._interval = engine, what, interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def check(self) -> None:
        if self._engine is None:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._interval:
                return
            self._last = now
        check_not_paused(self._engine, self._what)


def _set(engine: Engine, paused: bool, by: str, reason: str | None) -> PauseState:
    values = {"paused": paused, "changed_by": by[:120], "changed_at": utcnow(), "reason": reason}
    with engine.begin() as conn:
        statement = dialect_insert(conn, operations_pause).values(id=_ROW, **values)
        conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
        audit.record(
            conn,
            actor=by,
            action="pause_all" if paused else "resume_all",
            details={"reason": reason} if reason else None,
        )
    state = current(engine)
    assert state is not None
    return state


def pause(engine: Engine, by: str, reason: str | None = None) -> PauseState:
    return _set(engine, True, by, reason)


def resume(engine: Engine, by: str, reason: str | None = None) -> PauseState:
    return _set(engine, False, by, reason)


def remember_stopped(engine: Engine, stopped: Iterable[tuple[str, str]]) -> None:
    """Record (kind, name) of each automation pause-all turned off (kept until resume)."""
    rows = [{"kind": k, "name": n, "paused_at": utcnow()} for k, n in stopped]
    if not rows:
        return
    with engine.begin() as conn:
        conn.execute(dialect_insert(conn, paused_automations).values(rows).on_conflict_do_nothing())


def stopped_automations(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(paused_automations.c.kind, paused_automations.c.name))
        return sorted((r.kind, r.name) for r in rows)


def forget_stopped(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(paused_automations))
