"""The shortcuts that make normalization fast must not change its answers.

Each test compares a shortcut with the plain form it replaced: hash joins of distinct-value
tables (also when two values share a hash), the one-regex email check, the cheaper
whitespace squash, full names split only where there is no first or last name, and phone
texts without digits skipping the routing. Plus one bug found on the way ("MAILTO:").
"""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
import pytest

from pipeline.normalize import distinct, empty_to_null, phones, squash_spaces
from pipeline.normalize.emails import (
    DOMAIN_PATTERN,
    EMAIL_PATTERN,
    LOCAL_PATTERN,
    normalize_emails,
)
from pipeline.normalize.names import normalize_names
from pipeline.normalize.phones import parse_phones

_WORDS = ["  Ann ", "BOB", "ann", None, "", "Mr. Lee", "lee jr.", "O'NEIL", " , ", "van dijk"]


def _upper_and_length(key: pl.Expr) -> list[pl.Expr]:
    return [key.str.to_uppercase().alias("upper"), key.str.len_chars().alias("length")]


def _by_value(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.select(_upper_and_length(pl.col(column)))


@pytest.mark.parametrize("collide", [False, True])
def test_distinct_tables_map_back_to_every_row(monkeypatch, collide: bool) -> None:
    if collide:  # every value of one length shares a hash: the join must not be trusted
        monkeypatch.setattr(distinct, "_hash", lambda key: key.str.len_bytes().cast(pl.UInt64))
    values = random.Random(1).choices(_WORDS, k=500)
    frame = pl.DataFrame({"w": values}, schema={"w": pl.String})
    out = distinct.with_distinct(frame, [("w", _upper_and_length)])
    assert out.select("upper", "length").equals(_by_value(frame, "w"))


def test_one_email_regex_is_the_three_checks() -> None:
    samples = [
        "a@b.co", "a@@b.co", "@b.co", "a@", "a@b", "a.b@c.de", "a..b@c.de", ".a@b.co",
        "a@b..co", "a@-b.co", "a@b-.co", "a+b@c.io", "a b@c.io", "a@b.c0", "x@y@z.com",
        "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com", "a\n@b.co", "a@b.co\n", "é@b.co",
    ]  # fmt: skip
    emails = pl.Series("e", samples)
    one_at = emails.str.count_matches("@", literal=True) == 1
    local = emails.str.extract(r"^([^@]+)@", 1).str.contains(LOCAL_PATTERN)
    domain = emails.str.extract(r"@([^@]+)$", 1).str.contains(DOMAIN_PATTERN)
    three = (one_at & local & domain).fill_null(False)
    assert emails.str.contains(EMAIL_PATTERN).equals(three)


def test_space_squash_equals_every_whitespace_run_to_one_space() -> None:
    chars = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000", "a", ","]
    rng = random.Random(2)
    texts = ["".join(rng.choices(chars, k=rng.randint(0, 9))) for _ in range(5000)]
    frame = pl.DataFrame({"t": [*texts, None]}, schema={"t": pl.String})
    squashed = frame.select(squash_spaces(pl.col("t"))).to_series()
    assert squashed.equals(frame["t"].str.replace_all(r"\s+", " "))


def test_empty_to_null() -> None:
    frame = pl.DataFrame({"t": ["a", "", None, " "]})
    assert frame.select(empty_to_null(pl.col("t"))).to_series().to_list() == ["a", None, None, " "]


@pytest.mark.parametrize(
    ("first", "last", "full", "expected"),
    [
        ("  ", None, "Jane Doe", ("Jane", None, "Doe")),  # blank first: the full name is used
        (" , ", "'", "Doe, Jane", ("Jane", None, "Doe")),
        ("Ann", None, "Jane Doe", ("Ann", None, None)),  # a first name: the full one is not
        (None, "Lee", "Jane Doe", (None, None, "Lee")),
    ],
)
def test_full_name_only_where_no_first_or_last(first, last, full, expected) -> None:
    frame = pl.DataFrame(
        {"f": [first], "l": [last], "n": [full]},
        schema={"f": pl.String, "l": pl.String, "n": pl.String},
    )
    row = normalize_names(frame, "f", "l", "n").row(0, named=True)
    assert (row["first_name"], row["middle_name"], row["last_name"]) == expected


def test_texts_without_digits_are_invalid_in_bulk(monkeypatch) -> None:
    """Skipped before routing; phonenumbers rejects every one of them."""
    monkeypatch.setattr(phones, "_MIN_GROUP_ROWS", 0)
    texts = ["", " ", "+", "++", "n/a", "ext. ", "tel:", "x", "(+)", "-", "+ x #"]
    regions = ["US", "GB", "DE", None, "XX"]
    for text in texts:
        for region in ("US", "GB", "DE"):
            with pytest.raises(phonenumbers.NumberParseException):
                phonenumbers.parse(text, region)
    raw = pl.Series([t for t in texts for _ in regions], dtype=pl.String)
    region = pl.Series([r for _ in texts for r in regions], dtype=pl.String)
    out = parse_phones(raw, region)
    assert not out["phone_valid"].any()
    assert out.select(pl.exclude("phone_valid").null_count()).row(0) == (len(raw),) * 3


@pytest.mark.parametrize(
    "raw", ["mailto:ann@acme.io", "MAILTO:Ann@Acme.io", " Mailto:<ann@acme.io>"]
)
def test_mailto_prefix_in_any_case(raw: str) -> None:
    """Regression: only a lower-case "mailto:" used to be cut, so "MAILTO:x@y.z" was invalid."""
    row = normalize_emails(pl.DataFrame({"email": [raw]})).row(0, named=True)
    assert (row["email"], row["email_valid"]) == ("ann@acme.io", True)
