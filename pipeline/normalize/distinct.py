"""Normalize each distinct value once and map the result back to the rows.

Names, titles, companies, countries and websites repeat heavily across a lead table, so the
expensive regex work runs over the distinct values instead of every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from pipeline.normalize import ENGINE

_KEY = "__distinct_key"
_HASH = "__distinct_hash"

# `build(col)` gives a column's output expressions, evaluated on its distinct values; or a
# list of stages (lists of expressions, each stage seeing the columns of the ones before),
# whose last stage names the outputs: staged intermediates are computed once.
Build = Callable[[pl.Expr], list[pl.Expr]] | Callable[[pl.Expr], list[list[pl.Expr]]]
# A key column, or an expression (e.g. a column nulled where its outputs are not used).
Key = str | pl.Expr
Spec = tuple[Key, Build]


def _hash(key: pl.Expr) -> pl.Expr:
    return key.hash()


def _table(keys: pl.LazyFrame, build: Build) -> pl.LazyFrame:
    """The distinct values of the _KEY column and `build`'s outputs for them."""
    table = keys.unique()
    stages = build(pl.col(_KEY))
    if not stages or isinstance(stages[0], pl.Expr):
        return table.with_columns(stages)
    for stage in stages[:-1]:
        table = table.with_columns(stage)
    return table.select(_KEY, *stages[-1])


def distinct_plan(
    frame: pl.LazyFrame, key: Key, build: Build, by_hash: bool = True
) -> pl.LazyFrame:
    """`build`'s outputs for every row of `frame` (only those columns, in row order).

    Only the key is joined, not the whole frame: a left join that keeps order gathers every
    column it carries, which for a wide frame costs more than the regexes. `by_hash` joins
    on the key's u64 hash, which takes half the time of a join on strings; two distinct
    values with one hash would give some rows two matches, i.e. more rows than `frame` has
    (`collect_distinct` checks that).
    """
    keys = frame.select((pl.col(key) if isinstance(key, str) else key).alias(_KEY))
    if not by_hash:
        table = _table(keys, build)
        return keys.join(table, on=_KEY, how="left", nulls_equal=True, maintain_order="left").drop(
            _KEY
        )
    table = _table(keys, build).with_columns(_hash(pl.col(_KEY)).alias(_HASH)).drop(_KEY)
    return (
        keys.select(_hash(pl.col(_KEY)).alias(_HASH))
        .join(table, on=_HASH, how="left", maintain_order="left")
        .drop(_HASH)
    )


def collect_distinct(
    frame: pl.DataFrame, specs: Sequence[Spec], extra: Sequence[pl.LazyFrame] = ()
) -> list[pl.DataFrame]:
    """The outputs of each (key, build) spec, then the results of the `extra` plans, all
    from one `collect_all` (so independent columns use both cores). A spec whose hash join
    met a collision is redone with a join on the values themselves."""
    lazy = frame.lazy()
    plans = [distinct_plan(lazy, key, build) for key, build in specs]
    parts = pl.collect_all([*plans, *extra], engine=ENGINE)
    for i, (key, build) in enumerate(specs):
        if parts[i].height != frame.height:
            parts[i] = distinct_plan(lazy, key, build, by_hash=False).collect(engine=ENGINE)
    return parts


def attach(frame: pl.DataFrame, parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """`frame` with the row-aligned columns of `parts` added (same names replace in place)."""
    return frame.with_columns([s for part in parts for s in part.get_columns()])


def with_distinct(frame: pl.DataFrame, specs: Sequence[Spec]) -> pl.DataFrame:
    """`frame` with every (key, build) spec's outputs."""
    return attach(frame, collect_distinct(frame, specs))
