"""The review loop: which pairs are worth a person's label, each explained field by field,
as a CSV to fill in or one by one in the terminal.

Pairs offered are those the model is least sure of: the scored pairs nearest the threshold
(in match weight), one per pattern of field levels before any second, so a label teaches
something new, and the weakest link inside each of the largest entities (where a wrong link
costs most). Pairs already labelled and vetoed pairs are left out. A run over a file
(`DedupeResult`) and the Dagster assets' tables (`ReviewSource.from_tables`) are reviewed
alike.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from pipeline.dedupe.compare import NULL_LEVEL
from pipeline.dedupe.engine import DedupeResult
from pipeline.dedupe.labels import LABELS, ordered
from pipeline.dedupe.model import log2_odds
from pipeline.dedupe.spec import MatchSpec

# Of the pairs offered, the share taken from inside the largest entities.
ENTITY_SHARE = 0.2
# At most this many pairs of one pattern of levels in a row (then the next pattern's). One:
# each label teaches the weights about another pattern. Played with the truth (bench_review,
# four 100k sets), 200 labels gave 0.9943 / 0.9642 / 0.9803 / 0.9414 against 0.9942 /
# 0.9640 / 0.9803 / 0.9398 with two, and no round lower; four was between.
PER_PATTERN = 1
# Pairs farther than this from the threshold (log2 odds) are not worth a label.
MAX_MARGIN = 12.0


@dataclass
class ReviewSource:
    """What reviewing needs: the scored pairs (`<id>_l`, `<id>_r`, per comparison
    `<name>_level` and `<name>_weight`, `match_weight`, `match_probability`), the entities
    (id, entity_id), each record's compared values, and the model's prior and threshold."""

    spec: MatchSpec
    pairs: pl.DataFrame
    entities: pl.DataFrame
    values: pl.DataFrame  # id + the comparisons' columns
    threshold: float
    prior: float

    @classmethod
    def from_result(cls, result: DedupeResult) -> ReviewSource:
        if result.work.is_empty():
            raise ValueError("reviewing needs the run's compared values: dedupe(keep_work=True)")
        return cls(
            spec=result.spec,
            pairs=result.pairs,
            entities=result.entities,
            values=compared_values(result.work, result.spec),
            threshold=result.threshold,
            prior=result.model.prior,
        )

    @classmethod
    def from_tables(
        cls,
        spec: MatchSpec,
        pairs: pl.DataFrame,
        entities: pl.DataFrame,
        records: pl.DataFrame,
        model_json: dict,
        threshold: float,
    ) -> ReviewSource:
        """From the `dedupe_pairs`, `lead_entities`, `dedupe_model` tables and the records'
        compared values (normalized leads joined with their fingerprints)."""
        return cls(
            spec=spec,
            pairs=pairs,
            entities=entities,
            values=compared_values(records, spec),
            threshold=threshold,
            prior=float(model_json["prior"]),
        )


def records_with_fingerprints(
    normalized: pl.DataFrame, fingerprints: pl.DataFrame, id_col: str, ids: pl.Series
) -> pl.DataFrame:
    """The latest normalized row of each lead in `ids` with its stored fingerprints (the
    assets' tables): only those, never a copy of the whole table."""
    wanted = ids.cast(pl.String).unique().implode()
    rows = normalized.filter(pl.col(id_col).cast(pl.String).is_in(wanted))
    prints = fingerprints.filter(pl.col(id_col).cast(pl.String).is_in(wanted))
    own = [c for c in prints.columns if c in rows.columns and c != id_col]
    return rows.unique(id_col, keep="last").join(prints.drop(own), on=id_col, how="inner")


def with_values(source: ReviewSource, records: pl.DataFrame) -> ReviewSource:
    """`source` with the compared values of `records` (those of the pairs to explain)."""
    return replace(source, values=compared_values(records, source.spec))


def pair_ids(frame: pl.DataFrame) -> pl.Series:
    """Every id of a frame of pairs (left_id, right_id)."""
    return pl.concat([frame["left_id"], frame["right_id"]]).unique()


def compared_values(frame: pl.DataFrame, spec: MatchSpec) -> pl.DataFrame:
    """The id and every comparison's column, as strings."""
    columns = list(dict.fromkeys(c.column for c in spec.comparisons))
    present = [c for c in columns if c in frame.columns]
    return frame.select(
        pl.col(spec.id_column).cast(pl.String),
        *(pl.col(c).cast(pl.String) for c in present),
        *(pl.lit(None, pl.String).alias(c) for c in columns if c not in present),
    )


def unlabelled(pairs: pl.DataFrame, labelled: pl.DataFrame | None) -> pl.DataFrame:
    """The `pairs` (left_id, right_id) no label names, in either order."""
    if labelled is None or labelled.is_empty():
        return pairs
    seen = ordered(labelled).select(pl.col("left_id").alias("_lo"), pl.col("right_id").alias("_hi"))
    return (
        pairs.with_columns(
            pl.min_horizontal("left_id", "right_id").alias("_lo"),
            pl.max_horizontal("left_id", "right_id").alias("_hi"),
        )
        .join(seen, on=["_lo", "_hi"], how="anti")
        .drop("_lo", "_hi")
    )


def choose_pairs(
    source: ReviewSource, size: int = 20, labelled: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Up to `size` pairs most worth a label (none farther than MAX_MARGIN from the
    threshold): left_id, right_id, match_weight (log2 odds, the prior included),
    match_probability, reason."""
    spec, id_col = source.spec, source.spec.id_column
    prior = log2_odds(source.prior)
    cut = log2_odds(source.threshold)
    levels = [f"{c.name}_level" for c in spec.comparisons]
    pairs = source.pairs.select(
        pl.col(f"{id_col}_l").cast(pl.String).alias("left_id"),
        pl.col(f"{id_col}_r").cast(pl.String).alias("right_id"),
        (pl.col("match_weight") + prior).alias("match_weight"),
        "match_probability",
        pl.concat_str([pl.col(c).cast(pl.String) for c in levels], separator=",").alias("pattern"),
    ).filter(pl.col("match_probability") > 0)  # a veto decided those
    pairs = unlabelled(pairs, labelled)
    in_entities = max(round(size * ENTITY_SHARE), 1 if size >= 5 else 0)
    weakest = _weakest_links(source, pairs, in_entities)
    near = (
        pairs.join(weakest.select("left_id", "right_id"), on=["left_id", "right_id"], how="anti")
        .with_columns((pl.col("match_weight") - cut).abs().alias("margin"))
        .filter(pl.col("margin") <= MAX_MARGIN)
        .sort("margin")
        .with_columns(pl.int_range(pl.len()).over("pattern").alias("_in_pattern"))
        .sort([pl.col("_in_pattern") // PER_PATTERN, "margin"])
        .head(size - weakest.height)
        .with_columns(pl.lit("near the threshold").alias("reason"))
    )
    columns = ["left_id", "right_id", "match_weight", "match_probability", "reason"]
    return pl.concat([near.select(columns), weakest.select(columns)]).sort(
        (pl.col("match_weight") - cut).abs()
    )


def _weakest_links(
    source: ReviewSource, pairs: pl.DataFrame, count: int, borderline: bool = False
) -> pl.DataFrame:
    """The lowest-scored link inside each of the `count` largest entities of 3+ records
    (`borderline`: of the entities of 2+ whose weakest link is nearest the threshold)."""
    id_col = source.spec.id_column
    if count <= 0:
        return pairs.head(0).with_columns(pl.lit("").alias("reason"))
    entities = source.entities.select(pl.col(id_col).cast(pl.String), "entity_id")
    smallest = 2 if borderline else 3
    sizes = entities.group_by("entity_id").len("size").filter(pl.col("size") >= smallest)
    linked = (
        pairs.filter(pl.col("match_probability") >= source.threshold)
        .join(entities.rename({id_col: "left_id"}), on="left_id")
        .join(entities.rename({id_col: "right_id", "entity_id": "e_r"}), on="right_id")
        .filter(pl.col("entity_id") == pl.col("e_r"))
        .join(sizes, on="entity_id")
    )
    weakest = linked.sort("match_weight").unique("entity_id", keep="first")
    if borderline:
        weakest = weakest.sort([pl.col("match_weight"), "entity_id"])
    else:
        weakest = weakest.sort(["size", "entity_id"], descending=[True, False])
    return weakest.head(count).with_columns(
        pl.format("weakest link of an entity of {} records", pl.col("size")).alias("reason")
    )


def weakest_entity_links(source: ReviewSource, count: int, borderline: bool) -> pl.DataFrame:
    """The weakest link of the `count` largest entities (or, `borderline`, of the entities
    held together most weakly), with the entity id and size; `explain_links` adds why."""
    id_col, prior = source.spec.id_column, log2_odds(source.prior)
    pairs = source.pairs.select(
        pl.col(f"{id_col}_l").cast(pl.String).alias("left_id"),
        pl.col(f"{id_col}_r").cast(pl.String).alias("right_id"),
        (pl.col("match_weight") + prior).alias("match_weight"),
        "match_probability",
    )
    return _weakest_links(source, pairs, count, borderline=borderline)


def explain_links(source: ReviewSource, links: pl.DataFrame) -> pl.DataFrame:
    """`weakest_entity_links`' links explained field by field (`source` with the values)."""
    chosen = links.select("left_id", "right_id", "match_weight", "match_probability", "reason")
    return links.select("left_id", "right_id", "entity_id", "size").join(
        explained(source, chosen), on=["left_id", "right_id"], how="left"
    )


def histogram_markdown(values: pl.Series, edges: list[float], title: str, unit: str) -> str:
    """A bar chart as markdown text (the Dagster UI renders it as it is): counts of
    `values` between consecutive `edges` (the last bin open-ended)."""
    lines = [f"**{title}**", "", "```"]
    counts = []
    for k, low in enumerate(edges):
        high = edges[k + 1] if k + 1 < len(edges) else None
        inside = values >= low if high is None else (values >= low) & (values < high)
        label = f"{low:g}+" if high is None else f"{low:g} to {high:g}"
        counts.append((label, int(inside.sum())))
    largest = max([c for _, c in counts] + [1])
    for label, count in counts:
        bar = "█" * max(round(40 * count / largest), 1 if count else 0)
        lines.append(f"{label:>14} {unit} | {bar} {count:,}")
    lines.append("```")
    return "\n".join(lines)


def explained(source: ReviewSource, chosen: pl.DataFrame) -> pl.DataFrame:
    """`chosen` with, per comparison, both records' values (`<name>_left`, `<name>_right`),
    the level (`<name>_level`, its label) and its weight (`<name>_weight`)."""
    spec, id_col = source.spec, source.spec.id_column
    pairs = source.pairs.select(
        pl.col(f"{id_col}_l").cast(pl.String).alias("_l"),
        pl.col(f"{id_col}_r").cast(pl.String).alias("_r"),
        *(pl.col(f"{c.name}_level") for c in spec.comparisons),
        *(pl.col(f"{c.name}_weight") for c in spec.comparisons),
    )
    # The scored pair may hold the two ids either way round; only the chosen pairs' rows are
    # kept before the two orientations are stacked (all pairs would be copied twice).
    keys = chosen.select(pl.col("left_id").alias("_l"), pl.col("right_id").alias("_r"))
    keys = pl.concat([keys, keys.select(pl.col("_r").alias("_l"), pl.col("_l").alias("_r"))])
    pairs = pairs.join(keys.unique(), on=["_l", "_r"], how="semi")
    both = pl.concat(
        [pairs, pairs.rename({"_l": "_r", "_r": "_l"}).select(pairs.columns)], how="vertical"
    ).unique(["_l", "_r"])
    frame = chosen.join(
        both.rename({"_l": "left_id", "_r": "right_id"}), on=["left_id", "right_id"], how="left"
    )
    values = source.values
    left = values.rename({c: f"{c}__left" for c in values.columns if c != id_col})
    right = values.rename({c: f"{c}__right" for c in values.columns if c != id_col})
    frame = frame.join(left.rename({id_col: "left_id"}), on="left_id", how="left").join(
        right.rename({id_col: "right_id"}), on="right_id", how="left"
    )
    out = [pl.col("left_id"), pl.col("right_id")]
    for comp in spec.comparisons:
        labels = pl.Series([*comp.labels, "missing value"], dtype=pl.String)
        level = pl.col(f"{comp.name}_level").cast(pl.Int64)
        slot = pl.when(level == NULL_LEVEL).then(len(labels) - 1).otherwise(level)
        out += [
            pl.col(f"{comp.column}__left").alias(f"{comp.name}_left"),
            pl.col(f"{comp.column}__right").alias(f"{comp.name}_right"),
            slot.replace_strict(list(range(len(labels))), labels, return_dtype=pl.String)
            .alias(f"{comp.name}_level"),
            pl.col(f"{comp.name}_weight").cast(pl.Float64).round(2),
        ]  # fmt: skip
    out += [
        pl.col("match_weight").round(2),
        pl.col("match_probability").round(6),
        pl.col("reason"),
    ]
    return frame.select(out)


CSV_LABEL_HELP = "label: match, no_match or unsure (empty: not labelled)"


def write_review_csv(frame: pl.DataFrame, path: Path) -> None:
    """The explained pairs with an empty `label` column to fill in (`--labels` reads it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.with_columns(pl.lit("").alias("label")).write_csv(path)


def _cell(value: str, width: int) -> str:
    """`value` in a column of `width` (a space before the next), an ellipsis where it was
    cut: a reviewer must see that 'hannah.schultz@northwind-anal' is not the address."""
    if len(value) > width - 1:
        value = value[: width - 2] + "\u2026"
    return f"{value:<{width}}"


def render_pair(
    row: dict, spec: MatchSpec, threshold: float, position: str = "", columns: int | None = None
) -> str:
    """One explained pair (a row of `explained`) side by side, for the terminal: the two
    value columns share what the terminal's width leaves (30 to 48 characters each)."""
    columns = columns or shutil.get_terminal_size((100, 24)).columns
    width = max(30, min(48, (columns - 13 - 24 - 7 - 2) // 2))
    lines = [
        f"{position}{row['left_id']}  vs  {row['right_id']}   "
        f"match probability {row['match_probability']:.4f} (threshold {threshold}), "
        f"{row['reason']}",
        f"  {'field':<13}{_cell('left', width)}{_cell('right', width)}{'level':<24}{'weight':>7}",
    ]
    for comp in spec.comparisons:
        a = row.get(f"{comp.name}_left") or "-"
        b = row.get(f"{comp.name}_right") or "-"
        weight = row.get(f"{comp.name}_weight")
        shown = f"{weight:+7.2f}" if weight is not None else "      -"
        level = row.get(f"{comp.name}_level") or "-"
        lines.append(
            f"  {comp.name:<13}{_cell(a, width)}{_cell(b, width)}{_cell(level, 24)}{shown}"
        )
    total = "total (log2 odds, prior included)"
    lines.append(f"  {total:<{13 + 2 * width + 24}}{row['match_weight']:+7.2f}")
    return "\n".join(lines)


ANSWERS = {"m": "match", "n": "no_match", "u": "unsure", "s": None}


def review_in_terminal(
    frame: pl.DataFrame,
    spec: MatchSpec,
    threshold: float,
    save: Callable[[str, str, str, float], None],
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> dict[str, int]:
    """Show each explained pair and ask for a verdict: [m]atch, [n]o match, [u]nsure,
    [s]kip, [q]uit. Each answer is saved at once (`save(left, right, label, weight)`), so
    quitting halfway keeps what was labelled. Returns the count per answer."""
    counts = {label: 0 for label in LABELS} | {"skipped": 0}
    rows = frame.to_dicts()
    for k, row in enumerate(rows, start=1):
        say("")
        say(render_pair(row, spec, threshold, position=f"[{k}/{len(rows)}] "))
        while True:
            try:
                answer = ask("  [m]atch / [n]o match / [u]nsure / [s]kip / [q]uit > ")
            except EOFError:
                answer = "q"
            answer = answer.strip().lower()[:1]
            if answer == "q":
                return counts
            if answer in ANSWERS:
                break
            say("  please answer m, n, u, s or q")
        label = ANSWERS[answer]
        if label is None:
            counts["skipped"] += 1
            continue
        save(row["left_id"], row["right_id"], label, float(row["match_weight"]))
        counts[label] += 1
    return counts
