"""Dedupe quality metrics against ground truth, vectorized with polars (no O(n^2) pairs).

Two families, so engines with different internals are compared on the same footing:

* **Cluster pair metrics** ("cluster F1, pairs implied by the final entities"): every
  partition of the records implies the set of within-entity record pairs. Precision, recall
  and F1 compare the pairs implied by the predicted entities with those implied by the true
  entities. They are computed from a contingency table of (predicted entity, true entity)
  cell sizes c: TP = sum C(c, 2), predicted pairs = sum C(|pred|, 2), true pairs =
  sum C(|true|, 2). Engine-agnostic: needs only `{id, entity_id}`.
* **Scored-pair metrics**: for an engine that reports the scored candidate pairs, the pairs
  at or above a threshold are compared with the true matching pairs. The recall denominator
  is ALL true pairs (including those blocking never generated), so it measures blocking
  recall and scoring together.

Conventions: precision is 1.0 when nothing is predicted, recall is 1.0 when there is no
true pair, F1 is 0.0 when precision + recall is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import polars as pl


@dataclass(frozen=True)
class PairMetrics:
    """Pair-counting precision/recall/F1 plus the counts they come from."""

    tp: int
    predicted_pairs: int
    true_pairs: int
    precision: float
    recall: float
    f1: float

    @property
    def fp(self) -> int:
        return self.predicted_pairs - self.tp

    @property
    def fn(self) -> int:
        return self.true_pairs - self.tp

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "fp": self.fp, "fn": self.fn}


def _pairs(count: pl.Expr) -> pl.Expr:
    """C(n, 2) for a count column, in Int64 (C(10^6, 2) ~ 5e11 fits)."""
    n = count.cast(pl.Int64)
    return n * (n - 1) // 2


def _from_counts(tp: int, predicted: int, true: int) -> PairMetrics:
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairMetrics(int(tp), int(predicted), int(true), precision, recall, f1)


def true_pair_count(truth: pl.DataFrame, true_col: str = "true_entity_id") -> int:
    """Number of within-entity pairs implied by the true entities."""
    return int(truth.group_by(true_col).len().select(_pairs(pl.col("len")).sum()).item() or 0)


def aligned(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    id_col: str,
    pred_col: str = "entity_id",
    true_col: str = "true_entity_id",
) -> pl.DataFrame:
    """`truth` rows with their predicted entity; a record the engine did not return becomes
    its own singleton (so a dropped record costs recall, never inflates precision)."""
    if predicted[id_col].n_unique() != predicted.height:
        raise ValueError(f"predicted entities list some {id_col!r} more than once")
    joined = truth.select(id_col, true_col).join(
        predicted.select(id_col, pl.col(pred_col).cast(pl.String).alias("_pred")),
        on=id_col,
        how="left",
    )
    return joined.with_columns(
        pl.coalesce("_pred", pl.lit("__missing__:") + pl.col(id_col).cast(pl.String)).alias("_pred")
    )


def cluster_pair_metrics(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    id_col: str = "record_id",
    pred_col: str = "entity_id",
    true_col: str = "true_entity_id",
) -> PairMetrics:
    """Precision/recall/F1 of the pairs implied by predicted vs true entities."""
    frame = aligned(predicted, truth, id_col, pred_col, true_col)
    tp = frame.group_by("_pred", true_col).len().select(_pairs(pl.col("len")).sum()).item()
    pred = frame.group_by("_pred").len().select(_pairs(pl.col("len")).sum()).item()
    true = frame.group_by(true_col).len().select(_pairs(pl.col("len")).sum()).item()
    return _from_counts(tp or 0, pred or 0, true or 0)


def cluster_summary(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    id_col: str = "record_id",
    pred_col: str = "entity_id",
    true_col: str = "true_entity_id",
) -> dict[str, int]:
    """Entity counts and largest cluster sizes, to spot over-merging or under-merging."""
    frame = aligned(predicted, truth, id_col, pred_col, true_col)
    pred_sizes = frame.group_by("_pred").len()["len"]
    true_sizes = frame.group_by(true_col).len()["len"]
    return {
        "records": frame.height,
        "pred_entities": pred_sizes.len(),
        "true_entities": true_sizes.len(),
        "largest_pred_entity": int(pred_sizes.max() or 0),
        "largest_true_entity": int(true_sizes.max() or 0),
    }


def _ordered_pairs(pairs: pl.DataFrame, left: str, right: str) -> pl.DataFrame:
    """Pairs as (a, b) with a < b, self-pairs dropped, duplicates removed."""
    return (
        pairs.select(
            pl.min_horizontal(left, right).alias("_a"), pl.max_horizontal(left, right).alias("_b")
        )
        .filter(pl.col("_a") != pl.col("_b"))
        .unique()
    )


def scored_pair_metrics(
    pairs: pl.DataFrame,
    truth: pl.DataFrame,
    id_col: str = "record_id",
    left: str = "id_l",
    right: str = "id_r",
    score_col: str | None = "match_probability",
    threshold: float | None = None,
    true_col: str = "true_entity_id",
) -> PairMetrics:
    """Precision/recall/F1 of the scored pairs at or above `threshold` vs all true pairs.

    With `threshold=None` every listed pair counts as predicted (e.g. an exact-key baseline's
    edges). The pair ids must be the values of `truth[id_col]`.
    """
    if threshold is not None:
        if score_col is None:
            raise ValueError("a threshold needs score_col")
        pairs = pairs.filter(pl.col(score_col) >= threshold)
    ordered = _ordered_pairs(pairs, left, right)
    lookup = truth.select(id_col, true_col)
    labelled = ordered.join(
        lookup.rename({id_col: "_a", true_col: "_ta"}), on="_a", how="left"
    ).join(lookup.rename({id_col: "_b", true_col: "_tb"}), on="_b", how="left")
    tp = labelled.select((pl.col("_ta") == pl.col("_tb")).fill_null(False).sum()).item()
    return _from_counts(tp or 0, ordered.height, true_pair_count(truth, true_col))


def scored_pair_sweep(
    pairs: pl.DataFrame,
    truth: pl.DataFrame,
    thresholds: Sequence[float],
    id_col: str = "record_id",
    left: str = "id_l",
    right: str = "id_r",
    score_col: str = "match_probability",
    true_col: str = "true_entity_id",
) -> dict[float, PairMetrics]:
    """`scored_pair_metrics` at each threshold, labelling the pairs once."""
    lookup = truth.select(id_col, true_col)
    scored = (
        pairs.select(
            pl.min_horizontal(left, right).alias("_a"),
            pl.max_horizontal(left, right).alias("_b"),
            pl.col(score_col).alias("_s"),
        )
        .filter(pl.col("_a") != pl.col("_b"))
        .group_by("_a", "_b")
        .agg(pl.col("_s").max())
        .join(lookup.rename({id_col: "_a", true_col: "_ta"}), on="_a", how="left")
        .join(lookup.rename({id_col: "_b", true_col: "_tb"}), on="_b", how="left")
        .with_columns((pl.col("_ta") == pl.col("_tb")).fill_null(False).alias("_match"))
    )
    true = true_pair_count(truth, true_col)
    out: dict[float, PairMetrics] = {}
    for t in thresholds:
        row = scored.filter(pl.col("_s") >= t).select(pl.len(), pl.col("_match").sum()).row(0)
        out[t] = _from_counts(row[1] or 0, row[0], true)
    return out
