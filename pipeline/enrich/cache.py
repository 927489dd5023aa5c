"""Enrichment cache and per-day spend, in the operational store."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, select, update

from pipeline.store.sql import dialect_insert, sha256_hex, utcnow
from pipeline.store.tables import enrichment_cache, enrichment_spend

CHUNK = 500


def input_key(provider: str, lookup: dict[str, Any]) -> str:
    """The cache key: the provider and its normalized input, hashed."""
    return sha256_hex(provider + "|" + json.dumps(lookup, sort_keys=True, default=str))


@dataclass(frozen=True)
class CachedAnswer:
    status: str  # found | not_found
    answer: dict[str, Any]
    fetched_at: datetime


def cached(engine: Engine, provider: str, keys: Iterable[str]) -> dict[str, CachedAnswer]:
    """Fresh cache entries for `keys`."""
    c = enrichment_cache
    now = utcnow()
    found: dict[str, CachedAnswer] = {}
    keys = list(keys)
    with engine.connect() as conn:
        for start in range(0, len(keys), CHUNK):
            rows = conn.execute(
                select(c.c.input_key, c.c.status, c.c.answer, c.c.fetched_at).where(
                    c.c.provider == provider,
                    c.c.input_key.in_(keys[start : start + CHUNK]),
                    c.c.expires_at > now,
                )
            )
            for key, status, answer, fetched_at in rows:
                found[key] = CachedAnswer(status, json.loads(answer), fetched_at)
    return found


def store_answers(
    engine: Engine,
    provider: str,
    answers: dict[str, CachedAnswer],
    ttl: timedelta,
) -> None:
    if not answers:
        return
    c = enrichment_cache
    rows = [
        {
            "provider": provider,
            "input_key": key,
            "status": a.status,
            "answer": json.dumps(a.answer, sort_keys=True, default=str),
            "fetched_at": a.fetched_at,
            "expires_at": a.fetched_at + ttl,
        }
        for key, a in answers.items()
    ]
    stmt = dialect_insert(engine, c)
    stmt = stmt.on_conflict_do_update(
        index_elements=["provider", "input_key"],
        set_={k: stmt.excluded[k] for k in ("status", "answer", "fetched_at", "expires_at")},
    )
    with engine.begin() as conn:
        conn.execute(stmt, rows)


def spend_today(engine: Engine, provider: str, day: date) -> int:
    s = enrichment_spend
    with engine.connect() as conn:
        value = conn.execute(
            select(s.c.lookups).where(s.c.provider == provider, s.c.day == day)
        ).scalar()
    return int(value or 0)


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


__all__ = ["CachedAnswer", "cached", "input_key", "spend_today", "store_answers", "try_spend"]
