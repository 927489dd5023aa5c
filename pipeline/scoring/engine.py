"""Rule scoring, vectorized: 0-100 score, grade and the top reasons per lead.

Each rule becomes one small integer per lead, its *outcome code* (which case matched, or
otherwise, or missing). Points, reasons and the learner's design matrix are all lookups on
these codes, so a million leads cost a few column passes, never a Python loop per row.
String conditions are evaluated on each column's distinct values (a lead table repeats a few
hundred industries and sources), then looked up per row with `is_in`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from pipeline.scoring.icp import MAX_POINTS, Case, Icp, Rule

SCORE_COLUMNS = ("lead_score", "lead_grade", "score_reasons")
AsOf = datetime | str  # an aware datetime, or the name of a per-lead reference-time column


@dataclass(frozen=True)
class Scored:
    """The scored frame plus what explains it: per-rule outcome codes (row-aligned) and the
    rule columns the input lacked (scored as empty, so the caller can say so)."""

    frame: pl.DataFrame
    codes: pl.DataFrame
    absent_columns: list[str] = field(default_factory=list)

    def no_input_count(self, icp: Icp) -> int:
        """Leads on which every rule found nothing to look at."""
        if self.codes.is_empty():
            return 0
        all_missing = pl.all_horizontal(
            pl.col(name) == missing_code(rule) for name, rule in icp.rules.items()
        )
        return int(self.codes.select(all_missing.sum()).item())


def otherwise_code(rule: Rule) -> int:
    return len(rule.cases)


def missing_code(rule: Rule) -> int:
    return len(rule.cases) + 1


def _normalized(expr: pl.Expr) -> pl.Expr:
    """The form strings are compared in: lower case, single spaces, no thousands commas."""
    out = expr.cast(pl.String).str.to_lowercase()
    for _ in range(2):  # "10,001,000": each pass joins every other group
        out = out.str.replace_all(r"(\d),(\d\d\d)", "${1}${2}")
    return out.str.replace_all(r"\s+", " ").str.strip_chars()


def _normalized_values(values: list) -> list[str]:
    series = pl.Series([str(v).lower() if isinstance(v, bool) else str(v) for v in values])
    return pl.select(_normalized(pl.lit(series))).to_series().to_list()


def _words_pattern(phrases: list[str]) -> str:
    """Any of the phrases, starting at a word start: "referral" matches "Referrals", but "it"
    does not match "digital" nor "list" "playlist"."""
    alternatives = "|".join(re.escape(p) for p in _normalized_values(phrases))
    return rf"(?:^|[^\w])(?:{alternatives})"


class _Columns:
    """Per input column: its dtype and, for text, its distinct values (computed once)."""

    def __init__(self, frame: pl.DataFrame, icp: Icp) -> None:
        self.schema = frame.schema
        wanted = {c for rule in icp.rules.values() for c in rule.columns()}
        self.absent = sorted(wanted - set(frame.columns))
        # Distinct values only where a case compares text: a phone column has ~1 per lead.
        compared = {
            case.column or rule.column
            for rule in icp.rules.values()
            for case in rule.cases
            if case.equals is not None or case.contains is not None
        } & set(self.schema)
        text = sorted(c for c in compared if self._is_text(c))
        lists = sorted(c for c in compared if self._is_list(c))
        lazy = frame.lazy()
        plans = [lazy.select(pl.col(c).cast(pl.String).unique().drop_nulls()) for c in text]
        plans += [
            lazy.select(pl.col(c).explode().cast(pl.String).unique().drop_nulls()) for c in lists
        ]
        distinct = pl.collect_all(plans) if plans else []
        self.distinct: dict[str, pl.DataFrame] = {}
        for name, values in zip([*text, *lists], distinct, strict=True):
            self.distinct[name] = values.select(
                pl.col(name).alias("raw"), _normalized(pl.col(name)).alias("norm")
            )

    def _is_list(self, column: str) -> bool:
        return isinstance(self.schema[column], pl.List | pl.Array)

    def _is_text(self, column: str) -> bool:
        dtype = self.schema[column]
        return not (
            dtype == pl.Boolean
            or dtype.is_temporal()
            or dtype.is_numeric()
            or self._is_list(column)
        )

    def matching(self, column: str, case: Case) -> pl.Series:
        """The raw distinct values of `column` that satisfy `case`'s equals/contains."""
        table = self.distinct[column]
        mask = pl.lit(False)
        if case.equals is not None:
            mask = mask | pl.col("norm").is_in(_normalized_values(case.equals))
        if case.contains is not None:
            mask = mask | pl.col("norm").str.contains(_words_pattern(case.contains))
        return table.filter(mask)["raw"]

    def missing(self, column: str) -> pl.Expr:
        if column in self.absent:
            return pl.lit(True)
        col = pl.col(column)
        if self._is_list(column):
            return col.is_null() | (col.list.len() == 0)
        if column in self.distinct:
            blank = self.distinct[column].filter(pl.col("norm") == "")["raw"]
            if blank.len():
                return col.is_null() | col.cast(pl.String).is_in(blank.implode())
            return col.is_null()
        if self._is_text(column):
            return col.is_null() | (col.cast(pl.String).str.strip_chars().str.len_bytes() == 0)
        return col.is_null()

    def condition(self, rule_name: str, column: str, case: Case, as_of: AsOf) -> pl.Expr:
        if column in self.absent:
            return pl.lit(False)
        dtype = self.schema[column]
        col = pl.col(column)
        days = case.within_days if case.within_days is not None else case.older_than_days
        if days is not None:
            when = _naive_utc(col, dtype, f"rule {rule_name!r}: {column}")
            if isinstance(as_of, str):
                reference = _naive_utc(pl.col(as_of), self.schema[as_of], f"as_of column {as_of}")
                cutoff = reference - pl.duration(days=days)
            else:
                cutoff = pl.lit(as_of.astimezone(UTC).replace(tzinfo=None) - timedelta(days=days))
            return when >= cutoff if case.within_days is not None else when < cutoff
        if dtype == pl.Boolean:
            if case.contains is not None:
                raise ValueError(
                    f"rule {rule_name!r}: `contains` needs a text column; {column} is boolean"
                )
            return col.is_in([_as_bool(v, rule_name, column) for v in case.equals or []])
        if self._is_list(column):
            matched = self.matching(column, case)
            return col.list.eval(pl.element().cast(pl.String).is_in(matched.implode())).list.any()
        if column in self.distinct:
            return col.cast(pl.String).is_in(self.matching(column, case).implode())
        if dtype.is_numeric():
            raise ValueError(
                f"rule {rule_name!r}: column {column} is numeric ({dtype}); "
                "bucket it into a text range first"
            )
        raise ValueError(f"rule {rule_name!r}: cannot match on column {column} of type {dtype}")


