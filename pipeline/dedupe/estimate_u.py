"""u, how often non-matching records agree by chance on each comparison level: from random
record pairs (nearly all non-matches), and for exact levels from value frequencies."""

from __future__ import annotations

import numpy as np

from pipeline.dedupe.compare import Comparator
from pipeline.dedupe.model import level_frequencies
from pipeline.dedupe.spec import MatchSpec


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
