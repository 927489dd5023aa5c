"""Matching a batch of new records against resolved ones, without re-scoring the history:
only pairs involving a new record are built and scored, with the stored model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipeline.dedupe.blocking import candidate_pairs
from pipeline.dedupe.cluster import CannotLinkChecker, cluster
from pipeline.dedupe.compare import Comparator, hashed_columns
from pipeline.dedupe.engine import DedupeResult, check_ids
from pipeline.dedupe.entities import EVENT_SCHEMA, assign_entity_ids, members_of_entities_of
from pipeline.dedupe.fingerprints import add_fingerprints
from pipeline.dedupe.golden import golden_records
from pipeline.dedupe.labels import apply_labels
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.scoring import pairs_frame, score
from pipeline.dedupe.spec import MatchSpec, load_spec
from pipeline.dedupe.term_frequencies import joint_frequencies, tf_tables


def match_incremental(
    existing: pl.DataFrame,
    existing_entities: pl.DataFrame,
    new: pl.DataFrame,
    model: FSModel,
    spec: str | Path | MatchSpec = "leads",
    threshold: float | None = None,
    existing_fingerprinted: bool = False,
    labels: pl.DataFrame | None = None,
) -> DedupeResult:
    """Match a new batch against existing entities without re-scoring the history.

    Only pairs involving a new record are built and scored (with the stored model); the
    existing entities are held together by their current membership. Returns the full,
    updated entity mapping plus the events (merges when new records bridge two entities).
    `labels` are honoured as in a full run (must-link, cannot-link), the records they name
    and their entities' members brought into the batch's clustering; the stored model is
    used as it is (a full run learns from labels). `DedupeResult.work` holds the new
    records' fingerprints (read with the existing records: `add_fingerprints(reference=)`).
    """
    spec = load_spec(spec)
    threshold = threshold if threshold is not None else spec.threshold
    id_col = spec.id_column
    check_ids(new, id_col)
    # Probe the history against the (small) batch's ids, not the batch against the history.
    # The stored table's columns are picked by name, not by an eager `select`: its columns
    # are cut at different rows (parquet row groups joined with the fingerprints), and a
    # select rechunks such columns, each time (0.12 s for the ids, 0.24 s for the golden
    # columns of a million rows).
    clash = existing[id_col].filter(existing[id_col].is_in(new[id_col].implode()))
    if clash.len():
        raise ValueError(f"{clash.len()} new record id(s) already exist, e.g. {clash[0]}")
    old = existing if existing_fingerprinted else add_fingerprints(existing, spec)
    # The existing records count as the batch's others where a fingerprint reads the table
    # (which word is a surname), as they would in a full run.
    fresh = add_fingerprints(new, spec, reference=old)
    # Only what matching reads: the rows gathered below carry every column asked for
    # (68 columns -> 28 for the leads spec, 0.13 -> 0.08 s a gather at 1M rows).
    matching = [c for c in fresh.columns if c in spec.matching_columns()]
    # In one chunk, once: blocking, hashing and the gathers below read it several times, and
    # gathers from one chunk are several times faster (a 10k batch against 990k leads
    # 2.18 -> 1.33 s with the picks above; benchmarks/dedupe/README.md).
    combined = pl.concat([old[matching], fresh[matching]], how="vertical_relaxed").rechunk()
    n_old = old.height
    new_rows = pl.Series("i", np.arange(n_old, combined.height), dtype=pl.UInt32)
    pairs, block_report = candidate_pairs(combined, spec.blocking, new_rows)

    # Work on the involved rows only: new records and the existing ones they were paired with.
    involved = np.unique(
        np.concatenate(
            [
                pairs["l"].to_numpy(),
                pairs["r"].to_numpy(),
                new_rows.to_numpy(),
                _labelled_rows(combined[id_col], existing_entities, labels),
            ]
        )
    ).astype(np.int64)
    sub = combined[involved]
    left = np.searchsorted(involved, pairs["l"].to_numpy()).astype(np.int64)
    right = np.searchsorted(involved, pairs["r"].to_numpy()).astype(np.int64)
    comparator = Comparator(sub)
    # The stored entities of the involved records, with all their members: the only ones a
    # batch can re-cluster, rename by a merge or give new golden records. Found by one scan
    # of the million ids and one of the entity ids; every later lookup is in these few.
    related_at = members_of_entities_of(existing_entities, sub[id_col], id_col)
    related = existing_entities[related_at]
    # The columns both lookups read hashed once (names, lines, offices: 0.08 s at 1M rows).
    hashed = hashed_columns(combined, spec.frequency_columns())
    tables = tf_tables(combined, spec, only=sub, hashed=hashed)
    # Full names held by few records: how many of them other people hold, entities known.
    joint = joint_frequencies(combined, spec, related, involved, left, right, hashed=hashed)
    scored_pairs = score(spec, model, comparator, left, right, tables, joint=joint)
    labelled = apply_labels(
        labels, sub[id_col], spec, comparator, scored_pairs, left, right, threshold, learn=False
    )
    gamma, weights, prob = scored_pairs.gamma, scored_pairs.weights, scored_pairs.probability
    model = scored_pairs.model

    # Existing members of one entity stay together: chain them with certain links.
    old_ids = (
        sub[id_col]
        .to_frame()
        .join(related.select(id_col, "entity_id"), on=id_col, how="left", maintain_order="left")[
            "entity_id"
        ]
    )
    by_entity = (
        pl.DataFrame({"pos": np.arange(sub.height), "entity_id": old_ids})
        .drop_nulls("entity_id")
        .with_columns(pl.col("pos").shift(1).over("entity_id").alias("prev"))
        .drop_nulls("prev")
    )
    fixed_l = by_entity["prev"].to_numpy().astype(np.int64)
    fixed_r = by_entity["pos"].to_numpy().astype(np.int64)
    all_l = np.concatenate([left, fixed_l])
    all_r = np.concatenate([right, fixed_r])
    # Above any probability, so a guard rebuilding a component keeps existing entities whole
    # and refuses the new record's link instead (a vetoed pair stays apart, as in full runs).
    all_p = np.concatenate([prob, np.full(len(fixed_l), 2.0)])
    checker = CannotLinkChecker(sub, spec.cannot_link)
    clusters, cluster_report = cluster(
        sub.height,
        all_l,
        all_r,
        all_p,
        threshold,
        10**9,
        checker,
        apart=labelled.apart,
        must=labelled.must,
        thin=spec.thin_bridges,
    )
    previous_involved = pl.DataFrame({id_col: sub[id_col], "entity_id": old_ids}).drop_nulls()
    local_entities, events = assign_entity_ids(sub[id_col], clusters, previous_involved)

    merges = events.filter(pl.col("event") == "merge").select(
        pl.col("other_entity_id").alias("entity_id"), pl.col("entity_id").alias("survivor")
    )
    # The related records' entities now: the batch's clustering for the involved ones, the
    # survivor of a merge for the others (the rest of the history is left as it is).
    clustered = local_entities.rename({"entity_id": "_now"})
    renamed = pl.col("entity_id").replace(merges["entity_id"], merges["survivor"])
    now = related.join(clustered, on=id_col, how="left", maintain_order="left").select(
        id_col, pl.coalesce("_now", renamed).alias("entity_id")
    )
    arrived = local_entities.filter(pl.col(id_col).is_in(fresh[id_col].implode()))
    column = existing_entities["entity_id"]
    # Written in place, the stored order kept and the batch's new records after it: a
    # filter and concat of the million rows copied every string (0.15 s a batch).
    entities = pl.concat(
        [
            existing_entities.with_columns(
                column.clone().scatter(related_at, now["entity_id"].cast(column.dtype))
            ),
            arrived,
        ],
        how="vertical_relaxed",
    )
    affected = local_entities["entity_id"].unique().implode()
    affected_ids = pl.concat([now, arrived]).filter(pl.col("entity_id").is_in(affected))
    # Only the columns golden records read: the stored records carry every fingerprint too
    # (70 columns of a million rows, filtered here).
    kept = spec.golden_columns()
    # From the fingerprinted frames: survivorship reads the names as the matching read them.
    affected_rows = pl.concat(
        [
            old[[c for c in old.columns if c in kept]].filter(
                old[id_col].is_in(affected_ids[id_col].implode())
            ),
            fresh[[c for c in fresh.columns if c in kept]],
        ],
        how="diagonal_relaxed",
    )
    golden = golden_records(affected_rows, affected_ids, spec)
    scored = pairs_frame(sub[id_col], spec, left, right, gamma, weights, prob, scored_pairs.vetoed)
    return DedupeResult(
        entities=entities,
        pairs=scored,
        golden=golden,
        events=events if events.height else pl.DataFrame(schema=EVENT_SCHEMA),
        model=model,
        spec=spec,
        threshold=threshold,
        report={
            "blocking": block_report.as_dict(),
            "clustering": cluster_report.as_dict(),
            "involved_records": len(involved),
            **({"labels": labelled.report} if labelled.report else {}),
        },
        work=fresh,  # the batch's fingerprints, as matched: for the caller to store
    )


def _labelled_rows(
    ids: pl.Series, entities: pl.DataFrame, labels: pl.DataFrame | None
) -> np.ndarray:
    """Rows of `ids` a label names, and the rows of their entities' other members: a label
    given since the last run may split or join existing entities."""
    if labels is None or labels.is_empty():
        return np.zeros(0, dtype=np.int64)
    named = pl.concat([labels["left_id"], labels["right_id"]]).cast(pl.String).unique()
    id_col = ids.name if ids.name in entities.columns else entities.columns[0]
    members = entities[members_of_entities_of(entities, named, id_col)][id_col]
    wanted = pl.concat([named, members.cast(pl.String)]).unique()
    return np.flatnonzero(ids.cast(pl.String).is_in(wanted.implode()).to_numpy())