def _as_bool(value: object, rule_name: str, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"rule {rule_name!r}: {column} is boolean; equals needs true/false")


def _naive_utc(col: pl.Expr, dtype: pl.DataType, what: str) -> pl.Expr:
    """A date/time column as naive UTC datetimes, whatever its type or zone."""
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col
        return col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    if dtype == pl.String:
        parsed = col.str.to_datetime(strict=False, time_unit="us", time_zone="UTC")
        return parsed.dt.replace_time_zone(None)
    raise ValueError(f"{what}: within_days/older_than_days need a date column, not {dtype}")


def _code_expr(name: str, rule: Rule, cols: _Columns, as_of: AsOf) -> pl.Expr:
    """First matching case's index; otherwise_code; missing_code when every column is empty."""
    missing = pl.all_horizontal([cols.missing(c) for c in rule.columns()])
    expr = pl.when(missing).then(pl.lit(missing_code(rule), dtype=pl.UInt8))
    for index, case in enumerate(rule.cases):
        condition = cols.condition(name, case.column or rule.column, case, as_of)
        expr = expr.when(condition).then(pl.lit(index, dtype=pl.UInt8))
    return expr.otherwise(pl.lit(otherwise_code(rule), dtype=pl.UInt8)).alias(name)


def outcome_codes(
    frame: pl.DataFrame, icp: Icp, as_of: datetime | date | str | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """One UInt8 column per rule (named after it) holding each lead's outcome code, and the
    rule columns absent from `frame` (treated as empty).

    `as_of` is "now" for the date rules: a datetime (naive means UTC), a date, the name of a
    column holding each lead's own reference time (historical outcomes: how old was the lead
    when it was worked?), or None for the current time.
    """
    reference = _as_of(as_of, frame)
    cols = _Columns(frame, icp)
    exprs = [_code_expr(n, r, cols, reference) for n, r in icp.rules.items()]
    return frame.lazy().select(exprs).collect(), cols.absent


def _as_of(as_of: datetime | date | str | None, frame: pl.DataFrame) -> AsOf:
    if isinstance(as_of, str):
        if as_of not in frame.columns:
            raise ValueError(f"as_of column {as_of!r} is not in the leads")
        return as_of
    if as_of is None:
        return datetime.now(UTC)
    if not isinstance(as_of, datetime):
        as_of = datetime(as_of.year, as_of.month, as_of.day)
    return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)


def _reason_tables(icp: Icp) -> tuple[dict[str, list[int | None]], list[str]]:
    """Per rule: outcome code -> reason rank (None for zero points); and rank -> text.

    Ranks order every non-zero rule outcome of the ICP by absolute points (biggest first),
    then by rule and case order, so a lead's top reasons are its smallest ranks.
    """
    entries = []  # (-|points|, position, rule, code, text)
    position = 0
    for name, rule in icp.rules.items():
        for code, (points, label) in enumerate(rule.outcomes(name)):
            if points:
                entries.append((-abs(points), position, name, code, f"{points:+d} {label}"))
            position += 1
    entries.sort()
    ranks: dict[str, list[int | None]] = {
        name: [None] * (len(rule.cases) + 2) for name, rule in icp.rules.items()
    }
    for rank, (_, _, name, code, _) in enumerate(entries):
        ranks[name][code] = rank
    return {n: r for n, r in ranks.items() if any(x is not None for x in r)}, [
        e[4] for e in entries
    ]


