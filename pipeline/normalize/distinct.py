"""Normalize each distinct value once and map the result back to the rows.

Names, titles, companies, countries and websites repeat heavily across a lead table, so the
expensive regex work runs over the distinct values instead of every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from pipeline.normalize import ENGINE

_KEY = "__distinct_key"

# `build(col)` gives a column's output expressions, evaluated on its distinct values; or a
# list of stages (lists of expressions, each stage seeing the columns of the ones before),
# whose last stage names the outputs: staged intermediates are computed once.
Build = Callable[[pl.Expr], list[pl.Expr]] | Callable[[pl.Expr], list[list[pl.Expr]]]


def _table(keys: pl.LazyFrame, build: Build) -> pl.LazyFrame:
    """The distinct values of the _KEY column and `build`'s outputs for them."""
    table = keys.unique()
    stages = build(pl.col(_KEY))
    if not stages or isinstance(stages[0], pl.Expr):
        return table.with_columns(stages)
    for stage in stages[:-1]:
        table = table.with_columns(stage)
    return table.select(_KEY, *stages[-1])


def distinct_plan(frame: pl.LazyFrame, column: str | pl.Expr, build: Build) -> pl.LazyFrame:
    """`build`'s outputs for every row of `frame` (only those columns, in row order); the
    key is a column or an expression (e.g. a column nulled where its outputs are not used).

    Only the key column is joined, not the whole frame: a left join that keeps order
    gathers every column it carries, which for a wide frame costs more than the regexes.
    """
    keys = frame.select((pl.col(column) if isinstance(column, str) else column).alias(_KEY))
    return keys.join(
        _table(keys, build), on=_KEY, how="left", nulls_equal=True, maintain_order="left"
    ).drop(_KEY)


def attach(frame: pl.DataFrame, parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """`frame` with the row-aligned columns of `parts` added (same names replace in place)."""
    return frame.with_columns([s for part in parts for s in part.get_columns()])


def with_distinct(
    frame: pl.DataFrame, specs: Sequence[tuple[str | pl.Expr, Build]]
) -> pl.DataFrame:
    """`frame` with every (column, build) spec's outputs; all specs are computed in one
    `collect_all`, so independent columns use both cores."""
    lazy = frame.lazy()
    return attach(
        frame, pl.collect_all([distinct_plan(lazy, c, b) for c, b in specs], engine=ENGINE)
    )


def on_distinct(frame: pl.DataFrame, column: str | pl.Expr, build: Build) -> pl.DataFrame:
    """`build(col)` gives the output expressions for a column; they are evaluated on the
    distinct values of `column` and joined back (outputs may replace existing columns)."""
    return with_distinct(frame, [(column, build)])


def distinct_index(keys: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The distinct rows of `keys`, and for each row of `keys` the index of its distinct row.

    Why hashes: a join on one u64 column costs a fraction of one on string columns. It is
    exact when the distinct rows' hashes are distinct, which is checked; otherwise the join
    is on the columns themselves.
    """
    distinct = keys.unique()
    row_hash = pl.struct(pl.all()).hash().alias("_h")
    hashed = distinct.select(row_hash, pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"))
    if hashed["_h"].n_unique() == distinct.height:
        index = keys.select(row_hash).join(hashed, on="_h", how="left", maintain_order="left")
    else:
        index = keys.join(
            distinct.with_row_index("_i"),
            on=keys.columns,
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
    return distinct, index["_i"]
