"""Metadata the Dagster UI understands: previews as tables, charts as markdown, and the
standard row count and column schema on every materialization."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from dagster import DagsterInstance

from assets.metadata import bar_chart, preview
from pipeline.definitions import build_definitions, ingest_job


def test_preview_is_a_typed_table_with_long_cells_cut():
    frame = pl.DataFrame(
        {"name": ["Ann", "x" * 500], "n": [1, None], "at": [datetime(2026, 1, 2), None]}
    )
    value = preview(frame)
    assert [c.name for c in value.schema.columns] == ["name", "n", "at"]
    first, second = (r.data for r in value.records)
    assert first == {"name": "Ann", "n": 1, "at": "2026-01-02T00:00:00"}
    assert len(second["name"]) == 80 and second["n"] is None


def test_bar_chart_scales_bars_to_the_largest_value():
    text = bar_chart({"A": 10, "B": 5, "C": 0}, "leads").value
    rows = text.splitlines()[2:]
    assert rows[0].count("█") == 30 and rows[1].count("█") == 15 and rows[2].count("█") == 0
    assert "| B | 5 |" in rows[1]


def test_materializations_carry_the_standard_row_count_and_columns(settings):
    (settings.source_dir / "a.csv").write_text("Email,Name\na@x.com,Ann Lee\n,\n")
    defs = build_definitions(settings)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(ingest_job.name).execute_in_process(
            instance=instance, partition_key=day
        )
    by_key = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert by_key["normalized_leads"]["dagster/row_count"].value == 1
    columns = [c.name for c in by_key["normalized_leads"]["dagster/column_schema"].value.columns]
    assert "email_canonical" in columns
    assert "| empty_row | 1 |" in by_key["rejected_rows"]["reasons_chart"].value
