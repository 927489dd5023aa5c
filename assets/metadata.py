"""Small helpers shared by assets for metadata the Dagster UI renders well."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import polars as pl
from dagster import AssetCheckResult, MetadataValue, TableColumn, TableRecord, TableSchema

# Cells longer than this are cut in previews (a notes field must not swamp the table).
_CELL_CHARS = 80
_BAR_WIDTH = 30


def _cell(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value  # type: ignore[return-value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def preview(frame: pl.DataFrame, rows: int = 10) -> MetadataValue:
    """The first rows as a table the UI renders (sortable columns), with their types."""
    head = frame.head(rows)
    schema = TableSchema(
        columns=[TableColumn(name=name, type=str(dtype)) for name, dtype in head.schema.items()]
    )
    records = [
        TableRecord({k: _cell(v) for k, v in row.items()}) for row in head.iter_rows(named=True)
    ]
    return MetadataValue.table(records=records, schema=schema)


def bar_chart(values: Mapping[str, int | float], label: str = "count") -> MetadataValue:
    """A horizontal bar chart in markdown: one row per key, in the mapping's order."""
    if not values:
        return MetadataValue.md("_nothing to chart_")
    top = max(values.values()) or 1
    lines = [f"| | {label} | |", "|---|---:|---|"]
    for key, value in values.items():
        bar = "█" * max(1 if value else 0, round(_BAR_WIDTH * value / top))
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
        lines.append(f"| {key} | {shown} | {bar} |")
    return MetadataValue.md("\n".join(lines))


def counts(frame: pl.DataFrame, column: str) -> MetadataValue:
    """value -> count, most frequent first, as JSON."""
    if frame.is_empty():
        return MetadataValue.json({})
    grouped = frame.group_by(column).len().sort("len", descending=True)
    return MetadataValue.json({str(k): int(v) for k, v in grouped.iter_rows()})


def date_orders_table(orders: pl.DataFrame) -> MetadataValue:
    """The day/month order of each file's numeric dates as a markdown table."""
    if orders.is_empty():
        return MetadataValue.md("_no numeric day/month dates_")
    lines = [
        "| file | column | read | decided by | day-first / month-first / ambiguous values |",
        "|---|---|---|---|---|",
    ]
    for row in orders.iter_rows(named=True):
        lines.append(
            f"| {row['source_file']} | {row['column']} | {row['order']} | {row['decided_by']} "
            f"| {row['day_first_values']} / {row['month_first_values']} / "
            f"{row['ambiguous_values']} |"
        )
    return MetadataValue.md("\n".join(lines))


def unique_ids_check(check_name: str, asset_key: str, frame: pl.DataFrame, column: str):
    """A check result that fails when any id in `column` appears twice."""
    duplicated = frame.height - frame[column].n_unique()
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=duplicated == 0,
        metadata={"duplicated_ids": duplicated},
    )
