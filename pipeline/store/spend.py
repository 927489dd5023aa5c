"""Daily request budgets shared by every run and process (paid lookups, CRM API quota)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, and_, update

from pipeline.store.sql import dialect_insert
from pipeline.store.tables import enrichment_spend


def try_spend(engine: Engine, provider: str, day: date, per_day: int | None) -> bool:
    """Take one paid lookup from today's budget; False when it is used up. Atomic across
    processes: the increment only happens while under the cap."""
    s = enrichment_spend
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(engine, s)
            .values(provider=provider, day=day, lookups=0)
            .on_conflict_do_nothing(index_elements=["provider", "day"])
        )
        condition = and_(s.c.provider == provider, s.c.day == day)
        if per_day is not None:
            condition = and_(condition, s.c.lookups < per_day)
        result = conn.execute(update(s).where(condition).values(lookups=s.c.lookups + 1))
        return result.rowcount == 1
