"""Stable entity ids across runs, and the merge / split events between them.

A new cluster inherits the previous entity id that most of its records carried. An old
entity whose records now sit in one cluster with another's is recorded as merged into the
survivor; one whose records spread over several clusters keeps its id on the largest part
and the other parts are recorded as split from it. The CRM sync acts on these events.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

EVENT_SCHEMA = {
    "event": pl.String,
    "entity_id": pl.String,
    "other_entity_id": pl.String,
    "records": pl.Int64,
    "reason": pl.String,
    "recorded_at": pl.Datetime("us"),
}


def new_entity_id(seed: str) -> str:
    return "E" + hashlib.sha1(seed.encode()).hexdigest()[:15]


# Below this many new entities, hashlib in a loop beats DuckDB's first query (~0.1 s).
VECTORIZED_IDS_FROM = 100_000


def new_entity_ids(seeds: pl.Series) -> pl.Series:
    """`new_entity_id` of every seed; many of them vectorized in DuckDB (the same SHA-1 hex
    digest): half a million Python hashlib calls took 0.3-0.5 s of a 1M-row run."""
    if len(seeds) < VECTORIZED_IDS_FROM:
        ids = [new_entity_id(seed) for seed in seeds.cast(pl.String).to_list()]
        return pl.Series("entity_id", ids, dtype=pl.String)
    with duckdb.connect() as con:
        con.register("seeds", seeds.cast(pl.String).to_frame("seed"))
        ids = con.sql("SELECT 'E' || left(sha1(seed), 15) AS id FROM seeds").pl()["id"]
    return ids.alias("entity_id")


def all_distinct(values: pl.Series) -> bool:
    """Whether no value repeats. 64-bit hashes are counted first (a fifth of the cost of
    counting distinct strings: 0.015 against 0.075 s for half a million entity ids); only
    values whose hashes repeat are counted exactly, so a hash collision never reads as a
    repeat."""
    return values.hash(seed=7).n_unique() == values.len() or values.n_unique() == values.len()


def any_shared(a: pl.Series, b: pl.Series) -> bool:
    """Whether any value is in both: the larger probed against a hash set of the smaller
    (a set of the million previous entity ids cost 0.3 s when no new one was made)."""
    if not a.len() or not b.len():
        return False
    small, large = (a, b) if a.len() <= b.len() else (b, a)
    return bool(large.is_in(small.implode()).any())


def begins_with(ids: pl.Series, first: pl.Series) -> bool:
    """Whether `ids` begin with `first`, in its order: a table that only grew at its end
    since `first` was read from it (the usual re-run), so its old rows are read by position,
    not joined on a million ids."""
    return first.len() <= ids.len() and ids.head(first.len()).equals(first)


def _with_previous(current: pl.DataFrame, previous: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """`current` (id, label) with each record's previous entity id, records new since then
    left out: by position where the previous ids are the first rows (`begins_with`; 0.16 s
    of join at 1M rows), else joined."""
    if begins_with(current[id_col], previous[id_col]):
        return current.head(previous.height).with_columns(previous["entity_id"])
    return current.join(previous[[id_col, "entity_id"]], on=id_col, how="inner")


def members_of_entities_of(entities: pl.DataFrame, ids: pl.Series, id_col: str) -> pl.Series:
    """Rows of `entities` (`id_col`, entity_id) in the entities of any of `ids`: theirs and
    their fellow members' (ids compared as strings)."""
    named = ids.cast(pl.String).implode()
    theirs = entities.filter(pl.col(id_col).cast(pl.String).is_in(named))["entity_id"].unique()
    return entities["entity_id"].is_in(theirs.implode()).arg_true()


