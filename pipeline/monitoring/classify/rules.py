"""The rules classifier: relevance 0..1, a category and a one-line reason from keyword and
pattern rules in YAML (MONITORING_RULES), for every event at once (polars regex columns,
one expression per rule, not a Python loop per event).

How relevance is made is in the rules file's header; the reason names the phrase that set
the category, where it was, and what the account match rests on, e.g.
`Funding: "raises $20M" in the title; Acme Robotics named in the title`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.monitoring.config import (
    CATEGORIES,
    CATEGORY_LABELS,
    DEFAULT_RULES,
    MonitoringConfigError,
)

CLASSIFIED_SCHEMA = {
    "event_id": pl.Int64,
    "relevance": pl.Float64,
    "category": pl.String,
    "reason": pl.String,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(pattern: str) -> str:
    try:
        pl.Series([""]).str.contains(f"(?i){pattern}")
    except Exception as exc:  # polars' (Rust) regex syntax
        raise ValueError(f"not a valid pattern: {str(exc).splitlines()[0][:200]}") from None
    return pattern


class Rule(_Strict):
    pattern: str
    weight: float = Field(1.0, gt=0, le=1)
    label: str | None = None

    @field_validator("pattern")
    @classmethod
    def _check(cls, value: str) -> str:
        return _compiles(value)


class Weights(_Strict):
    base: float = Field(0.1, ge=0, le=1)
    match: float = Field(0.4, ge=0, le=1)
    category: float = Field(0.5, ge=0, le=1)
    summary_factor: float = Field(0.75, ge=0, le=1)


class Rules(_Strict):
    weights: Weights = Field(default_factory=Weights)
    categories: dict[str, list[Rule]]
    noise: list[Rule] = Field(default_factory=list)

    @field_validator("categories")
    @classmethod
    def _known(cls, value: dict[str, list[Rule]]) -> dict[str, list[Rule]]:
        unknown = [c for c in value if c not in CATEGORIES or c == "other"]
        if unknown:
            raise ValueError(
                f"unknown categor(y/ies) {unknown}; use {', '.join(CATEGORIES[:-1])} "
                "(`other` is what matches none)"
            )
        return value


def load_rules(path: str | Path | None = None) -> Rules:
    file = Path(path) if path else DEFAULT_RULES
    label = file.name if path is None else str(file)
    try:
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MonitoringConfigError(f"{file}: no such file (MONITORING_RULES)") from None
    except yaml.YAMLError as exc:
        raise MonitoringConfigError(f"{file}: not valid YAML: {exc}") from None
    try:
        return Rules.model_validate(data or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = ""
            for part in err["loc"]:
                where += (
                    f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
                )
            problems.append(f"{label}: {where}: {err['msg'].removeprefix('Value error, ')}")
        raise MonitoringConfigError("; ".join(problems)) from None


def _hit(text: pl.Expr, rule: Rule) -> pl.Expr:
    return text.str.contains(f"(?i){rule.pattern}")


def _phrase(text: pl.Expr, rule: Rule) -> pl.Expr:
    return text.str.extract(f"(?i)({rule.pattern})", 1)


def classify_rules(events: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """`events`: event_id, title, summary, match_strength, matched_by, match_text, in_title,
    account_name. Returns event_id, relevance, category, reason."""
    if events.is_empty():
        return pl.DataFrame(schema=CLASSIFIED_SCHEMA)
    w = rules.weights
    title, summary = pl.col("title").fill_null(""), pl.col("summary").fill_null("")
    names = [c for c in CATEGORIES if c in rules.categories]
    score_cols, phrase_cols, where_cols = [], [], []
    for category in names:
        category_rules = rules.categories[category]
        scores = [
            pl.when(_hit(title, r))
            .then(r.weight)
            .when(_hit(summary, r))
            .then(r.weight * w.summary_factor)
            .otherwise(0.0)
            for r in category_rules
        ]
        score_cols.append(pl.max_horizontal(scores).alias(f"s_{category}"))
        phrase_cols.append(
            pl.coalesce(
                [_phrase(title, r) for r in category_rules]
                + [_phrase(summary, r) for r in category_rules]
            ).alias(f"p_{category}")
        )
        where_cols.append(
            pl.any_horizontal([_hit(title, r) for r in category_rules]).alias(f"t_{category}")
        )
    noise = (
        pl.sum_horizontal(
            [
                pl.when(_hit(title, r) | _hit(summary, r)).then(r.weight).otherwise(0.0)
                for r in rules.noise
            ]
        )
        if rules.noise
        else pl.lit(0.0)
    )
    noise_label = (
        pl.concat_str(
            [
                pl.when(_hit(title, r) | _hit(summary, r)).then(pl.lit(r.label or "noise"))
                for r in rules.noise
            ],
            separator=", ",
            ignore_nulls=True,
        )
        if rules.noise
        else pl.lit("")
    )
    scored = events.with_columns(
        *score_cols, *phrase_cols, *where_cols, noise=noise, noise_label=noise_label
    )
    best = pl.concat_list([pl.col(f"s_{c}") for c in names])
    scored = scored.with_columns(
        best_score=best.list.max(),
        best_index=best.list.arg_max(),
    ).with_columns(
        category=pl.when(pl.col("best_score") > 0)
        .then(pl.col("best_index").replace_strict(dict(enumerate(names)), return_dtype=pl.String))
        .otherwise(pl.lit("other")),
    )
    phrase = pl.coalesce([pl.when(pl.col("category") == c).then(pl.col(f"p_{c}")) for c in names])
    in_title = pl.coalesce([pl.when(pl.col("category") == c).then(pl.col(f"t_{c}")) for c in names])
    label = pl.col("category").replace_strict(CATEGORY_LABELS, return_dtype=pl.String)
    where = (
        pl.when(pl.col("in_title"))
        .then(pl.lit(" in the title"))
        .otherwise(pl.lit(" in the summary"))
    )
    matched = (
        pl.when(pl.col("matched_by").is_in(["domain", "link", "source"]))
        .then(
            pl.col("matched_by").replace_strict(
                {
                    "domain": "found by its domain ",
                    "link": "found by a link to ",
                    "source": "from its own source ",
                },
                return_dtype=pl.String,
            )
            + pl.col("match_text")
        )
        .when(pl.col("match_text") == pl.col("account_name"))
        .then(pl.lit("named") + where)
        .otherwise(
            pl.when(pl.col("matched_by") == "subsidiary")
            .then(pl.lit("named via "))
            .otherwise(pl.lit("named as "))
            + pl.lit('"')
            + pl.col("match_text")
            + pl.lit('"')
            + where
        )
    )
    why_category = (
        pl.when(pl.col("category") == "other")
        .then(pl.lit("Other: no category rule matched"))
        .otherwise(
            label
            + pl.lit(': "')
            + phrase.str.strip_chars().str.slice(0, 60)
            + pl.lit('"')
            + pl.when(in_title).then(pl.lit(" in the title")).otherwise(pl.lit(" in the summary"))
        )
    )
    relevance = (
        (
            pl.lit(w.base)
            + w.match * pl.col("match_strength")
            + w.category * pl.col("best_score")
            - pl.col("noise")
        )
        .clip(0.0, 1.0)
        .round(3)
    )
    reason = (
        why_category
        + pl.lit("; ")
        + pl.col("account_name")
        + pl.lit(" ")
        + matched
        + pl.when(pl.col("noise") > 0)
        .then(pl.lit("; less relevant: ") + pl.col("noise_label"))
        .otherwise(pl.lit(""))
    )
    return scored.select(
        pl.col("event_id").cast(pl.Int64),
        relevance.alias("relevance"),
        pl.col("category"),
        reason.alias("reason"),
    )
