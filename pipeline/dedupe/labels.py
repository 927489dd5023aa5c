"""A person's verdicts on pairs of records, and what the engine does with them.

A label is `match`, `no_match` or `unsure` for two record ids. Every run honours them:
- `match` is a must-link: the two records end in one entity (a certain link, above any
  threshold, that the clustering guards do not refuse);
- `no_match` is a cannot-link: no chain of other links may join the two;
- `unsure` is kept (so the pair is not offered again) and changes nothing.

Labelled pairs also correct the model (`learn_from_labels`): per comparison level, a weight
correction fitted by L2-regularised logistic regression with the model's own weights as the
offset (so a handful of labels moves the weights little, and a level the labels never saw
not at all), kept in the model as `corrections` (the weight becomes log2(m/u) + correction,
as if m were m * 2^correction); then the threshold where the labelled pairs are told apart
best, moved at most MAX_THRESHOLD_MOVE bits, and only where that puts at least
MIN_ERRORS_SAVED fewer labelled pairs on the wrong side. The report says what changed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.dedupe.compare import NULL_LEVEL, Comparator
from pipeline.dedupe.model import FSModel, log2_odds, match_weights, probability
from pipeline.dedupe.scoring import ScoredPairs
from pipeline.dedupe.spec import MatchSpec
from pipeline.dedupe.term_frequencies import tf_adjustments
from pipeline.dedupe.vetoes import vetoed_pairs

LABELS = ("match", "no_match", "unsure")
LABEL_SCHEMA = {"left_id": pl.String, "right_id": pl.String, "label": pl.String}
# How strongly the weight corrections are held at 0 (the prior's spread, in log2 units).
# Playing the reviewer with the truth (bench_review.py, the four 100k lead sets), F1 after
# 50 / 100 / 200 labels. At 4.0 (kept until the office joint frequencies): standard 0.9919 /
# 0.9933 / 0.9930 and alt-heavy 0.9330 / 0.9366 / 0.9378, both dipping below no labels
# (0.9926, 0.9335) at 50, as the first labels, chosen near the threshold, pulled whole levels
# about. At 1.0: 0.9928 / 0.9936 / 0.9934, 0.9364 / 0.9380 / 0.9394, hard 0.9611 / 0.9619 /
# 0.9624 (0.9600 / 0.9615 / 0.9622 at 4.0), alt-standard 0.9767 / 0.9782 / 0.9794 (0.9782 /
# 0.9785 / 0.9792): higher at 200 on every set, and never below no labels. 2.0 and 0.5 were
# between or lower (alt-heavy 0.9383, 0.9377 at 200). With two mobiles kept apart and the
# threshold at 0.8, 1.0 dipped again: alt-heavy 0.9386 with no labels, 0.9356 at 50 (the
# corrections cut recall 0.9019 -> 0.8917). At 0.25: standard 0.9936 / 0.9940 / 0.9942, hard
# 0.9628 / 0.9635 / 0.9640, alt-standard 0.9795 / 0.9801 / 0.9803, alt-heavy 0.9390 / 0.9389
# / 0.9398, never below no labels (0.9935, 0.9624, 0.9787, 0.9386); 0.5 dipped (alt-heavy
# 0.9377 at 50).
CORRECTION_PENALTY = 0.25
# How far (log2 odds) labels may move the threshold in one run. The labelled pairs are a
# biased sample (near the threshold, the largest entities' weakest links): with a third of
# 50 labels from those entities the cut that told them apart best was 0.9996, and
# alt-standard fell 0.9787 -> 0.9488; 3 bits (0.8 -> at most 0.97) gave 0.9763. A person who
# labels the pairs deciding the largest merges first (`bench_review.py --reviewer largest`)
# took 3 bits each time: 200 such labels cost alt-heavy 0.9436 -> 0.9165, hard 0.9637 ->
# 0.9516. At 1 bit (0.75 -> 0.6-0.857): 0.9328 and 0.9595, standard never below 0.9932
# (0.9911 at 3), while the review loop's own labels lost at most 0.0003 (hard 0.9650 ->
# 0.9647 at 200; 1M alt-standard / hard at 200: 0.9751 / 0.9531, 0.9752 / 0.9534 at 3 bits
# at the last stop).
MAX_THRESHOLD_MOVE = 1.0
# How many fewer labelled pairs on the wrong side a new threshold must leave before labels
# move it. 50 labels near the threshold moved it 0.75 -> 0.83 at 100k alt-heavy and -> 0.94
# at alt-standard for one or two pairs told apart better, and F1 fell below no labels
# (0.9436 -> 0.9421, 0.9801 -> 0.9789). At 3, every 100k lead set held or gained at 50 / 100 /
# 200 labels (alt-heavy 0.9431 / 0.9438 / 0.9444 against 0.9421 / 0.9430 / 0.9441,
# alt-standard 0.9805 / 0.9809 / 0.9812 against 0.9789 / 0.9797 / 0.9802, standard and hard
# unchanged), and 1M alt-standard and hard were unchanged. 4 and 5: alt-heavy 0.9432 at 100.
MIN_ERRORS_SAVED = 3


class LabelError(ValueError):
    """A labels file or table that cannot be read as labels: names the row and field."""


def ordered(labels: pl.DataFrame) -> pl.DataFrame:
    """One row per unordered pair (left < right), the last label given for it winning."""
    left, right = pl.col("left_id").cast(pl.String), pl.col("right_id").cast(pl.String)
    return (
        labels.select(
            pl.min_horizontal(left, right).alias("left_id"),
            pl.max_horizontal(left, right).alias("right_id"),
            pl.col("label").cast(pl.String),
        )
        .filter(pl.col("left_id") != pl.col("right_id"))
        .unique(["left_id", "right_id"], keep="last", maintain_order=True)
    )


def read_labels_csv(path: Path) -> pl.DataFrame:
    """`left_id`, `right_id`, `label` from a review CSV (other columns ignored; rows with an
    empty label skipped). A bad label names the file, line and value."""
    # The lead files' own decoding and delimiter sniffing: a review file comes back from a
    # spreadsheet, saved in the machine's code page and, in much of Europe, with semicolons.
    from pipeline.parsing import FileParseError, decode_text, sniff_delimiter

    if not path.exists():
        raise LabelError(f"{path}: no such file")
    rows: list[tuple[str, str, str]] = []
    try:
        text = decode_text(str(path), path.read_bytes())
    except FileParseError as exc:
        raise LabelError(str(exc)) from exc
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh, delimiter=sniff_delimiter(text))
        missing = {"left_id", "right_id", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LabelError(f"{path}: no column(s) {', '.join(sorted(missing))} in the header")
        for line, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip().lower().replace(" ", "_").replace("-", "_")
            if not label:
                continue
            if label not in LABELS:
                raise LabelError(
                    f"{path}, line {line}, field label: {row['label']!r} is not one of "
                    f"{', '.join(LABELS)}"
                )
            left, right = (row["left_id"] or "").strip(), (row["right_id"] or "").strip()
            if not left or not right:
                raise LabelError(f"{path}, line {line}: left_id and right_id are both needed")
            rows.append((left, right, label))
    frame = pl.DataFrame(rows, schema=LABEL_SCHEMA, orient="row")
    return ordered(frame)


@dataclass
class LabelledPairs:
    """Labels as row positions of the table being resolved."""

    must_left: np.ndarray
    must_right: np.ndarray
    cannot_left: np.ndarray
    cannot_right: np.ndarray
    unknown_ids: int = 0  # labels naming a record this table does not hold

    @property
    def empty(self) -> bool:
        return not (len(self.must_left) or len(self.cannot_left))


def positions(labels: pl.DataFrame | None, ids: pl.Series) -> LabelledPairs:
    """The labels' ids as row numbers of `ids` (labels about other records are counted and
    left aside: an incremental batch's history holds them)."""
    empty = np.zeros(0, dtype=np.int64)
    if labels is None or labels.is_empty():
        return LabelledPairs(empty, empty, empty, empty)
    index = pl.DataFrame({"id": ids.cast(pl.String), "pos": np.arange(len(ids))})
    found = (
        ordered(labels)
        .join(index.rename({"id": "left_id", "pos": "l"}), on="left_id", how="left")
        .join(index.rename({"id": "right_id", "pos": "r"}), on="right_id", how="left")
    )
    unknown = found.filter(pl.col("l").is_null() | pl.col("r").is_null()).height
    found = found.drop_nulls(["l", "r"])
    must = found.filter(pl.col("label") == "match")
    cannot = found.filter(pl.col("label") == "no_match")
    return LabelledPairs(
        must["l"].to_numpy().astype(np.int64),
        must["r"].to_numpy().astype(np.int64),
        cannot["l"].to_numpy().astype(np.int64),
        cannot["r"].to_numpy().astype(np.int64),
        unknown_ids=unknown,
    )