def _lookup(values: list, dtype: pl.DataType, index: pl.Expr) -> pl.Expr:
    """values[index] per row (a gather from a literal: far cheaper than replace_strict)."""
    return pl.lit(pl.Series(values, dtype=dtype)).gather(index)


def _reason_stages(icp: Icp, method: str | None = None) -> tuple[list[list[pl.Expr]], pl.Expr]:
    """Expressions, in stages (each sees the columns of the ones before), leaving each lead's
    top `max_reasons` reason ranks in `__top_<j>` columns; and the final list column.

    - "bits" (up to 64 scoring outcomes, as in any hand-sized ICP): each rule contributes the
      bit of its rank, one OR (a sum, the bits being distinct) per lead; the j-th reason is
      the lowest set bit after clearing j of them. A handful of integer column passes.
    - "rounds" (any size): a lead's ranks are distinct, so its j-th best is the smallest
      rank above its (j-1)-th: `max_reasons` passes of min_horizontal over the rules.
    Both are several times faster than building and sorting a list per lead on a million
    rows; `list.head(count)` drops the empty slots far faster than `list.drop_nulls`.
    """
    ranks, texts = _reason_tables(icp)
    if not ranks:
        return [], pl.lit([], dtype=pl.List(pl.String))
    method = method or ("bits" if len(texts) <= 64 else "rounds")
    k = min(icp.max_reasons, len(ranks))
    stages: list[list[pl.Expr]] = []
    if method == "bits":
        bits = [
            _lookup([0 if r is None else 1 << r for r in codes], pl.UInt64(), pl.col(name))
            for name, codes in ranks.items()
        ]
        stages.append([pl.sum_horizontal(bits).alias("__bits")])
        left = pl.col("__bits")
        for j in range(k):
            top = pl.when(left != 0).then(left.bitwise_trailing_zeros()).alias(f"__top_{j}")
            stages.append([top, (left & (left - 1)).alias("__bits")])
    else:
        stages.append(
            [
                _lookup(r, pl.Int32(), pl.col(name)).alias(f"__rank_{name}")
                for name, r in ranks.items()
            ]
        )
        cols = [pl.col(f"__rank_{name}") for name in ranks]
        previous: pl.Expr | None = None
        for j in range(k):
            candidates = cols if previous is None else [pl.when(c > previous).then(c) for c in cols]
            stages.append([pl.min_horizontal(candidates).alias(f"__top_{j}")])
            previous = pl.col(f"__top_{j}")
    tops = [pl.col(f"__top_{j}") for j in range(k)]
    found = pl.sum_horizontal([t.is_not_null() for t in tops])
    reasons = pl.concat_arr([_lookup(texts, pl.String(), t) for t in tops]).arr.to_list()
    return stages, reasons.list.head(found)


def score_from_codes(codes: pl.DataFrame, icp: Icp) -> pl.DataFrame:
    """lead_score, lead_grade, score_reasons for row-aligned outcome codes (the learner
    scores its folds through this too)."""
    points = [
        _lookup([p for p, _ in rule.outcomes(name)], pl.Int32(), pl.col(name))
        for name, rule in icp.rules.items()
    ]
    total = (pl.sum_horizontal(points) + icp.base).clip(0, MAX_POINTS).cast(pl.Int32)
    grade = pl.lit(None, dtype=pl.String)
    for letter, minimum in sorted(icp.grades.items(), key=lambda kv: kv[1]):
        grade = pl.when(pl.col("lead_score") >= minimum).then(pl.lit(letter)).otherwise(grade)
    stages, reasons = _reason_stages(icp)
    plan = codes.lazy().with_columns(total.alias("lead_score"))
    for stage in stages:
        plan = plan.with_columns(stage)
    return plan.select(
        "lead_score", grade.alias("lead_grade"), reasons.alias("score_reasons")
    ).collect()


def score_leads(
    frame: pl.DataFrame, icp: Icp, as_of: datetime | date | str | None = None
) -> Scored:
    """`frame` with lead_score (0-100), lead_grade and score_reasons (biggest effect first).

    `as_of` is "now" for the recency rules (see `outcome_codes`); pass it to score
    reproducibly.
    """
    codes, absent = outcome_codes(frame, icp, as_of)
    scores = score_from_codes(codes, icp)
    out = frame.drop([c for c in SCORE_COLUMNS if c in frame.columns]).hstack(scores.get_columns())
    return Scored(frame=out, codes=codes, absent_columns=absent)
