"""Candidate pairs: the union of several blocking rules, built with polars joins.

Huge blocks (a shared switchboard number, a common name at a big company) are not paired
exhaustively: their members are sorted and each paired with its nearest neighbours, and the
report says which rules were capped and how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipeline.dedupe.spec import BlockingRule

DEFAULT_MAX_BLOCK = 100
DEFAULT_WINDOW = 10


@dataclass
class BlockingReport:
    pairs_per_rule: dict[str, int] = field(default_factory=dict)
    capped_blocks: dict[str, int] = field(default_factory=dict)
    largest_block: dict[str, int] = field(default_factory=dict)
    total_pairs: int = 0

    def as_dict(self) -> dict:
        return {
            "pairs_per_rule": self.pairs_per_rule,
            "capped_blocks": self.capped_blocks,
            "largest_block": self.largest_block,
            "total_pairs": self.total_pairs,
        }


def _ordered(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.filter(pl.col("l") != pl.col("r")).select(
        pl.min_horizontal("l", "r").alias("l"), pl.max_horizontal("l", "r").alias("r")
    )


def _rule_pairs(
    keyed: pl.DataFrame, rule: BlockingRule, is_new: pl.Series | None, report: BlockingReport
) -> pl.DataFrame:
    keys = rule.keys
    max_block = rule.max_block_size or DEFAULT_MAX_BLOCK
    window = rule.window or DEFAULT_WINDOW
    rows = keyed.select("i", *keys, *(rule.sort_by or [])).drop_nulls(keys)
    rows = rows.with_columns(pl.len().over(keys).alias("_size"))
    report.largest_block[rule.name] = int(rows["_size"].max() or 0)
    small = rows.filter((pl.col("_size") > 1) & (pl.col("_size") <= max_block))
    big = rows.filter(pl.col("_size") > max_block)

    if is_new is None:
        left = small.select("i", *keys)
    else:
        left = small.filter(pl.col("i").is_in(is_new.implode())).select("i", *keys)
    exhaustive = left.join(small.select("i", *keys), on=keys, suffix="_r").select(
        pl.col("i").alias("l"), pl.col("i_r").alias("r")
    )
    if is_new is None:
        exhaustive = exhaustive.filter(pl.col("l") < pl.col("r"))
    parts = [_ordered(exhaustive)]

    if big.height:
        report.capped_blocks[rule.name] = int(big.select(pl.struct(keys).n_unique()).item())
        order = [*keys, *(rule.sort_by or []), "i"]
        ranked = big.sort(order).with_columns(pl.int_range(pl.len()).over(keys).alias("_pos"))
        for offset in range(1, window + 1):
            shifted = ranked.select(
                pl.col("i").alias("l"), pl.col("i").shift(-offset).over(keys).alias("r")
            ).drop_nulls()
            if is_new is not None:
                shifted = shifted.filter(
                    pl.col("l").is_in(is_new.implode()) | pl.col("r").is_in(is_new.implode())
                )
            parts.append(_ordered(shifted))
    pairs = pl.concat(parts)
    report.pairs_per_rule[rule.name] = pairs.height
    return pairs


def candidate_pairs(
    frame: pl.DataFrame, rules: list[BlockingRule], new_rows: pl.Series | None = None
) -> tuple[pl.DataFrame, BlockingReport]:
    """Distinct (l, r) row-index pairs, l < r, with the first rule that found each pair.

    With `new_rows` (row indices), only pairs involving at least one of them are built:
    the incremental path, which never re-pairs the existing history with itself.
    """
    report = BlockingReport()
    keyed = frame.with_row_index("i")
    found = []
    for rank, rule in enumerate(rules):
        pairs = _rule_pairs(keyed, rule, new_rows, report)
        found.append(pairs.with_columns(pl.lit(rank, dtype=pl.UInt8).alias("rule")))
    pairs = (
        pl.concat(found)
        .group_by("l", "r")
        .agg(pl.col("rule").min())
        .sort("l", "r")
        .with_columns(pl.col("l").cast(pl.UInt32), pl.col("r").cast(pl.UInt32))
    )
    report.total_pairs = pairs.height
    return pairs, report
