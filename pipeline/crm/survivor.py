"""Which CRM record survives a merge of duplicates: a rule of criteria, in order.

`oldest` keeps the record created first (it carries the longest history), `owner_set` one a
salesperson owns (someone works it), `most_complete` the one with the most filled-in fields
of those that identify and describe a person. Each criterion decides only where the ones
before it tie; the lowest record id breaks what is left, so a rule always names one record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

CRITERIA = ("oldest", "owner_set", "most_complete")
# The fields `most_complete` counts (crm_records columns).
COMPLETENESS_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "mobile_phone",
    "company",
    "job_title",
    "website",
    "country",
    "city",
    "owner_id",
    "lifecycle_stage",
)


def parse_rule(value: str | Iterable[str]) -> tuple[str, ...]:
    """`oldest,owner_set` -> ("oldest", "owner_set"); unknown or repeated names are an error
    naming what is allowed."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(p.strip().lower().replace("-", "_") for p in parts if p.strip())
    unknown = [n for n in names if n not in CRITERIA]
    if unknown or not names:
        raise ValueError(
            f"unknown survivor criteria {unknown or '(none)'}: use one or more of "
            f"{', '.join(CRITERIA)}, comma-separated, in order"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"survivor criteria repeat: {', '.join(names)}")
    return names


def _keys(rule: Sequence[str]) -> tuple[list[pl.Expr], list[bool]]:
    """Sort keys (ascending = better) for each criterion, then the record id."""
    keys: list[pl.Expr] = []
    for name in rule:
        if name == "oldest":
            keys.append(pl.col("created_at").is_null())
            keys.append(pl.col("created_at"))
        elif name == "owner_set":
            keys.append(pl.col("owner_id").is_null() | (pl.col("owner_id") == ""))
        elif name == "most_complete":
            filled = pl.sum_horizontal(
                (pl.col(c).is_not_null() & (pl.col(c).cast(pl.String) != "")).cast(pl.Int32)
                for c in COMPLETENESS_FIELDS
            )
            keys.append(-filled)
    keys += [pl.col("crm_id").str.len_chars(), pl.col("crm_id")]  # numeric ids, then text
    return keys, [False] * len(keys)


def rank_members(members: pl.DataFrame, rule: Sequence[str]) -> pl.DataFrame:
    """`members` (crm_records rows: crm_id, group, and the fields the rule reads) with
    `rank` within each `group` (0: the survivor)."""
    keys, descending = _keys(rule)
    ordered = members.with_columns(_i=pl.int_range(pl.len())).sort(
        ["group", *keys], descending=[False, *descending], nulls_last=True
    )
    return ordered.with_columns(pl.int_range(pl.len()).over("group").alias("rank")).drop("_i")


def describe(rule: Sequence[str]) -> str:
    return ", then ".join(r.replace("_", " ") for r in rule) + ", then the lowest record id"
