"""Enrichment cache and per-day spend, in the operational store."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from pipeline.store.sql import dialect_insert, sha256_hex, utcnow
from pipeline.store.tables import enrichment_cache

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


__all__ = ["CachedAnswer", "cached", "input_key", "store_answers"]
