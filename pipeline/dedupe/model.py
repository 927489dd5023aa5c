"""Fellegi-Sunter scoring: m and u per comparison level estimated from the data, weights,
term-frequency adjustments and match probabilities.

u (how often non-matches agree by chance) comes from random record pairs, where matches are
vanishingly rare; m (how often matches agree) and the match prior come from EM over the
candidate pairs. EM runs on the distinct gamma patterns with their counts, so it costs
the same for a thousand pairs or ten million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.dedupe.compare import NULL_LEVEL

EPS = 1e-6
# The least u a weight is read with. Not EPS: the chance that two people's records share an
# identifier (an email, a mobile) is far below 1e-6 in a million-row table, where the prior
# is about 2e-6; read at 1e-6, a shared address alone weighed 19.7 bits against a prior of
# -18.7, so that no shared address alone could link two records at 1M rows.
U_FLOOR = 1e-12


@dataclass
class FSModel:
    """Fitted parameters; serialisable so incremental runs reuse them without refitting."""

    comparisons: list[str]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float
    iterations: int = 0
    converged: bool = False
    # Per level of each comparison, a correction (log2) learned from people's labels
    # (pipeline.dedupe.labels): the weight is log2(m/u) + this, as if m were m * 2^this.
    corrections: list[np.ndarray] | None = None

    def weights(self) -> list[np.ndarray]:
        """log2(m/u) per level of each comparison, with the labels' corrections."""
        out = [
            np.log2(np.clip(m, EPS, 1) / np.clip(u, U_FLOOR, 1))
            for m, u in zip(self.m, self.u, strict=True)
        ]
        if self.corrections is not None:
            out = [w + c for w, c in zip(out, self.corrections, strict=True)]
        return out

    def to_dict(self) -> dict:
        out = {
            "comparisons": self.comparisons,
            "m": [m.tolist() for m in self.m],
            "u": [u.tolist() for u in self.u],
            "prior": self.prior,
            "iterations": self.iterations,
            "converged": self.converged,
        }
        if self.corrections is not None:
            out["corrections"] = [c.tolist() for c in self.corrections]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> FSModel:
        return cls(
            comparisons=list(data["comparisons"]),
            m=[np.asarray(m, dtype=float) for m in data["m"]],
            u=[np.asarray(u, dtype=float) for u in data["u"]],
            prior=float(data["prior"]),
            iterations=int(data.get("iterations", 0)),
            converged=bool(data.get("converged", False)),
            corrections=(
                [np.asarray(c, dtype=float) for c in data["corrections"]]
                if data.get("corrections") is not None
                else None
            ),
        )


