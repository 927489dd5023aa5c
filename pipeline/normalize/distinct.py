"""Normalize each distinct value once and join the result back.

Titles, dates, companies, countries and websites repeat heavily across a lead table, so
the expensive regex work runs over thousands of distinct values instead of every row.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

_KEY = "__distinct_key"


def on_distinct(
    frame: pl.DataFrame, column: str, build: Callable[[pl.Expr], list[pl.Expr]]
) -> pl.DataFrame:
    """`build(col)` gives the output expressions for a column; they are evaluated on the
    distinct values of `column` and joined back (outputs may replace existing columns)."""
    distinct = frame.select(pl.col(column).unique().alias(_KEY))
    mapped = distinct.lazy().with_columns(build(pl.col(_KEY))).collect()
    outputs = [c for c in mapped.columns if c != _KEY]
    return (
        frame.with_columns(pl.col(column).alias(_KEY))
        .drop([c for c in outputs if c in frame.columns])
        .join(mapped, on=_KEY, how="left", nulls_equal=True, maintain_order="left")
        .drop(_KEY)
    )
