"""m, how often matching records agree on each comparison level, by EM over the candidate
pairs (one round per blocking rule, on its small blocks), and the prior over all record
pairs with m and u fixed."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipeline.dedupe.blocking import BlockLayout, block_layouts
from pipeline.dedupe.compare import Comparator
from pipeline.dedupe.estimate_u import estimate_u
from pipeline.dedupe.model import FSModel, fit_em, match_weights, patterns, probability
from pipeline.dedupe.spec import MatchSpec

Patterns = tuple[np.ndarray, np.ndarray, np.ndarray]  # `patterns(gamma)`


def _base_columns(spec: MatchSpec, column: str) -> set[str]:
    """Input columns a (possibly derived) column is built from."""
    fp = spec.fingerprints.get(column)
    if fp is None:
        return {column}
    return set().union(*(_base_columns(spec, s) for s in fp.source))


def _blocked_comparisons(spec: MatchSpec, rule_index: int) -> set[int]:
    """Comparisons a blocking rule forces to agree: EM learns nothing about them there."""
    keys = set().union(*(_base_columns(spec, k) for k in spec.blocking[rule_index].keys))
    blocked = set()
    for k, comp in enumerate(spec.comparisons):
        columns = {comp.column} | {lv.column for lv in comp.levels if lv.column}
        if keys & set().union(*(_base_columns(spec, c) for c in columns)):
            blocked.add(k)
    return blocked


def population_prior(
    total_weight: np.ndarray,
    n_records: int,
    max_iterations: int = 200,
    counts: np.ndarray | None = None,
) -> tuple[float, int, bool]:
    """The chance two random records match, by EM over all N(N-1)/2 record pairs.

    u comes from random pairs, so the prior must be the population's too: pairs blocking
    never generated are taken as non-matches, which they are but for blocking's misses.
    A prior fitted on candidate pairs alone would be orders of magnitude too high and
    turn every pair of colleagues at one company into a match. With `counts`, each total
    weight stands for that many pairs (one per gamma pattern: a few thousand, not millions).
    """
    all_pairs = max(n_records * (n_records - 1) / 2, 1.0)
    counts = np.ones(len(total_weight)) if counts is None else counts
    prior = min(max(float(counts.sum()) / all_pairs / 4, 1e-12), 0.5)
    for iteration in range(1, max_iterations + 1):
        posterior = probability(total_weight, prior)
        updated = float(np.clip(posterior @ counts / all_pairs, 1e-12, 0.5))
        if abs(updated - prior) <= 1e-4 * prior:
            return updated, iteration, True
        prior = updated
    return prior, max_iterations, False


def _default_model(spec: MatchSpec, gamma_patterns: Patterns, n: int) -> FSModel:
    """The spec's typical m and u (uniform where it has none); only the prior is fitted."""
    m, u = [], []
    for comp in spec.comparisons:
        size = len(comp.levels) + 1
        params = spec.default_parameters.get(comp.name, {})
        m.append(np.asarray(params.get("m", [1 / size] * size), dtype=float))
        u.append(np.asarray(params.get("u", [1 / size] * size), dtype=float))
    model = FSModel(comparisons=[c.name for c in spec.comparisons], m=m, u=u, prior=0.5)
    distinct, _, counts = gamma_patterns
    model.prior, model.iterations, model.converged = population_prior(
        match_weights(distinct, model).sum(axis=1), n, counts=counts
    )
    return model


def estimates_parameters(spec: MatchSpec, n_records: int) -> bool:
    """Whether m and u are fitted from the data, not the spec's typical ones (too few
    records to go on)."""
    return n_records >= spec.min_records_for_estimation or not spec.default_parameters


def fit_model(
    comparator: Comparator,
    gamma: np.ndarray,
    left_pairs: np.ndarray,
    right_pairs: np.ndarray,
    spec: MatchSpec,
    seed: int = 7,
    training: list[np.ndarray] | None = None,
    gamma_patterns: Patterns | None = None,
    u: list[np.ndarray] | None = None,
) -> FSModel:
    """u from random record pairs (nearly all non-matches); m by EM, one round per blocking
    rule over the pairs that rule found, leaving out the comparisons the rule forces to agree
    (otherwise a rule blocking on names teaches EM that matches always share a name); then
    the prior over all candidate pairs with m and u fixed. `training`: `training_pairs`
    when the caller has it; `gamma_patterns`: `patterns(gamma)` likewise; `u`:
    `estimate_u(comparator, spec, seed)` likewise."""
    n = comparator.frame.height
    n_levels = [len(c.levels) + 1 for c in spec.comparisons]
    # EM and the prior need only how often each gamma pattern occurs: patterns once, then a
    # bincount per rule instead of copying and deduplicating millions of gamma rows.
    found = gamma_patterns or patterns(gamma)
    if not estimates_parameters(spec, n):
        return _default_model(spec, found, n)
    distinct, pattern_of_pair, counts = found
    u = u if u is not None else estimate_u(comparator, spec, seed)
    estimates: list[list[np.ndarray]] = [[] for _ in spec.comparisons]
    iterations, converged = 0, True
    if training is None:
        layouts = block_layouts(comparator.frame, spec.blocking)
        training = training_pairs(layouts, n, spec, left_pairs, right_pairs)
    for rule_index, rows in enumerate(training):
        if rows.sum() < 50:
            continue
        keep = [k for k in range(len(n_levels)) if k not in _blocked_comparisons(spec, rule_index)]
        if not keep:
            continue
        # Only the patterns this rule's pairs show (a pattern with no pairs adds nothing).
        counts_here = np.bincount(pattern_of_pair[rows], minlength=len(distinct))
        seen = counts_here > 0
        m, _, _, its, ok = fit_em(
            distinct[seen][:, keep],
            [n_levels[k] for k in keep],
            u=[u[k] for k in keep],
            max_iterations=spec.em_max_iterations,
            counts=counts_here[seen],
        )
        iterations, converged = iterations + its, converged and ok
        for j, k in enumerate(keep):
            estimates[k].append(m[j])
    m_init = fit_em(gamma[:1], n_levels, u=u, max_iterations=0)[0]
    m = [np.mean(e, axis=0) if e else m_init[k] for k, e in enumerate(estimates)]
    model = FSModel(comparisons=[c.name for c in spec.comparisons], m=m, u=u, prior=0.5)
    prior, its, ok = population_prior(match_weights(distinct, model).sum(axis=1), n, counts=counts)
    model.prior, model.iterations, model.converged = prior, iterations + its, converged and ok
    return model


def training_pairs(
    layouts: list[BlockLayout], n: int, spec: MatchSpec, left: np.ndarray, right: np.ndarray
) -> list[np.ndarray]:
    """Per blocking rule, which candidate pairs EM trains on: every pair the rule's keys
    agree on (not only those it found first: a pair first found by another rule would
    otherwise never agree on that rule's keys), in blocks of at most `em_max_block_size`
    rows. A key shared by many records (a switchboard number, a common name) mostly pairs
    different people who agree on everything organisational, and would teach EM that
    matches often disagree on names. One mask per rule (2 MB at 1M rows)."""

    def agree(layout: BlockLayout) -> np.ndarray:
        block = layout.blocks_up_to(n, spec.em_max_block_size)
        on_left = block[left]
        return (on_left != 0) & (on_left == block[right])

    # numpy's gathers release the GIL: two threads.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(agree, layouts))
