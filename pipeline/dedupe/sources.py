"""The tables the engine takes: a polars DataFrame in memory, or a LazyFrame (a parquet
scan) read a few columns at a time, so a large table never sits in memory whole."""

from __future__ import annotations

import polars as pl

Source = pl.DataFrame | pl.LazyFrame


def read_columns(source: Source, names: list[str]) -> pl.DataFrame:
    """These columns: selected from memory, or read from a lazy source (only these)."""
    if isinstance(source, pl.LazyFrame):
        return source.select(names).collect()
    return source.select(names)
