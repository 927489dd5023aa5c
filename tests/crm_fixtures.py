"""Scored-lead frames for CRM sync tests (the columns the default mapping reads)."""

from __future__ import annotations

import polars as pl

MERGE_SCHEMA = {"event": pl.String, "entity_id": pl.String, "other_entity_id": pl.String}
NO_MERGES = pl.DataFrame(schema=MERGE_SCHEMA)


def scored(n: int, *, score: int = 50, domains: int = 3, start: int = 0) -> pl.DataFrame:
    ids = list(range(start, start + n))
    return pl.DataFrame(
        {
            "entity_id": [f"E{i:05d}" for i in ids],
            "email": [f"person{i}@company{i % domains}.com" for i in ids],
            "first_name": [f"First{i}" for i in ids],
            "last_name": [f"Last{i}" for i in ids],
            "phone_e164": [None] * n,
            "company": [f"Company {i % domains}" for i in ids],
            "job_title": ["VP Sales"] * n,
            "website": [f"https://company{i % domains}.com" for i in ids],
            "country": ["US"] * n,
            "city": [None] * n,
            "lead_score": [score] * n,
            "lead_grade": ["B"] * n,
            "score_reasons": [["+25 VP-level title"]] * n,
            "source_file": ["trade_show.csv"] * n,
            "domain": [f"company{i % domains}.com" for i in ids],
            "industry": ["Software"] * n,
            "hq_country": ["US"] * n,
            "is_free_email": [False] * n,
        },
        schema_overrides={"phone_e164": pl.String, "city": pl.String},
    )


def merges(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event": ["merge"] * len(pairs),
            "entity_id": [a for a, _ in pairs],
            "other_entity_id": [b for _, b in pairs],
        },
        schema=MERGE_SCHEMA,
    )
