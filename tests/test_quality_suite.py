"""The Great Expectations suite the normalized_leads check runs, on fixture data; and its
polars evaluation (what the asset check runs) held to Great Expectations' own results."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.quality import suite, validate_normalized_leads, validate_with_great_expectations
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


# --- the polars evaluation the asset check runs == Great Expectations' own -------------------


def _clean(n_people: int = 20) -> pl.DataFrame:
    rows, _ = population(n_people=n_people, seed=3)
    return conform(normalized(rows), NORMALIZED_SCHEMA)


def _set(frame: pl.DataFrame, column: str, values: list) -> pl.DataFrame:
    """The first len(values) rows of `column` replaced by `values`."""
    head = pl.Series(column, values, dtype=frame.schema[column])
    return frame.with_columns(pl.concat([head, frame[column].slice(len(values))]).alias(column))


def _broken() -> pl.DataFrame:
    frame = _clean(40)
    frame = pl.concat([frame, frame.head(3)])  # three lead ids twice
    frame = _set(frame, "lead_id", [None, None])  # nulls are not duplicates
    frame = _set(frame, "source_file", [None])
    frame = _set(frame, "row_number", [0, -4, None])
    frame = _set(
        frame,
        "email_canonical",
        [
            "a.b@example.com\n",  # Python's `$` matches before a final newline
            "c@example.org\n",
            "a\x1cb@example.com",  # a control character Python's `\s` counts as space
            "a\u00a0b@example.com",  # a non-breaking space (`\s` in both)
            "jöhn@example.com",  # non-ASCII before the @ is allowed
            "",
            "no-at-sign.example.com",
            "x@EXAMPLE.COM",
            "x@example.c",
            None,
        ],
    )
    frame = _set(
        frame,
        "phone_e164",
        ["+0123456789", "+1 5551234567", "+15551234567\n", "+１５５５１２３４５６７", "5551234567"],
    )
    frame = _set(
        frame, "domain", ["xn--bcher-kva.example", "a..b.com", "ex ample.com", "bücher.de", "a.b"]
    )
    frame = _set(frame, "country", ["XX", "us", None, "GB"])
    return _set(frame, "seniority", ["ceo", None, "c_level"])


def _share_of_emails(frame: pl.DataFrame, valid: int) -> pl.DataFrame:
    """Exactly `valid` of the rows keep an email_canonical."""
    keep = pl.int_range(pl.len()) < valid
    return frame.with_columns(
        pl.when(keep).then(pl.lit("x@example.com")).otherwise(None).alias("email_canonical")
    )


@pytest.mark.parametrize(
    "case",
    [
        "clean",
        "broken",
        "email share at the threshold",
        "email share under the threshold",
        "missing and extra columns",
        "empty",
        "all null",
    ],
)
def test_polars_evaluation_equals_great_expectations(case):
    frame = {
        "clean": lambda: _clean(80),
        "broken": _broken,
        "email share at the threshold": lambda: (
            _share_of_emails(_clean(), 0).head(40).pipe(lambda f: _share_of_emails(f, 20))
        ),
        "email share under the threshold": lambda: _share_of_emails(_clean().head(40), 19),
        "missing and extra columns": lambda: (
            _clean().drop("seniority", "domain").with_columns(pl.lit(1).alias("unexpected"))
        ),
        "empty": lambda: _clean().head(0),
        "all null": lambda: _clean().with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("phone_e164", "domain", "country")
        ),
    }[case]()
    ours = validate_normalized_leads(frame, 0.5)
    theirs = validate_with_great_expectations(frame, 0.5)
    assert ours.outcomes == theirs.outcomes
    assert ours.success == theirs.success
    if case == "broken":  # every value expectation failed, and was compared
        assert {(f.expectation, f.column) for f in ours.failures} == {
            (e.type, e.column) for e in suite(0.5)[1:] if e.column != "email_canonical"
        } | {("expect_column_values_to_match_regex", "email_canonical")}


def test_a_frame_off_the_contract_types_goes_to_great_expectations():
    frame = _clean().with_columns(pl.col("row_number").cast(pl.String))
    assert validate_normalized_leads(frame).outcomes == (
        validate_with_great_expectations(frame).outcomes
    )