@dataclass
class LearnedFromLabels:
    """What the labels changed in the model, for the run's report."""

    model: FSModel
    threshold: float
    labelled_pairs: int = 0
    matches: int = 0
    non_matches: int = 0
    threshold_before: float = 0.0
    # The threshold the labelled pairs called for, where MAX_THRESHOLD_MOVE held it back.
    threshold_wanted: float | None = None
    # Labelled pairs the model put on the wrong side of the threshold, before and after.
    disagreements_before: int = 0
    disagreements_after: int = 0
    weight_changes: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "labelled_pairs": self.labelled_pairs,
            "matches": self.matches,
            "non_matches": self.non_matches,
            "threshold_before": self.threshold_before,
            "threshold_after": self.threshold,
            **({"threshold_wanted": self.threshold_wanted} if self.threshold_wanted else {}),
            "disagreements_before": self.disagreements_before,
            "disagreements_after": self.disagreements_after,
            "weight_changes": self.weight_changes,
        }


def _probability(log2_odds: float) -> float:
    """A threshold from log2 odds, within (0.5, 1)."""
    return float(np.clip(1 / (1 + 2.0 ** (-log2_odds)), 0.5, 1 - 1e-9))


def learn_from_labels(
    model: FSModel,
    gamma: np.ndarray,
    tf: np.ndarray,
    is_match: np.ndarray,
    threshold: float,
    labels_of_levels: list[list[str]],
    min_labels: int = 10,
) -> LearnedFromLabels:
    """Correct the model's level weights and the threshold from labelled pairs.

    `gamma` (pairs, comparisons) and `tf` (their term-frequency adjustments, summed per pair)
    are the labelled pairs' levels; `is_match` the verdicts (unsure pairs left out). Fewer
    than `min_labels`, or labels of one kind only: the model is returned as it is."""
    out = LearnedFromLabels(
        model=model,
        threshold=threshold,
        labelled_pairs=len(is_match),
        matches=int(is_match.sum()),
        non_matches=int((~is_match).sum()),
        threshold_before=threshold,
    )
    if len(is_match) < min_labels or out.matches == 0 or out.non_matches == 0:
        return out
    prior = log2_odds(model.prior)
    offset = match_weights(gamma, model).sum(axis=1).astype(float) + tf + prior
    # One feature per (comparison, level) the labelled pairs show; a missing value weighs 0.
    columns: list[tuple[int, int]] = []
    for k in range(gamma.shape[1]):
        for level in np.unique(gamma[:, k]):
            if level != NULL_LEVEL:
                columns.append((k, int(level)))
    x = np.zeros((len(gamma), len(columns)))
    for j, (k, level) in enumerate(columns):
        x[:, j] = gamma[:, k] == level
    y = is_match.astype(float)
    ln2 = np.log(2.0)

    def loss(delta: np.ndarray) -> tuple[float, np.ndarray]:
        z = (offset + x @ delta) * ln2
        p = 1 / (1 + np.exp(-np.clip(z, -60, 60)))
        nll = -np.sum(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        grad = x.T @ (p - y) * ln2 + 2 * delta / CORRECTION_PENALTY**2
        return nll + float(delta @ delta) / CORRECTION_PENALTY**2, grad

    from scipy.optimize import minimize  # ~0.15 s to import; only runs with labels

    fitted = minimize(loss, np.zeros(len(columns)), jac=True, method="L-BFGS-B")
    delta = fitted.x
    # Kept as per-level corrections of the weights (as if m were m * 2^delta); folding them
    # into m and renormalising would shift every other level of the comparison too.
    corrections = [
        np.zeros(len(mk)) if model.corrections is None else model.corrections[k].copy()
        for k, mk in enumerate(model.m)
    ]
    for j, (k, level) in enumerate(columns):
        corrections[k][level] += delta[j]
        name = model.comparisons[k]
        out.weight_changes.setdefault(name, {})[labels_of_levels[k][level]] = round(
            float(delta[j]), 3
        )
    learned = replace(model, corrections=corrections)
    old_cut = log2_odds(threshold)
    before = offset >= old_cut
    out.disagreements_before = int((before != is_match).sum())
    # The threshold that tells the labelled pairs apart best under the corrected weights
    # (ties: the one nearest the old threshold), within sane bounds.
    after = match_weights(gamma, learned).sum(axis=1).astype(float) + tf + prior
    candidates = np.unique(np.concatenate([after, [old_cut]]))
    errors = np.array([((after >= c) != is_match).sum() for c in candidates])
    best = candidates[errors == errors.min()]
    cut = float(best[np.argmin(np.abs(best - old_cut))])
    if int(((after >= old_cut) != is_match).sum()) - int(errors.min()) < MIN_ERRORS_SAVED:
        cut = old_cut  # a cut that tells too few more labelled pairs apart is the sample's noise
    else:
        # Halfway to the next labelled weight below, so the cut does not sit on a labelled pair.
        below = after[after < cut]
        if len(below):
            cut = (cut + float(below.max())) / 2
        bounded = float(np.clip(cut, old_cut - MAX_THRESHOLD_MOVE, old_cut + MAX_THRESHOLD_MOVE))
        if bounded != cut:
            out.threshold_wanted = _probability(cut)
        cut = bounded
    out.threshold = _probability(cut)
    out.disagreements_after = int(((after >= log2_odds(out.threshold)) != is_match).sum())
    out.model = learned
    return out


@dataclass
class LabelledRun:
    """A run's scores and guards after its labels: the (possibly corrected) weights,
    probabilities, model and threshold, the pairs to keep apart and those to join."""

    weights: np.ndarray
    probability: np.ndarray
    model: FSModel
    threshold: float
    apart: tuple[np.ndarray, np.ndarray]
    must: tuple[np.ndarray, np.ndarray]
    report: dict = field(default_factory=dict)


def _pair_keys(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    low, high = np.minimum(left, right), np.maximum(left, right)
    return low.astype(np.int64) * (1 << 32) + high


def apply_labels(
    labels: pl.DataFrame | None,
    ids: pl.Series,
    spec: MatchSpec,
    comparator: Comparator,
    scored: ScoredPairs,
    left: np.ndarray,
    right: np.ndarray,
    threshold: float,
    learn: bool = True,
) -> LabelledRun:
    """Honour and learn from `labels` (left_id, right_id, label) in a run over `ids`, whose
    candidate pairs (`left`, `right`) were `scored`. With `learn`, enough labels correct the
    model and the threshold (`learn_from_labels`), and every candidate pair is re-weighted."""
    placed = positions(labels, ids)
    # Links a source vouches for (`learn` false: a CRM's own record of a person's addresses)
    # are honoured like a person's labels but taught nothing: they are chosen by the
    # source, not sampled, and would bend the weights towards their kind of pair.
    taught = placed
    if labels is not None and "learn" in labels.columns:
        taught = positions(labels.filter(pl.col("learn").fill_null(True)), ids)
    weights, prob, model = scored.weights, scored.probability, scored.model
    vetoed_left, vetoed_right = left[scored.vetoed], right[scored.vetoed]
    report: dict = {}
    if labels is not None and not labels.is_empty():
        report = {
            "labels": int(ordered(labels).height),
            "must_link": len(placed.must_left),
            "cannot_link": len(placed.cannot_left),
            "labels_about_other_records": placed.unknown_ids,
        }
    if learn and not taught.empty:
        ll = np.concatenate([taught.must_left, taught.cannot_left])
        lr = np.concatenate([taught.must_right, taught.cannot_right])
        is_match = np.arange(len(ll)) < len(taught.must_left)
        gamma = comparator.gamma(spec.comparisons, ll, lr)
        tf = tf_adjustments(comparator, spec, model, None, gamma, ll).sum(axis=1)
        # A veto decides those pairs whatever their weights: they teach the weights nothing.
        free = ~vetoed_pairs(comparator, spec, ll, lr)
        learned = learn_from_labels(
            model,
            gamma[free],
            tf[free],
            is_match[free],
            threshold,
            [c.labels for c in spec.comparisons],
        )
        report["learned"] = learned.as_dict()
        if learned.model is not model:
            weights = weights - match_weights(scored.gamma, model)
            weights += match_weights(scored.gamma, learned.model)
            prob = probability(weights.sum(axis=1), learned.model.prior)
            prob[scored.vetoed] = 0.0
            model, threshold = learned.model, learned.threshold
    if len(placed.must_left) and len(vetoed_left):
        # A person's match outranks a veto: that pair is not kept apart.
        keep = ~np.isin(
            _pair_keys(vetoed_left, vetoed_right), _pair_keys(placed.must_left, placed.must_right)
        )
        vetoed_left, vetoed_right = vetoed_left[keep], vetoed_right[keep]
    return LabelledRun(
        weights=weights,
        probability=prob,
        model=model,
        threshold=threshold,
        apart=(
            np.concatenate([vetoed_left, placed.cannot_left]),
            np.concatenate([vetoed_right, placed.cannot_right]),
        ),
        must=(placed.must_left, placed.must_right),
        report=report,
    )
