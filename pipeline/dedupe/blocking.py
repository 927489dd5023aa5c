"""Candidate pairs: the union of several blocking rules, built with polars joins.

Huge blocks (a shared switchboard number, a common name at a big company) are not paired
exhaustively: their members are sorted and each paired with its nearest neighbours, and the
report says which rules were capped and how much.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from pipeline.dedupe.spec import BlockingRule

DEFAULT_MAX_BLOCK = 100
DEFAULT_WINDOW = 10
PAIR_BASE = 1 << 32  # a pair (l, r) packs into one integer l * 2^32 + r


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


def _block_id(keys: list[str]) -> pl.Expr:
    """One 64-bit block id instead of joining on several string columns (null where a key
    is missing); a hash collision could only add a candidate pair, which scoring rejects."""
    present = pl.all_horizontal([pl.col(k).is_not_null() for k in keys])
    return pl.when(present).then(pl.struct(keys).hash(seed=7))


def block_ids(frame: pl.DataFrame, rules: list[BlockingRule], sizes: bool = True) -> pl.DataFrame:
    """Per rule, each row's block id (`_block{rank}`, null where a key is missing) and, with
    `sizes`, the size of its block (`_size{rank}`). Computed once: blocking pairs on them
    and EM picks its training blocks by them. Two selects over all rules, so polars runs
    rules in parallel."""
    ids = frame.select(
        _block_id(rule.keys).alias(f"_block{rank}") for rank, rule in enumerate(rules)
    )
    if not sizes:
        return ids
    return ids.with_columns(
        pl.when(pl.col(f"_block{rank}").is_not_null())
        .then(pl.len().over(f"_block{rank}"))
        .alias(f"_size{rank}")
        for rank in range(len(rules))
    )


def _rule_pairs(
    keyed: pl.DataFrame,
    rule: BlockingRule,
    rank: int,
    is_new: pl.Series | None,
    report: BlockingReport,
) -> pl.DataFrame:
    max_block = rule.max_block_size or DEFAULT_MAX_BLOCK
    window = rule.window or DEFAULT_WINDOW
    sized = f"_size{rank}" in keyed.columns
    rows = keyed.select(
        "i",
        pl.col(f"_block{rank}").alias("_block"),
        *([pl.col(f"_size{rank}").alias("_size")] if sized else []),
        *(rule.sort_by or []),
    ).drop_nulls("_block")
    if is_new is not None:
        # Incremental: only blocks holding a new record can yield a pair (so the report's
        # block sizes cover those blocks only).
        touched = rows.filter(pl.col("i").is_in(is_new.implode()))["_block"].unique()
        rows = rows.filter(pl.col("_block").is_in(touched.implode()))
    if not sized:  # sizes of the touched blocks only: a few thousand, not a million rows
        rows = rows.with_columns(pl.len().over("_block").alias("_size"))
    report.largest_block[rule.name] = int(rows["_size"].max() or 0)
    small = rows.filter((pl.col("_size") > 1) & (pl.col("_size") <= max_block)).select(
        "i", "_block"
    )
    big = rows.filter(pl.col("_size") > max_block)

    left = small if is_new is None else small.filter(pl.col("i").is_in(is_new.implode()))
    exhaustive = left.join(small, on="_block", suffix="_r").select(
        pl.col("i").alias("l"), pl.col("i_r").alias("r")
    )
    # A whole-table self-join yields each pair both ways: keep l < r, ordered already.
    # An incremental one pairs new rows with any, in either order.
    if is_new is None:
        parts = [exhaustive.filter(pl.col("l") < pl.col("r"))]
    else:
        parts = [_ordered(exhaustive)]

    if big.height:
        report.capped_blocks[rule.name] = int(big["_block"].n_unique())
        order = ["_block", *(rule.sort_by or []), "i"]
        ranked = big.sort(order)
        for offset in range(1, window + 1):
            shifted = ranked.select(
                pl.col("i").alias("l"), pl.col("i").shift(-offset).over("_block").alias("r")
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
    frame: pl.DataFrame,
    rules: list[BlockingRule],
    new_rows: pl.Series | None = None,
    blocks: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, BlockingReport]:
    """Distinct (l, r) row-index pairs, l < r, with the first rule that found each pair.

    With `new_rows` (row indices), only pairs involving at least one of them are built:
    the incremental path, which never re-pairs the existing history with itself.
    `blocks` is `block_ids(frame, rules)` when the caller has it already.
    """
    report = BlockingReport()
    if blocks is None:
        blocks = block_ids(frame, rules, sizes=new_rows is None)
    # Only the columns rules sort by: a horizontal concat of a frame in several chunks with
    # the single-chunk ids rechunks every column it takes.
    sort_columns = list(dict.fromkeys(c for rule in rules for c in rule.sort_by or []))
    keyed = pl.concat([frame.select(sort_columns), blocks], how="horizontal").with_row_index("i")
    n = max(frame.height, 1)
    # A pair and the rank of a rule that found it pack into one integer, (l * n + r) * 256 +
    # rank: one sort, then the first of each pair is its lowest-ranked rule. Cheaper than a
    # group_by on the pair followed by a sort (ten million found pairs at 1M rows).
    packed = n * n * 256 < 1 << 63 and len(rules) <= 256
    base = n if packed else PAIR_BASE

    def encoded(rank: int) -> tuple[pl.DataFrame, BlockingReport]:
        own = BlockingReport()
        pairs = _rule_pairs(keyed, rules[rank], rank, new_rows, own)
        key = pl.col("l").cast(pl.UInt64) * base + pl.col("r").cast(pl.UInt64)
        if packed:
            return pairs.select((key * 256 + rank).alias("code")), own
        return pairs.select(key.alias("key"), pl.lit(rank, dtype=pl.UInt8).alias("rule")), own

    # Rules in threads (joins and sorts release the GIL); reports merged in rule order.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(encoded, range(len(rules))))
    found = [pairs for pairs, _ in results]
    for _, own in results:
        report.pairs_per_rule.update(own.pairs_per_rule)
        report.capped_blocks.update(own.capped_blocks)
        report.largest_block.update(own.largest_block)
    if packed:
        pairs = (
            pl.concat(found)
            .sort("code")
            .select((pl.col("code") // 256).alias("key"), (pl.col("code") % 256).alias("rule"))
            .filter((pl.col("key") != pl.col("key").shift(1)).fill_null(True))
        )
    else:
        pairs = pl.concat(found).group_by("key").agg(pl.col("rule").min()).sort("key")
    pairs = pairs.select(
        (pl.col("key") // base).cast(pl.UInt32).alias("l"),
        (pl.col("key") % base).cast(pl.UInt32).alias("r"),
        pl.col("rule").cast(pl.UInt8),
    )
    report.total_pairs = pairs.height
    return pairs, report