def level_frequencies(gamma: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    """Share of each level among non-null values, per comparison (Laplace-smoothed)."""
    out = []
    for k, size in enumerate(n_levels):
        column = gamma[:, k]
        counts = np.bincount(column[column != NULL_LEVEL].astype(np.int64), minlength=size)
        out.append((counts + 0.5) / (counts.sum() + 0.5 * size))
    return out


def patterns(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct gamma rows, each row's pattern index, count of each pattern), via one int64
    code per row in mixed radix (each comparison's digit as wide as its own levels, first
    comparison most significant, so patterns come in the order of their rows' levels); a
    bincount over the codes when they are few (always, for a handful of comparisons: the
    leads spec's 8 make 258k codes, where one radix for all made 16.7M and cost 0.3 s of
    tables), a sort otherwise."""
    # Levels shift by one: NULL_LEVEL -> 0.
    bases = [int(gamma[:, k].max(initial=NULL_LEVEL)) + 2 for k in range(gamma.shape[1])]
    codes = np.zeros(len(gamma), dtype=np.int64)
    for k, base in enumerate(bases):  # column by column: no int64 copy of the whole matrix
        codes *= base
        codes += gamma[:, k]
        codes += 1
    space = math.prod(bases)
    if space <= 1 << 24:
        full = np.bincount(codes, minlength=space)
        present = np.flatnonzero(full)
        lookup = np.zeros(space, dtype=np.int64)
        lookup[present] = np.arange(len(present))
        inverse = lookup[codes]
        index = np.zeros(len(present), dtype=np.int64)
        index[inverse] = np.arange(len(gamma))  # some row of each pattern: all are equal
        return gamma[index], inverse, full[present].astype(float)
    _, index, inverse, counts = np.unique(
        codes, return_index=True, return_inverse=True, return_counts=True
    )
    return gamma[index], inverse.reshape(-1), counts.astype(float)


def patterns_of(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct gamma rows and how often each occurs."""
    distinct, _, counts = patterns(gamma)
    return distinct, counts


def _log_likelihood(slots: list[np.ndarray], probs: list[np.ndarray]) -> np.ndarray:
    """Sum over comparisons of log P(level); `slots` are the levels shifted by one, so slot 0
    (a missing value) reads log 1 = 0 from the table: a gather per comparison, no masks."""
    total = np.zeros(len(slots[0]) if slots else 0)
    for slot, p in zip(slots, probs, strict=True):
        total += np.concatenate([[0.0], np.log(np.clip(p, EPS, 1))])[slot]
    return total


def fit_em(
    gamma: np.ndarray,
    n_levels: list[int],
    u: list[np.ndarray] | None = None,
    m_init: list[np.ndarray] | None = None,
    prior_init: float = 0.3,
    fix_m: bool = False,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
    counts: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], float, int, bool]:
    """EM for the two-class mixture over gamma patterns.

    With `u` given it stays fixed (the usual setup, u from random pairs); without it, u is
    estimated too. With `fix_m` only the prior is estimated. With `counts`, `gamma` already
    holds patterns and `counts` how often each occurs (repeats and zero counts are fine).
    Returns (m, u, prior, iterations, converged).
    """
    if counts is None:
        patterns, counts = patterns_of(gamma)
    else:
        patterns, counts = gamma, np.asarray(counts, dtype=float)
    fix_u = u is not None
    if m_init is None:
        # Matches mostly agree: mass on the first (strictest) level, decaying after it.
        m_init = [np.array([0.9 ** (i * 3 + 1) for i in range(size)]) for size in n_levels]
        m_init = [m / m.sum() for m in m_init]
    if u is None:
        u = [np.array([0.05 / (size - 1)] * (size - 1) + [0.95]) for size in n_levels]
    m = [np.asarray(x, dtype=float).copy() for x in m_init]
    u = [np.asarray(x, dtype=float).copy() for x in u]
    prior = prior_init
    converged = False
    iteration = 0
    # The patterns do not change between iterations: their lookups are made once.
    slots = [patterns[:, k].astype(np.intp) + 1 for k in range(len(n_levels))]
    present_of = [patterns[:, k] != NULL_LEVEL for k in range(len(n_levels))]
    idx_of = [patterns[present, k].astype(np.int64) for k, present in enumerate(present_of)]
    while iteration < max_iterations:
        iteration += 1
        log_m = _log_likelihood(slots, m) + np.log(prior)
        log_u = _log_likelihood(slots, u) + np.log(1 - prior)
        r = 1.0 / (1.0 + np.exp(np.clip(log_u - log_m, -700, 700)))
        weighted_m = counts * r
        weighted_u = counts * (1 - r)
        new_m, new_u = [], []
        for k, size in enumerate(n_levels):
            present, idx = present_of[k], idx_of[k]
            if fix_m:
                new_m.append(m[k])
            else:
                mk = np.bincount(idx, weights=weighted_m[present], minlength=size) + EPS
                new_m.append(mk / mk.sum())
            if not fix_u:
                uk = np.bincount(idx, weights=weighted_u[present], minlength=size) + EPS
                new_u.append(uk / uk.sum())
        new_prior = float(np.clip(weighted_m.sum() / counts.sum(), EPS, 1 - EPS))
        delta = max(
            abs(new_prior - prior),
            *(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
        )
        m, prior = new_m, new_prior
        if not fix_u:
            u = new_u
        if delta < tolerance:
            converged = True
            break
    return m, u, prior, iteration, converged


def match_weights(gamma: np.ndarray, model: FSModel) -> np.ndarray:
    """(n_pairs, n_comparisons) log2 Bayes factors; a missing value weighs nothing.

    One table lookup per comparison (slot 0 is NULL_LEVEL), no boolean masks."""
    out = np.empty(gamma.shape, dtype=np.float32)
    for k, w in enumerate(model.weights()):
        table = np.concatenate([[0.0], w]).astype(np.float32)
        out[:, k] = table[gamma[:, k].astype(np.intp) + 1]
    return out


def pair_weights(distinct: np.ndarray, model: FSModel, pattern_of_pair: np.ndarray) -> np.ndarray:
    """`match_weights` of every pair from its pattern's (`patterns`), column-major like
    gamma: the term-frequency adjustments are added a column at a time."""
    return rows_of(match_weights(distinct, model), pattern_of_pair)


def rows_of(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`matrix[rows]`, kept column-major: a gather per column (half the time of numpy's
    row gather, which returns row-major), and the columns stay contiguous for the
    per-comparison work after it."""
    out = np.empty((len(rows), matrix.shape[1]), dtype=matrix.dtype, order="F")
    for k in range(matrix.shape[1]):
        np.take(matrix[:, k], rows, out=out[:, k])
    return out


def log2_odds(p: float) -> float:
    """A probability (a prior, a threshold) as log2 odds, held off 0 and 1."""
    p = min(max(p, 1e-12), 1 - 1e-12)
    return float(np.log2(p / (1 - p)))


def probability(total_weight: np.ndarray, prior: float) -> np.ndarray:
    log_odds = np.log2(prior / (1 - prior)) + total_weight
    return 1.0 / (1.0 + np.exp2(-np.clip(log_odds, -60, 60)))
