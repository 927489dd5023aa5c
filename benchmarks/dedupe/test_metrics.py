"""Hand-checked examples for the benchmark metrics.

Run: .venv/bin/pytest benchmarks/dedupe/test_metrics.py
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import (
    cluster_pair_metrics,
    cluster_summary,
    scored_pair_metrics,
    scored_pair_sweep,
    true_pair_count,
)

# True entities: A = {1, 2, 3}, B = {4, 5}, C = {6} -> 3 + 1 = 4 true pairs.
TRUTH = pl.DataFrame(
    {"record_id": ["1", "2", "3", "4", "5", "6"], "true_entity_id": ["A", "A", "A", "B", "B", "C"]}
)


def _pred(groups: list[list[str]]) -> pl.DataFrame:
    rows = [(rid, f"p{i}") for i, group in enumerate(groups) for rid in group]
    return pl.DataFrame(rows, schema=["record_id", "entity_id"], orient="row")


def _brute_force(groups: list[list[str]]) -> tuple[int, int]:
    """(TP, predicted pairs) by enumerating pairs, to cross-check the contingency counts."""
    truth = dict(TRUTH.iter_rows())
    pred = {rid: i for i, g in enumerate(groups) for rid in g}
    tp = predicted = 0
    for a, b in combinations(sorted(pred), 2):
        if pred[a] == pred[b]:
            predicted += 1
            tp += truth[a] == truth[b]
    return tp, predicted


def test_true_pair_count() -> None:
    assert true_pair_count(TRUTH) == 4


def test_perfect_partition() -> None:
    m = cluster_pair_metrics(_pred([["1", "2", "3"], ["4", "5"], ["6"]]), TRUTH)
    assert (m.tp, m.predicted_pairs, m.true_pairs) == (4, 4, 4)
    assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)


def test_mixed_partition_matches_hand_and_brute_force() -> None:
    groups = [["1", "2"], ["3", "4"], ["5", "6"]]
    m = cluster_pair_metrics(_pred(groups), TRUTH)
    assert (m.tp, m.predicted_pairs, m.true_pairs, m.fp, m.fn) == (1, 3, 4, 2, 3)
    assert m.precision == pytest.approx(1 / 3)
    assert m.recall == pytest.approx(1 / 4)
    assert m.f1 == pytest.approx(2 / 7)
    assert (m.tp, m.predicted_pairs) == _brute_force(groups)


def test_all_singletons_and_one_big_cluster() -> None:
    single = cluster_pair_metrics(_pred([[r] for r in "123456"]), TRUTH)
    assert (single.precision, single.recall, single.f1) == (1.0, 0.0, 0.0)
    merged = cluster_pair_metrics(_pred([list("123456")]), TRUTH)
    assert (merged.tp, merged.predicted_pairs) == (4, 15)
    assert merged.precision == pytest.approx(4 / 15)
    assert merged.recall == 1.0


def test_missing_record_is_a_singleton() -> None:
    m = cluster_pair_metrics(_pred([["1", "2"], ["4", "5"], ["6"]]), TRUTH)
    assert (m.tp, m.predicted_pairs, m.true_pairs) == (2, 2, 4)
    summary = cluster_summary(_pred([["1", "2"], ["4", "5"], ["6"]]), TRUTH)
    assert summary["pred_entities"] == 4
    assert summary["true_entities"] == 3
    assert summary["largest_pred_entity"] == 2


def test_duplicate_ids_in_prediction_are_rejected() -> None:
    with pytest.raises(ValueError):
        cluster_pair_metrics(_pred([["1", "2"], ["2", "3"]]), TRUTH)


PAIRS = pl.DataFrame(
    {
        "id_l": ["1", "2", "1", "4", "3", "6"],
        "id_r": ["2", "1", "3", "5", "4", "6"],
        "match_probability": [0.9, 0.95, 0.4, 0.99, 0.8, 1.0],
    }
)


def test_scored_pairs_dedupes_orientation_and_drops_self_pairs() -> None:
    m = scored_pair_metrics(PAIRS, TRUTH, threshold=0.5)
    # (1,2) twice -> once, (6,6) dropped: predicted {(1,2), (4,5), (3,4)}.
    assert (m.tp, m.predicted_pairs, m.true_pairs) == (2, 3, 4)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(1 / 2)


def test_scored_pairs_without_threshold_counts_every_pair() -> None:
    m = scored_pair_metrics(PAIRS, TRUTH, score_col=None)
    assert (m.tp, m.predicted_pairs) == (3, 4)


def test_sweep_agrees_with_single_threshold() -> None:
    sweep = scored_pair_sweep(PAIRS, TRUTH, [0.3, 0.5, 0.99])
    assert (sweep[0.3].tp, sweep[0.3].predicted_pairs) == (3, 4)
    assert sweep[0.5] == scored_pair_metrics(PAIRS, TRUTH, threshold=0.5)
    assert (sweep[0.99].tp, sweep[0.99].predicted_pairs) == (1, 1)
    assert sweep[0.99].recall == pytest.approx(1 / 4)


def test_integer_ids_work() -> None:
    truth = TRUTH.with_columns(pl.col("record_id").cast(pl.Int64))
    pred = _pred([["1", "2", "3"], ["4", "5"], ["6"]]).with_columns(
        pl.col("record_id").cast(pl.Int64)
    )
    assert cluster_pair_metrics(pred, truth).f1 == 1.0
