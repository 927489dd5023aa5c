"""Score distributions and their drift between runs (population stability index).

Fixed 10-point score bins rather than deciles of the previous run: the bins can be stored as
plain counts in run metadata and compared with any later run without keeping old scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from pipeline.scoring.icp import Icp

BIN_LABELS = (*(f"{lo}-{lo + 9}" for lo in range(0, 90, 10)), "90-100")
SHARE_FLOOR = 1e-4  # an empty bin on one side would make the index infinite


def score_bins(scores: pl.Series) -> dict[str, int]:
    """Leads per 10-point score bin, every bin present (100 falls in 90-100)."""
    index = (scores.drop_nulls().cast(pl.Int32) // 10).clip(0, 9)
    counts = dict.fromkeys(BIN_LABELS, 0)
    for value, n in index.value_counts().iter_rows():
        counts[BIN_LABELS[value]] = int(n)
    return counts


def grade_counts(grades: pl.Series, icp: Icp) -> dict[str, int]:
    """Leads per grade, best grade first, zeros included."""
    counts = dict.fromkeys(icp.grades, 0)
    for grade, n in grades.drop_nulls().value_counts().iter_rows():
        counts[str(grade)] = int(n)
    return counts


def psi(expected: Mapping[str, int | float], actual: Mapping[str, int | float]) -> float:
    """Population stability index of `actual` against `expected` (counts or shares per bin).

    Rule of thumb: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
    """
    bins = list(dict.fromkeys([*expected, *actual]))
    e_total = sum(expected.values()) or 1
    a_total = sum(actual.values()) or 1
    total = 0.0
    for b in bins:
        e = max(expected.get(b, 0) / e_total, SHARE_FLOOR)
        a = max(actual.get(b, 0) / a_total, SHARE_FLOOR)
        total += (a - e) * math.log(a / e)
    return total
