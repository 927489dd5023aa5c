"""The daily token budget, shared by every run and process through the operational store.

A call reserves its estimate before it goes out, only while the day's total stays under the
cap (one conditional UPDATE, so two processes cannot both take the last tokens), and settles
to the usage the server reported once it answers (or gives the reservation back if no
answer came).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, and_, select, update

from pipeline.store.sql import dialect_insert
from pipeline.store.tables import llm_spend


@dataclass(frozen=True)
class Spent:
    day: date
    tokens: int
    calls: int


def _ensure_row(conn, day: date) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        dialect_insert(conn, llm_spend)
        .values(day=day, tokens=0, calls=0)
        .on_conflict_do_nothing(index_elements=["day"])
    )


def reserve(engine: Engine, day: date, tokens: int, budget: int | None) -> bool:
    """Take `tokens` from `day`'s budget; False (nothing taken) when they do not fit."""
    t = llm_spend
    with engine.begin() as conn:
        _ensure_row(conn, day)
        condition = t.c.day == day
        if budget is not None:
            condition = and_(condition, t.c.tokens + tokens <= budget)
        done = conn.execute(
            update(t).where(condition).values(tokens=t.c.tokens + tokens, calls=t.c.calls + 1)
        )
        return done.rowcount == 1


def settle(engine: Engine, day: date, reserved: int, used: int | None) -> None:
    """Replace a reservation by the real usage (`None`: no answer, give it all back)."""
    t = llm_spend
    delta = (used if used is not None else 0) - reserved
    values = {"tokens": t.c.tokens + delta}
    if used is None:
        values["calls"] = t.c.calls - 1
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.day == day).values(**values))


def spent(engine: Engine, day: date) -> Spent:
    with engine.connect() as conn:
        row = conn.execute(select(llm_spend).where(llm_spend.c.day == day)).first()
    return Spent(day, int(row.tokens), int(row.calls)) if row else Spent(day, 0, 0)
