"""u, how often non-matching records agree by chance on each comparison level: from random
record pairs (nearly all non-matches), and for exact levels from value frequencies."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipeline.dedupe.compare import Comparator
from pipeline.dedupe.model import level_frequencies
from pipeline.dedupe.spec import JointFrequency, MatchSpec
from pipeline.dedupe.term_frequencies import joint_agreement

# Records a value is held by beyond a record and its matches, at the least: a value only one
# person holds (their email, their mobile) is not shared by chance with anybody, but its
# weight must stay finite (term-frequency adjustments are bounded anyway). Per record, so the
# least u falls with the table's size as the prior does. At 0.1, a shared personal address
# alone scored 0.93 at any size, below the threshold; at 0.01 it scores 0.99 (a role address
# is no identifier: the name vetoes do not yield to one). Cluster F1 +0.0001 to +0.0009 on
# every lead set, none lower (benchmarks/dedupe/README.md).
MIN_CHANCE_HOLDERS = 0.01


def random_pairs(n: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=count, dtype=np.int64)
    right = rng.integers(0, n, size=count, dtype=np.int64)
    keep = left != right
    return left[keep], right[keep]


def _exact_u_from_frequencies(
    comparator: Comparator, spec: MatchSpec, u: list[np.ndarray]
) -> list[np.ndarray]:
    """u of an exact first level is the chance two random records share a value: sum of
    squared value frequencies. Exact, where sampling would see rare agreements too seldom."""
    out = []
    for comp, uk in zip(spec.comparisons, u, strict=True):
        exact = None
        if comp.levels[0].type == "exact" and not comp.levels[0].column:
            exact = comparator.agreement_chance(comp.column)
        if exact is None:
            out.append(uk)
            continue
        rest = uk[1:] / uk[1:].sum() * (1 - exact)
        out.append(np.concatenate([[max(exact, 1e-9)], rest]))
    return out


def estimate_u(comparator: Comparator, spec: MatchSpec, seed: int = 7) -> list[np.ndarray]:
    """u per comparison: level frequencies over random record pairs (nearly all
    non-matches), exact agreement from value frequencies. Needs no candidate pair, so it
    runs beside their comparison."""
    n = comparator.frame.height
    n_levels = [len(c.levels) + 1 for c in spec.comparisons]
    sample = min(spec.u_sample_pairs, max(n * (n - 1) // 2, 1))
    left, right = random_pairs(n, sample, seed)
    u = level_frequencies(comparator.gamma(spec.comparisons, left, right), n_levels)
    return _exact_u_from_frequencies(comparator, spec, u)


def exact_levels(spec: MatchSpec) -> list[int]:
    """Comparisons whose first level is their own column's exact agreement (their u and
    term frequencies are counted from values)."""
    return [
        k
        for k, comp in enumerate(spec.comparisons)
        if comp.levels[0].type == "exact" and not comp.levels[0].column
    ]


def chance_agreement_without_matches(
    comparator: Comparator,
    spec: MatchSpec,
    u: list[np.ndarray],
    gamma: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """u of the exact levels and each row's term frequency with the matches taken out.

    Counted over all records, a value's frequency includes the person's own duplicates: an
    email held by three records of one person looks as common as one three people share,
    and u of 'same email' comes out about the prior, so that a shared address alone could
    never link two records. The candidate pairs' probabilities say how many of the records
    sharing a row's value are its matches; the rest (at least MIN_CHANCE_HOLDERS of a
    record) over the other records are the row's frequency, and u of the level is the
    same chance over all pairs of records. Returns (u, {column: frequency per row}); for
    each of the spec's joint frequencies, by its `Comparator.joint_keys` name, the
    combination's per candidate pair (NaN where more than `max_holders` records hold it)."""
    n = comparator.frame.height
    corrected = [x.copy() for x in u]
    frequencies: dict[str, np.ndarray] = {}
    possible = prob > 0

    def others_holding(
        column: str, agree: np.ndarray, least: float = MIN_CHANCE_HOLDERS
    ) -> tuple[np.ndarray, int]:
        """Per row, the records holding its value that are not its matches (at least
        `least`; 0 where it has none), and how many records hold a value."""
        counts = comparator.row_counts(column)
        # One scatter over both sides of the agreeing pairs, in place after it: this runs
        # once per exact level and joint frequency, over a million rows each. Pairs of
        # probability 0 (vetoed) add nothing and are left out.
        idx = np.flatnonzero(agree & possible)
        sides = np.concatenate([left[idx], right[idx]])
        # float64 also when no pair agrees (numpy then counts in integers)
        others = -np.bincount(sides, weights=np.tile(prob[idx], 2), minlength=n)
        others = others.astype(float, copy=False)
        others += counts
        others -= 1
        np.maximum(others, least, out=others)
        others[counts == 0] = 0.0
        return others, int(np.count_nonzero(counts))

    joint_keys = [comparator.joint_keys(spec.joint_columns(j)) for j in spec.joint_frequencies]
    comparator.count_rows(joint_keys + [spec.comparisons[k].column for k in exact_levels(spec)])

    def joint_frequency(joint: JointFrequency, key: str) -> None:
        # A combination (a full name): its frequency only, for `tf_adjustments`; its
        # comparisons keep their own u. No floor: a name nobody else holds is left to the
        # product of its parts' frequencies (`tf_adjustments` takes the lower evidence).
        agree = joint_agreement(spec, joint, gamma)
        others, holders = others_holding(key, agree, least=0.0)
        if holders < 2:
            return
        frequency = np.where(comparator.row_counts(key) > 0, others / (holders - 1), np.nan)
        if joint.max_holders is not None:
            frequency[comparator.row_counts(key) > joint.max_holders] = np.nan
        # Per candidate pair: the mean of its two records' (NaN where either is), only
        # where the combination agrees: nowhere else is it read.
        rows = np.flatnonzero(agree)
        # float32: the adjustments they make are float32, and a run holds several (1.8M
        # pairs each at 1M rows)
        per_pair = np.full(len(left), np.nan, dtype=np.float32)
        per_pair[rows] = (frequency[left[rows]] + frequency[right[rows]]) / 2
        frequencies[key] = per_pair

    def exact_frequency(k: int) -> None:
        column = spec.comparisons[k].column
        others, holders = others_holding(column, gamma[:, k] == 0)
        if holders < 2:
            return
        present = others > 0
        # float32, as the adjustments made from it are (8 columns of 1M rows: 32 MB less)
        frequencies[column] = (others / (holders - 1)).astype(np.float32)
        exact = float(others[present].sum()) / (holders * (holders - 1))
        rest = u[k][1:] / u[k][1:].sum() * (1 - exact)
        corrected[k] = np.concatenate([[max(exact, 1e-12)], rest])

    # Each column and combination on its own (numpy's gathers and arithmetic release the
    # GIL for most of their time): in threads.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = [
            pool.submit(joint_frequency, joint, key)
            for joint, key in zip(spec.joint_frequencies, joint_keys, strict=True)
        ]
        done += [pool.submit(exact_frequency, k) for k in exact_levels(spec)]
        for future in done:
            future.result()
    return corrected, frequencies
