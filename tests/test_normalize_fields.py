"""Each normalizer on nasty inputs (phones have their own test module)."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.normalize.companies import company_columns
from pipeline.normalize.countries import country_expr
from pipeline.normalize.dates import parse_dates
from pipeline.normalize.distinct import with_distinct
from pipeline.normalize.domains import host_expr, registrable_domains
from pipeline.normalize.emails import normalize_emails
from pipeline.normalize.names import normalize_names
from pipeline.normalize.titles import title_columns


def _emails(values: list[str | None]) -> list[dict]:
    frame = pl.DataFrame({"e": values}, schema={"e": pl.String})
    return normalize_emails(frame, "e").drop("e").to_dicts()


@pytest.mark.parametrize(
    ("raw", "email", "valid", "canonical"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com", True, "john.doe@example.com"),
        ("J.O.H.N+promo@gmail.com", "j.o.h.n+promo@gmail.com", True, "john@gmail.com"),
        ("jo.hn@googlemail.com", "jo.hn@googlemail.com", True, "john@gmail.com"),
        (
            "first.last+news@outlook.com",
            "first.last+news@outlook.com",
            True,
            "first.last@outlook.com",
        ),
        ("mailto:<ann@acme.io>", "ann@acme.io", True, "ann@acme.io"),
        ("not an email", "not an email", False, None),
        ("bob@localhost", "bob@localhost", False, None),
        ("a@@b.com", "a@@b.com", False, None),
        ("", None, False, None),
        (None, None, False, None),
    ],
)
def test_email_cleanup_validity_and_canonical_form(raw, email, valid, canonical):
    row = _emails([raw])[0]
    assert (row["email"], row["email_valid"], row["email_canonical"]) == (email, valid, canonical)


def test_role_and_free_mail_flags():
    rows = _emails(["info@acme.com", "ann@gmail.com", "ann@acme.com", "bad"])
    assert [r["is_role_email"] for r in rows] == [True, False, False, False]
    assert [r["is_free_email"] for r in rows] == [False, True, False, False]


def _names(first, last, full) -> dict:
    frame = pl.DataFrame(
        {"f": [first], "l": [last], "n": [full]},
        schema={"f": pl.String, "l": pl.String, "n": pl.String},
    )
    return normalize_names(frame, "f", "l", "n").to_dicts()[0]


@pytest.mark.parametrize(
    ("first", "last", "full", "expected"),
    [
        ("JOHN", "mcDONALD", None, ("John", None, "McDonald")),
        (None, None, "Doe, Jane", ("Jane", None, "Doe")),
        (None, None, "Ludwig van Beethoven", ("Ludwig", None, "van Beethoven")),
        (None, None, "JEAN-LUC PICARD", ("Jean-Luc", None, "Picard")),
        (None, None, "o'brien, conan", ("Conan", None, "O'Brien")),
        (None, None, "Mr. John Paul SMITH III", ("John", "Paul", "Smith")),
        ("DeAndre", "Jordan", None, ("DeAndre", None, "Jordan")),
        (None, None, "madonna", ("Madonna", None, None)),
        ("  ", None, "   ", (None, None, None)),
    ],
)
def test_names_are_split_and_case_fixed_where_safe(first, last, full, expected):
    row = _names(first, last, full)
    assert (row["first_name"], row["middle_name"], row["last_name"]) == expected


def test_honorifics_and_suffixes_are_separated():
    row = _names("dr. jane", "smith jr.", None)
    assert (row["name_prefix"], row["first_name"], row["last_name"], row["name_suffix"]) == (
        "Dr.",
        "Jane",
        "Smith",
        "jr.",
    )
    assert _names(None, None, "Jane Doe, Jr.")["name_suffix"] == "Jr."


@pytest.mark.parametrize(
    ("raw", "display", "key"),
    [
        ("ACME, Inc.", "ACME, Inc.", "acme"),
        ("Acme Incorporated", "Acme Incorporated", "acme"),
        ("The Müller & Söhne GmbH", "The Müller & Söhne GmbH", "muller and sohne"),
        ("Foo Co., Ltd.", "Foo Co., Ltd.", "foo"),
        ("Bar sp. z o.o.", "Bar sp. z o.o.", "bar"),
        ("Société Générale S.A.", "Société Générale S.A.", "societe generale"),
        ("Martin Group", "Martin Group", "martin"),
        ("MARTIN GRP", "MARTIN GRP", "martin"),
        ("  ", None, None),
    ],
)
def test_company_display_and_matching_key(raw, display, key):
    frame = pl.DataFrame({"c": [raw]}, schema={"c": pl.String})
    row = with_distinct(frame, [("c", company_columns)]).to_dicts()[0]
    assert (row["company"], row["company_key"]) == (display, key)


@pytest.mark.parametrize(
    ("raw", "host", "domain"),
    [
        ("https://www.Acme.com/about?x=1", "acme.com", "acme.com"),
        ("shop.acme.co.uk", "shop.acme.co.uk", "acme.co.uk"),
        ("http://user@www2.example.org:8080/", "example.org", "example.org"),
        ("not a url", None, None),
    ],
)
def test_domain_is_reduced_to_registrable_part(raw, host, domain):
    hosts = pl.DataFrame({"w": [raw]}).select(host_expr(pl.col("w"))).to_series()
    assert hosts[0] == host
    assert registrable_domains(hosts)[0] == domain


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("USA", "US"),
        ("United States of America", "US"),
        ("u.s.", "US"),
        ("Deutschland", "DE"),
        ("fr", "FR"),
        ("GBR", "GB"),
        ("England", "GB"),
        ("Côte d’Ivoire", "CI"),
        ("Atlantis", None),
        (None, None),
    ],
)
def test_country_to_iso_alpha2(raw, code):
    assert (
        pl.DataFrame({"c": [raw]}, schema={"c": pl.String}).select(country_expr(pl.col("c"))).item()
        == code
    )


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("VP Sales", "vp", "sales"),
        ("Senior Software Engineer", "senior", "engineering"),
        ("CEO & Co-Founder", "c_level", "executive"),
        ("Head of Marketing", "director", "marketing"),
        ("Account Executive", "individual_contributor", "sales"),
        ("Marketing intern", "entry", "marketing"),
        (None, None, None),
    ],
)
def test_title_to_seniority_and_department(title, seniority, department):
    frame = pl.DataFrame({"t": [title]}, schema={"t": pl.String})
    row = with_distinct(frame, [("t", title_columns)]).to_dicts()[0]
    assert (row["seniority"], row["department"]) == (seniority, department)


@pytest.mark.parametrize(
    ("short", "spelled"),
    [
        ("Office Mgr", "Office Manager"),
        ("Sales Mgr", "Sales Manager"),
        ("Customer Success Mgr", "Customer Success Manager"),
        ("CSM", "Customer Success Manager"),
        ("Dir. Operations", "Director of Operations"),
        ("CTO", "Chief Technology Officer"),
        ("COO", "Chief Operating Officer"),
        ("CIO", "Chief Information Officer"),
        ("Account Exec", "Account Executive"),
        ("BDM", "Business Development Manager"),
        ("Biz Dev Manager", "Business Development Manager"),
        ("Senior SWE", "Senior Software Engineer"),
        ("VP Eng", "VP Engineering"),
        ("Mktg Manager", "Marketing Manager"),
        ("MD", "Managing Director"),
        ("GM", "General Manager"),
    ],
)
def test_an_abbreviated_title_has_the_seniority_and_department_of_its_spelled_out_form(
    short, spelled
):
    # Both are what people type; the ICP scores read seniority and department.
    frame = pl.DataFrame({"t": [short, spelled]})
    rows = with_distinct(frame, [("t", title_columns)]).to_dicts()
    assert (rows[0]["seniority"], rows[0]["department"]) == (
        rows[1]["seniority"],
        rows[1]["department"],
    )
    assert rows[1]["seniority"] != "individual_contributor" or rows[1]["department"]


def test_dates_in_common_formats():
    values = ["2026-10-01", "10/31/2025", "31.12.2024", "2026-01-02T03:04:05Z", "garbage", None]
    files = ["a.csv", "b.csv", "c.csv", "a.csv", "a.csv", "a.csv"]
    parsed = parse_dates(pl.Series("d", values), pl.Series(files)).values
    assert [d.date().isoformat() if d else None for d in parsed] == [
        "2026-10-01",
        "2025-10-31",
        "2024-12-31",
        "2026-01-02",
        None,
        None,
    ]
