"""The Great Expectations suite for normalized_leads.

One suite, run in two places: inside a Dagster asset check (the UI) and in pytest against
fixture data (CI), so both guard the same expectations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


def _expectations(min_valid_email_share: float) -> list[Any]:
    import great_expectations as gx  # slow to import: only when a suite actually runs

    ex = gx.expectations
    seniorities = [label for label, _ in SENIORITY_RULES] + ["individual_contributor"]
    return [
        ex.ExpectTableColumnsToMatchSet(column_set=list(NORMALIZED_SCHEMA), exact_match=True),
        ex.ExpectColumnValuesToNotBeNull(column="lead_id"),
        ex.ExpectColumnValuesToBeUnique(column="lead_id"),
        ex.ExpectColumnValuesToNotBeNull(column="source_file"),
        ex.ExpectColumnValuesToBeBetween(column="row_number", min_value=1),
        ex.ExpectColumnValuesToMatchRegex(column="email_canonical", regex=CANONICAL_EMAIL),
        ex.ExpectColumnValuesToNotBeNull(column="email_canonical", mostly=min_valid_email_share),
        ex.ExpectColumnValuesToMatchRegex(column="phone_e164", regex=E164),
        ex.ExpectColumnValuesToMatchRegex(column="domain", regex=DOMAIN),
        ex.ExpectColumnValuesToBeInSet(
            column="country", value_set=[c.alpha_2 for c in pycountry.countries]
        ),
        ex.ExpectColumnValuesToBeInSet(column="seniority", value_set=seniorities),
    ]


@cache
def _batch_definition() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no phoning home from CI
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("leads")
    return source.add_dataframe_asset("normalized_leads").add_batch_definition_whole_dataframe(
        "whole_frame"
    )


@cache
def _suite(min_valid_email_share: float) -> Any:
    import great_expectations as gx

    _batch_definition()  # a suite needs a live (ephemeral) context first
    suite = gx.ExpectationSuite(name=f"normalized_leads_{min_valid_email_share}")
    for expectation in _expectations(min_valid_email_share):
        suite.add_expectation(expectation)
    return suite


def validate_normalized_leads(
    frame: pl.DataFrame, min_valid_email_share: float = 0.5
) -> SuiteResult:
    """Run the suite over the frame and report each expectation's outcome."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    result = batch.validate(_suite(min_valid_email_share))
    outcomes = [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            observed=r.result.get("observed_value", r.result.get("unexpected_percent")),
        )
        for r in result.results
    ]
    return SuiteResult(success=bool(result.success), outcomes=outcomes)