def assign_entity_ids(
    ids: pl.Series, labels: np.ndarray, previous: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(entities: id, entity_id) and (events) for the clustering `labels` of `ids`.

    `previous` is the last run's (id, entity_id) mapping, with the same id column name.
    """
    entities, events, _ = entity_ids_by_label(ids, labels, previous)
    return entities, events


def _entity_id_of_each(labels: np.ndarray, assigned: pl.DataFrame) -> pl.Series:
    """Each row's entity id from its label's (`assigned`: label, entity_id, one row per
    label). Clustering's labels are 0..k-1: a gather then (0.04 against 0.11 s for a join at
    1M rows); other labels are joined."""
    if len(labels) and labels.min() == 0 and labels.max() == assigned.height - 1:
        return assigned.sort("label")["entity_id"].gather(labels)
    joined = pl.DataFrame({"label": labels}).join(
        assigned, on="label", how="left", maintain_order="left"
    )
    return joined["entity_id"]


def entity_ids_by_label(
    ids: pl.Series, labels: np.ndarray, previous: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """`assign_entity_ids`, plus each label's entity id (label, entity_id)."""
    id_col = ids.name
    current = pl.DataFrame({id_col: ids, "label": labels})
    now = datetime.now(UTC).replace(tzinfo=None)
    has_previous = previous is not None and not previous.is_empty()
    if not has_previous:
        inherited = pl.DataFrame(schema={"label": pl.Int64, "entity_id": pl.String})
        events = pl.DataFrame(schema=EVENT_SCHEMA)
    else:
        overlap = (
            _with_previous(current, previous, id_col).group_by("label", "entity_id").len("overlap")
        )
        # Each old id goes to the cluster holding most of its records (ties: lowest label)...
        best_cluster = overlap.sort(
            ["entity_id", "overlap", "label"], descending=[False, True, False]
        ).unique("entity_id", keep="first")
        # ...and a cluster claimed by several old ids keeps the largest (ties: lowest id).
        inherited = (
            best_cluster.sort(["label", "overlap", "entity_id"], descending=[False, True, False])
            .unique("label", keep="first")
            .select("label", "entity_id")
        )
        merged = best_cluster.join(inherited, on="label", suffix="_survivor").filter(
            pl.col("entity_id") != pl.col("entity_id_survivor")
        )
        split = overlap.join(
            best_cluster.select("entity_id", "label"), on="entity_id", suffix="_kept"
        ).filter(pl.col("label") != pl.col("label_kept"))
        events = pl.concat(
            [
                merged.select(
                    pl.lit("merge").alias("event"),
                    pl.col("entity_id_survivor").alias("entity_id"),
                    pl.col("entity_id").alias("other_entity_id"),
                    pl.col("overlap").cast(pl.Int64).alias("records"),
                    pl.lit("records of both entities now match").alias("reason"),
                    pl.lit(now).alias("recorded_at"),
                ),
                split.select(
                    pl.lit("split").alias("event"),
                    pl.lit(None, pl.String).alias("entity_id"),  # filled below
                    pl.col("entity_id").alias("other_entity_id"),
                    pl.col("overlap").cast(pl.Int64).alias("records"),
                    pl.lit("records no longer match the rest of their entity").alias("reason"),
                    pl.lit(now).alias("recorded_at"),
                    pl.col("label"),
                ),
            ],
            how="diagonal",
        )
    fresh = (
        current.filter(~pl.col("label").is_in(inherited["label"].implode()))
        .group_by("label")
        .agg(pl.col(id_col).cast(pl.String).min().alias("seed"))
    )
    # Every inherited id is a previous one.
    taken = previous["entity_id"] if has_previous else inherited["entity_id"]
    fresh_ids = new_entity_ids(fresh["seed"])
    # Checked in polars, not as Python sets (half a million strings held the GIL 0.1 s).
    if not all_distinct(fresh_ids) or any_shared(fresh_ids, taken):
        # Rare: a split part seeded by the record that named the old one; salt until unique.
        used = set(taken.to_list())
        salted = []
        for seed in fresh["seed"].to_list():
            candidate, salt = new_entity_id(seed), 0
            while candidate in used:
                salt += 1
                candidate = new_entity_id(f"{seed}#{salt}")
            used.add(candidate)
            salted.append(candidate)
        fresh_ids = pl.Series("entity_id", salted, dtype=pl.String)
    assigned = pl.concat([inherited, fresh.select("label", fresh_ids.alias("entity_id"))])
    entities = pl.DataFrame({id_col: ids, "entity_id": _entity_id_of_each(labels, assigned)})
    if "label" in events.columns:
        events = (
            events.join(assigned, on="label", how="left", suffix="_new")
            .with_columns(pl.coalesce("entity_id", "entity_id_new").alias("entity_id"))
            .drop("label", "entity_id_new")
        )
    return entities, events.select(list(EVENT_SCHEMA)).cast(EVENT_SCHEMA), assigned
