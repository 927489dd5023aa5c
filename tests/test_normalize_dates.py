"""Day/month order decided per file and column (issue 21), and said in the asset metadata."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from babel import Locale
from dagster import AssetKey, DagsterInstance

from assets.partitions import arrival_partition_key
from pipeline.definitions import build_definitions, ingest_job, lead_source_from
from pipeline.normalize.dates import DAY_FIRST, MONTH_FIRST, country_order, parse_dates


def _read(values: list[str | None], files: list[str], country: str = "US"):
    return parse_dates(pl.Series("created_at", values), pl.Series(files), country)


def test_one_file_reads_every_value_in_one_order() -> None:
    parsed = _read(["24/09/2026", "05/09/2026", "12/10/2026"], ["eu.csv"] * 3)
    assert parsed.values.to_list() == [
        datetime(2026, 9, 24),
        datetime(2026, 9, 5),
        datetime(2026, 10, 12),
    ]
    assert parsed.orders.row(0, named=True) == {
        "source_file": "eu.csv",
        "column": "created_at",
        "order": DAY_FIRST,
        "decided_by": "the file's unambiguous values",
        "day_first_values": 1,
        "month_first_values": 0,
        "ambiguous_values": 2,
    }


def test_each_file_decides_for_itself() -> None:
    parsed = _read(
        ["24/09/2026", "05/09/2026", "09/24/2026", "05/09/2026"],
        ["eu.csv", "eu.csv", "us.csv", "us.csv"],
        country="DE",
    )
    assert parsed.values.to_list()[1] == datetime(2026, 9, 5)
    assert parsed.values.to_list()[3] == datetime(2026, 5, 9)
    assert parsed.orders["order"].to_list() == [DAY_FIRST, MONTH_FIRST]


@pytest.mark.parametrize(
    ("country", "expected"),
    [("US", datetime(2026, 5, 9)), ("DE", datetime(2026, 9, 5)), ("GB", datetime(2026, 9, 5))],
)
def test_undecided_files_follow_the_country_convention(country, expected) -> None:
    parsed = _read(["05/09/2026", "01/02/2026"], ["x.csv"] * 2, country)
    assert parsed.values[0] == expected
    assert parsed.orders["decided_by"].to_list() == [
        f"the convention of LEADS_DEFAULT_COUNTRY={country}"
    ]


def test_dotted_dates_are_day_first_when_nothing_decides() -> None:
    parsed = _read(["05.09.2026"], ["de.csv"], "US")
    assert parsed.values.to_list() == [datetime(2026, 9, 5)]
    assert parsed.orders["decided_by"].to_list() == ["dotted dates are day-first"]


@pytest.mark.parametrize("country", ["US", "PH", "CA", "DE", "GB", "FR", "JP", "BR", "ZZ"])
def test_country_convention_is_cldrs(country) -> None:
    if country == "ZZ":  # no such territory: day-first, as most of the world
        assert country_order(country) == DAY_FIRST
        return
    pattern = Locale.parse(f"und_{country}").date_formats["short"].pattern
    expected = {"US": MONTH_FIRST, "PH": MONTH_FIRST, "CA": MONTH_FIRST}.get(country, DAY_FIRST)
    assert country_order(country) == expected, pattern


def test_unambiguous_forms_and_offsets() -> None:
    values = ["05-Mar-2026", "March 5, 2026", "2026-01-02T03:04:05+02:00", "31/02/2026", "x"]
    parsed = _read(values, ["f.csv"] * len(values))
    assert parsed.values.to_list() == [
        datetime(2026, 3, 5),
        datetime(2026, 3, 5),
        datetime(2026, 1, 2, 3, 4, 5),
        None,  # no 31 February in either order
        None,
    ]


def test_normalized_leads_metadata_says_how_dates_were_read(settings) -> None:
    (settings.source_dir / "eu.csv").write_text(
        "Email,Created\na@acme.com,24/09/2026\nb@acme.com,05/09/2026\n", encoding="utf-8"
    )
    (settings.source_dir / "plain.csv").write_text(
        "Email,Created\nc@beta.io,05/09/2026\n", encoding="utf-8"
    )
    defs = build_definitions(settings)
    day = {
        arrival_partition_key(f.arrived_at)
        for f in lead_source_from(settings).list_files(None, None)
    }
    with DagsterInstance.ephemeral() as instance:
        for partition in sorted(day):
            result = defs.resolve_job_def(ingest_job.name).execute_in_process(
                instance=instance, partition_key=partition
            )
            assert result.success
        event = instance.get_latest_materialization_event(AssetKey("normalized_leads"))
    metadata = event.asset_materialization.metadata
    table = metadata["date_orders"].value
    assert (
        "| eu.csv | created_at | day-first | the file's unambiguous values | 1 / 0 / 1 |" in table
    )
    assert (
        "| plain.csv | created_at | month-first | the convention of LEADS_DEFAULT_COUNTRY=US"
        in table
    )
    assert metadata["dates_read_by_country_convention"].value == {
        "default_country": "US",
        "files": ["plain.csv"],
    }


def test_normalize_leads_still_unpacks_as_a_pair() -> None:
    from pipeline.normalize.leads import normalize_leads
    from pipeline.schema import RAW_LEADS_SCHEMA, conform

    raw = conform(
        pl.DataFrame({"lead_id": ["1"], "email": ["a@acme.com"], "created_at": ["05/09/2026"]}),
        RAW_LEADS_SCHEMA,
    )
    result = normalize_leads(raw, "GB")
    leads, rejected = result
    assert leads.equals(result.leads) and rejected.equals(result.rejected)
    assert leads["created_at"].to_list() == [datetime(2026, 9, 5)]
