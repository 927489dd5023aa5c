"""The Great Expectations suite the normalized_leads check runs, on fixture data."""

from __future__ import annotations

import polars as pl

from pipeline.quality import validate_normalized_leads
from pipeline.schema import NORMALIZED_SCHEMA, conform
from tests.people import normalized, population


def test_suite_passes_on_clean_normalized_leads():
    rows, _ = population(n_people=80, seed=3)
    result = validate_normalized_leads(conform(normalized(rows), NORMALIZED_SCHEMA))
    assert result.success, result.failures


def test_suite_names_each_broken_expectation():
    rows, _ = population(n_people=20, seed=3)
    good = conform(normalized(rows), NORMALIZED_SCHEMA)
    bad = pl.concat([good, good.head(1)]).with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("0415 555"))
        .otherwise(pl.col("phone_e164"))
        .alias("phone_e164"),
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("XX"))
        .otherwise(pl.col("country"))
        .alias("country"),
    )
    result = validate_normalized_leads(bad)
    assert not result.success
    failed = {(f.expectation, f.column) for f in result.failures}
    assert failed == {
        ("expect_column_values_to_be_unique", "lead_id"),
        ("expect_column_values_to_match_regex", "phone_e164"),
        ("expect_column_values_to_be_in_set", "country"),
    }


def test_suite_flags_too_few_valid_emails():
    rows, _ = population(n_people=20, seed=3)
    frame = conform(normalized(rows), NORMALIZED_SCHEMA).with_columns(
        pl.lit(None, pl.String).alias("email_canonical")
    )
    failed = {(f.expectation, f.column) for f in validate_normalized_leads(frame, 0.5).failures}
    assert ("expect_column_values_to_not_be_null", "email_canonical") in failed
