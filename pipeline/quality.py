"""The Great Expectations suite for normalized_leads.

One suite (`suite()`: Great Expectations' expectation types and arguments), run two ways:

- `validate_normalized_leads` evaluates it with polars, vectorized, as Great Expectations'
  pandas engine does (same outcome, same observed value): this is what the
  `great_expectations_suite` asset check runs. Great Expectations itself costs ~3 s of
  imports and a pandas copy of the frame per run (9 s of a 200,000-lead ingest on the
  shared box), for eleven counts polars takes in ~0.2 s.
- `validate_with_great_expectations` builds the same expectations in Great Expectations and
  validates with its own engine: CI runs both on fixture frames, clean and broken in every
  way the suite can fail, and requires identical outcomes (tests/test_quality_suite.py).

A frame off the contract's types (a column of another dtype) goes to Great Expectations
itself, whose type coercions the polars evaluation does not reproduce.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import polars as pl
import pycountry

from pipeline.normalize.titles import SENIORITY_RULES
from pipeline.schema import NORMALIZED_SCHEMA

E164 = r"^\+[1-9][0-9]{6,14}$"
CANONICAL_EMAIL = r"^[^@\s]+@[a-z0-9.-]+\.[a-z]{2,24}$"
DOMAIN = r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"


@dataclass(frozen=True)
class Expectation:
    """One expectation as Great Expectations names it (`type`) with its arguments."""

    type: str
    column: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        """expect_column_values_to_be_unique -> ExpectColumnValuesToBeUnique."""
        return "".join(part.capitalize() for part in self.type.split("_"))


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    observed: Any


@dataclass(frozen=True)
class SuiteResult:
    success: bool
    outcomes: list[ExpectationOutcome]

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


@cache
def _countries() -> tuple[str, ...]:
    return tuple(c.alpha_2 for c in pycountry.countries)


@cache
def suite(min_valid_email_share: float = 0.5) -> tuple[Expectation, ...]:
    """The expectations normalized_leads is held to, in order."""
    seniorities = [label for label, _ in SENIORITY_RULES] + ["individual_contributor"]
    values = "expect_column_values_to_"
    return (
        Expectation(
            "expect_table_columns_to_match_set",
            kwargs={"column_set": list(NORMALIZED_SCHEMA), "exact_match": True},
        ),
        Expectation(values + "not_be_null", "lead_id"),
        Expectation(values + "be_unique", "lead_id"),
        Expectation(values + "not_be_null", "source_file"),
        Expectation(values + "be_between", "row_number", {"min_value": 1}),
        Expectation(values + "match_regex", "email_canonical", {"regex": CANONICAL_EMAIL}),
        Expectation(values + "not_be_null", "email_canonical", {"mostly": min_valid_email_share}),
        Expectation(values + "match_regex", "phone_e164", {"regex": E164}),
        Expectation(values + "match_regex", "domain", {"regex": DOMAIN}),
        Expectation(values + "be_in_set", "country", {"value_set": list(_countries())}),
        Expectation(values + "be_in_set", "seniority", {"value_set": seniorities}),
    )


# --- polars: Great Expectations' pandas semantics, vectorized -------------------------------


def _regex_matches(values: pl.Series, regex: str) -> pl.Series:
    """Python's `re.search` per value (pandas' `str.contains`, which GE's pandas engine
    calls), once per distinct value. Printable-ASCII values take polars' regex: for them
    this suite's patterns mean the same in both engines; the rest (control characters,
    which Python's `\\s` counts as space, a newline Python's `$` matches before, non-ASCII)
    go through `re` itself."""
    distinct = values.unique()
    ascii_printable = distinct.str.contains(r"^[\x20-\x7e]*$")
    fast = distinct.filter(ascii_printable)
    slow = distinct.filter(~ascii_printable)
    pattern = re.compile(regex)
    matched = pl.concat(
        [
            fast.filter(fast.str.contains(regex)),
            pl.Series([v for v in slow.to_list() if pattern.search(v)], dtype=pl.String),
        ]
    )
    return values.is_in(matched.implode())


def _unexpected(expectation: Expectation, values: pl.Series) -> pl.Series:
    """Per non-null value, whether it breaks the expectation."""
    kind, kwargs = expectation.type, expectation.kwargs
    if kind == "expect_column_values_to_be_unique":
        return values.is_duplicated()
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        ok = values.is_not_null()  # all true: nulls were dropped
        if low is not None:
            ok = ok & (values >= low)
        if high is not None:
            ok = ok & (values <= high)
        return ~ok
    if kind == "expect_column_values_to_match_regex":
        return ~_regex_matches(values, kwargs["regex"])
    if kind == "expect_column_values_to_be_in_set":
        return ~values.is_in(pl.Series(kwargs["value_set"], dtype=values.dtype).implode())
    raise ValueError(f"no polars evaluation for {kind}")


def _map_outcome(expectation: Expectation, column: pl.Series) -> ExpectationOutcome:
    """A column map expectation: GE's counts, `mostly` and unexpected_percent."""
    mostly = float(expectation.kwargs.get("mostly", 1.0))
    total = len(column)
    if expectation.type == "expect_column_values_to_not_be_null":
        # Nothing is filtered out: nulls are what is counted.
        unexpected, considered = column.null_count(), total
        percent = unexpected / total * 100 if total else None
        success = True if total == 0 else (total - unexpected) / total >= mostly
    else:
        values = column.drop_nulls()
        considered = len(values)
        unexpected = int(_unexpected(expectation, values).sum()) if considered else 0
        percent = unexpected / considered * 100 if total and considered else None
        success = (
            True
            if total == 0 or considered == 0
            else (float(considered) - float(unexpected)) / float(considered) >= mostly
        )
    return ExpectationOutcome(expectation.type, expectation.column, success, percent)


