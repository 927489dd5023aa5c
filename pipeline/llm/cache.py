"""Answers kept per content hash: the same question (caller's key, model, schema and
instructions) is paid for once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from pipeline.store.sql import dialect_insert, sha256_hex, utcnow
from pipeline.store.tables import llm_cache


@dataclass(frozen=True)
class CachedAnswer:
    data: dict[str, Any]
    model: str
    prompt_tokens: int
    completion_tokens: int


def cache_key(*parts: Any) -> str:
    return sha256_hex(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str))


def lookup(engine: Engine, key: str) -> CachedAnswer | None:
    with engine.connect() as conn:
        row = conn.execute(select(llm_cache).where(llm_cache.c.key == key)).first()
    if row is None:
        return None
    return CachedAnswer(
        json.loads(row.answer), row.model, int(row.prompt_tokens), int(row.completion_tokens)
    )


def keep(
    engine: Engine,
    key: str,
    purpose: str,
    answer: CachedAnswer,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, llm_cache)
            .values(
                key=key,
                purpose=purpose[:64],
                model=answer.model[:120],
                answer=json.dumps(answer.data, sort_keys=True),
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
