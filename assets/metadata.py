"""Small helpers shared by assets for metadata the Dagster UI renders well."""

from __future__ import annotations

import polars as pl
from dagster import AssetCheckResult, MetadataValue


def preview(frame: pl.DataFrame, rows: int = 10) -> MetadataValue:
    """A fixed-width preview; polars' own table rendering reads well in the UI's markdown."""
    if frame.is_empty():
        return MetadataValue.md("_empty_")
    with pl.Config(tbl_rows=rows, tbl_cols=12, fmt_str_lengths=40, tbl_width_chars=200):
        return MetadataValue.md(f"```\n{frame.head(rows)}\n```")


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
