"""Free text mapped onto a CRM enumeration's options (HubSpot's `industry` and the like).

HubSpot refuses a record whose enumeration value is not one of the property's options
(INVALID_OPTION), so enriched text such as "Hospital & Health Care" or "Software" must become
`HOSPITAL_HEALTH_CARE` or `COMPUTER_SOFTWARE` first. Each distinct value is mapped once:
exactly (an option's value or label, or a configured alias, compared without case,
punctuation or "and"/"&"), else to the closest option by rapidfuzz's token-sort ratio (one
`cdist` call over all unmatched values), else it is left out of the payload and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from pipeline.crm.mapping import Enumeration

EXACT, ALIAS, FUZZY, UNMAPPED = "exact", "alias", "fuzzy", "unmapped"
MATCH_SCHEMA = {
    "value": pl.String,
    "option": pl.String,
    "method": pl.String,
    "score": pl.Float64,
    "rows": pl.UInt32,
}


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def normalized(text: pl.Expr) -> pl.Expr:
    """Lower case, words only, "and" and "&" dropped: `Hospital & Health Care` and
    `HOSPITAL_HEALTH_CARE` both read `hospital health care`."""
    words = (
        text.str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.replace_all(r"(^| )and( |$)", " ")
        .str.replace_all(r" +", " ")
        .str.strip_chars()
    )
    return pl.when(words != "").then(words)


def _normalize(values: list[str]) -> list[str | None]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(normalized(pl.col("v"))).to_series().to_list()


@dataclass(frozen=True)
class EnumerationMatches:
    """Per distinct input value: the option it became, how, and on how many rows."""

    matches: pl.DataFrame  # MATCH_SCHEMA

    def counts(self) -> dict[str, int]:
        """Rows per method (exact, alias, fuzzy, unmapped)."""
        by = self.matches.group_by("method").agg(pl.col("rows").sum())
        return {m: int(n) for m, n in by.iter_rows()}

    def unmapped(self) -> dict[str, int]:
        rows = self.matches.filter(pl.col("method") == UNMAPPED).sort("rows", descending=True)
        return {v: int(n) for v, n in rows.select("value", "rows").iter_rows()}


def match_options(
    values: pl.Series, enumeration: Enumeration, options: list[Option]
) -> tuple[pl.Series, EnumerationMatches]:
    """`values` mapped to option values (null where nothing fits), and what was matched."""
    distinct = (
        values.drop_nulls()
        .to_frame("value")
        .group_by("value")
        .len("rows")
        .with_columns(normalized(pl.col("value")).alias("key"))
        .filter(pl.col("key").is_not_null())
    )
    keys: dict[str, str] = {}
    for key, option in zip(
        _normalize([o.label for o in options]), [o.value for o in options], strict=True
    ):
        if key:
            keys.setdefault(key, option)
    for key, option in zip(
        _normalize([o.value for o in options]), [o.value for o in options], strict=True
    ):
        if key:
            keys.setdefault(key, option)
    known = {o.value for o in options}
    aliases = {
        key: target
        for key, target in zip(
            _normalize(list(enumeration.aliases)), enumeration.aliases.values(), strict=True
        )
        if key and target in known
    }
    lookup = pl.DataFrame(
        {
            "key": list(keys) + list(aliases),
            "exact_option": list(keys.values()) + list(aliases.values()),
            "exact_method": [EXACT] * len(keys) + [ALIAS] * len(aliases),
        },
        schema={"key": pl.String, "exact_option": pl.String, "exact_method": pl.String},
    ).unique("key", keep="first")
    found = distinct.join(lookup, on="key", how="left")
    unmatched = found.filter(pl.col("exact_option").is_null() & pl.col("key").is_not_null())
    choices = list(keys)
    fuzzy_option: list[str | None] = [None] * unmatched.height
    fuzzy_score: list[float | None] = [None] * unmatched.height
    if choices and unmatched.height:
        scores = process.cdist(
            unmatched["key"].to_list(),
            choices,
            scorer=fuzz.token_sort_ratio,
            score_cutoff=enumeration.fuzzy_cutoff,
            dtype=np.float32,
        )
        best = scores.argmax(axis=1)
        top = scores[np.arange(len(best)), best]
        fuzzy_option = [keys[choices[b]] if s > 0 else None for b, s in zip(best, top, strict=True)]
        fuzzy_score = [round(float(s), 1) if s > 0 else None for s in top]
    fuzzy = unmatched.select("value").with_columns(
        pl.Series("fuzzy_option", fuzzy_option, pl.String),
        pl.Series("fuzzy_score", fuzzy_score, pl.Float64),
    )
    matches = (
        found.join(fuzzy, on="value", how="left")
        .select(
            "value",
            pl.coalesce("exact_option", "fuzzy_option").alias("option"),
            pl.when(pl.col("exact_option").is_not_null())
            .then(pl.col("exact_method"))
            .when(pl.col("fuzzy_option").is_not_null())
            .then(pl.lit(FUZZY))
            .otherwise(pl.lit(UNMAPPED))
            .alias("method"),
            pl.when(pl.col("exact_option").is_not_null())
            .then(pl.lit(100.0))
            .otherwise(pl.col("fuzzy_score"))
            .alias("score"),
            pl.col("rows").cast(pl.UInt32),
        )
        .sort("rows", "value", descending=[True, False])
    )
    mapped = (
        values.to_frame("value")
        .join(matches.select("value", "option"), on="value", how="left", maintain_order="left")
        .get_column("option")
    )
    return mapped, EnumerationMatches(matches.cast(MATCH_SCHEMA))  # type: ignore[arg-type]