def _evaluate(expectation: Expectation, frame: pl.DataFrame) -> ExpectationOutcome:
    if expectation.type == "expect_table_columns_to_match_set":
        expected, actual = set(expectation.kwargs["column_set"]), set(frame.columns)
        exact = expectation.kwargs.get("exact_match", True)
        success = actual == expected if exact else expected <= actual
        return ExpectationOutcome(expectation.type, None, success, sorted(actual))
    if expectation.column not in frame.columns:
        # GE reports the metric's error: not a success, nothing observed.
        return ExpectationOutcome(expectation.type, expectation.column, False, None)
    return _map_outcome(expectation, frame[expectation.column])


def _on_contract(frame: pl.DataFrame, expectations: tuple[Expectation, ...]) -> bool:
    """Every column the expectations read has the contract's dtype (or is absent)."""
    return all(
        e.column is None
        or e.column not in frame.columns
        or frame.schema[e.column] == NORMALIZED_SCHEMA.get(e.column)
        for e in expectations
    )


def validate_normalized_leads(
    frame: pl.DataFrame, min_valid_email_share: float = 0.5
) -> SuiteResult:
    """Run the suite over the frame and report each expectation's outcome (polars; Great
    Expectations itself for a frame off the contract's types)."""
    expectations = suite(min_valid_email_share)
    if not _on_contract(frame, expectations):
        return validate_with_great_expectations(frame, min_valid_email_share)
    outcomes = [_evaluate(e, frame) for e in expectations]
    return SuiteResult(success=all(o.success for o in outcomes), outcomes=outcomes)


# --- Great Expectations itself ---------------------------------------------------------------


@cache
def _batch_definition() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no phoning home from CI
    import great_expectations as gx  # slow to import: only when a suite actually runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("leads")
    return source.add_dataframe_asset("normalized_leads").add_batch_definition_whole_dataframe(
        "whole_frame"
    )


@cache
def _gx_suite(min_valid_email_share: float) -> Any:
    import great_expectations as gx

    _batch_definition()  # a suite needs a live (ephemeral) context first
    gx_suite = gx.ExpectationSuite(name=f"normalized_leads_{min_valid_email_share}")
    for e in suite(min_valid_email_share):
        build: Callable[..., Any] = getattr(gx.expectations, e.class_name)
        gx_suite.add_expectation(build(**({"column": e.column} if e.column else {}), **e.kwargs))
    return gx_suite


def validate_with_great_expectations(
    frame: pl.DataFrame, min_valid_email_share: float = 0.5
) -> SuiteResult:
    """The suite validated by Great Expectations' own (pandas) engine."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    result = batch.validate(_gx_suite(min_valid_email_share))
    reported = {
        (r.expectation_config.type, r.expectation_config.kwargs.get("column")): r
        for r in result.results
    }
    # In the suite's order (GE lists an expectation whose metric raised first).
    outcomes = [
        ExpectationOutcome(
            expectation=e.type,
            column=e.column,
            success=bool(r.success),
            observed=r.result.get("observed_value", r.result.get("unexpected_percent")),
        )
        for e in suite(min_valid_email_share)
        for r in [reported[(e.type, e.column)]]
    ]
    return SuiteResult(success=bool(result.success), outcomes=outcomes)
