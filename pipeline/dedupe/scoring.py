"""Scoring candidate pairs: levels per field (the gamma matrix), the model (fitted here when
none is given), Fellegi-Sunter weights with term-frequency adjustments, vetoes, and the
scored-pairs table."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from pipeline.dedupe.compare import Comparator, similarity_cutoffs, similarity_keys_read_whole
from pipeline.dedupe.estimate_m import (
    estimates_parameters,
    fit_model,
    population_prior,
)
from pipeline.dedupe.estimate_u import chance_agreement_without_matches, estimate_u
from pipeline.dedupe.model import (
    FSModel,
    match_weights,
    pair_weights,
    patterns,
    probability,
    rows_of,
)
from pipeline.dedupe.spec import MatchSpec
from pipeline.dedupe.term_frequencies import tf_adjustments
from pipeline.dedupe.vetoes import vetoed_pairs


@dataclass
class ScoredPairs:
    """The candidate pairs (l, r) scored: per-field levels and weights, the probability, and
    which pairs a veto ruled out (their probability is 0)."""

    gamma: np.ndarray  # (pairs, comparisons) level indices
    weights: np.ndarray  # (pairs, comparisons) log2 Bayes factors, term frequencies included
    probability: np.ndarray
    model: FSModel
    vetoed: np.ndarray  # bool per pair


def score(
    spec: MatchSpec,
    model: FSModel | None,
    comparator: Comparator,
    left: np.ndarray,
    right: np.ndarray,
    tables: dict[str, pl.DataFrame] | None,
    training: list[np.ndarray] | None = None,
    joint: dict[str, np.ndarray] | None = None,
) -> ScoredPairs:
    """The given pairs scored (`ScoredPairs`); the model
    is fitted on these pairs when none is given (`training`: `training_pairs`, if known;
    `tables`: term frequencies, None for those of the comparator's own frame; `joint`: the
    spec's joint frequencies per pair, `term_frequencies.joint_frequencies`, with a given
    model (incremental runs): a fitted one counts them itself, without the matches).

    Every pair is checked against the vetoes, however unlikely: clustering keeps vetoed
    pairs apart, so a veto on a pair the model already rejects still stops a chain
    joining the two (checking only pairs at p >= 0.5 cost 0.0013 cluster F1 at 1M)."""
    comparator.cutoffs = similarity_cutoffs(spec.comparisons, spec.vetoes)
    comparator.whole = similarity_keys_read_whole(spec.vetoes)
    estimating = model is None and estimates_parameters(spec, comparator.frame.height)
    if estimating and 2 * len(left) >= comparator.frame.height:
        # Made once, before the candidate pairs and the random pairs both use them.
        comparator.encode(spec.fuzzy_columns())
    with ThreadPoolExecutor(max_workers=1) as pool:
        # u from random pairs beside the vetoes (polars, numpy and rapidfuzz release the
        # GIL); the random pairs get their own similarity cache. The vetoes' helper starts
        # once u is done.
        u = pool.submit(estimate_u, comparator.sibling(), spec) if estimating else None
        comparator.use_pairs(left, right)
        vetoed = vetoed_pairs(comparator, spec, left, right, helper=pool)
        # A vetoed pair's probability is 0 whatever its levels: its fuzzy levels are not
        # worked out (half the candidate pairs at 1M alt-standard: the comparisons' CPU
        # 2.2 -> 1.2 s, the scoring stage 0.3 s shorter).
        comparator.settled = vetoed
        gamma = comparator.gamma(spec.comparisons, left, right)
        distinct, pattern_of_pair, counts = found = patterns(gamma)
        if model is None:
            model = fit_model(
                comparator.sibling(),
                gamma,
                left,
                right,
                spec,
                training=training,
                gamma_patterns=found,
                u=u.result() if u is not None else None,
            )
    if estimating:
        # A first scoring, of totals only (its per-field weights are not kept): then chance
        # agreement counted without the matches among the agreeing pairs, and the weights
        # and the prior again with it.
        # Only the pairs no veto ruled out are adjusted: the others' probability is 0 anyway
        # (half of the 2.5M candidate pairs of 1M alt-standard leads).
        first = match_weights(distinct, model).sum(axis=1)[pattern_of_pair]
        free = np.flatnonzero(~vetoed)
        first[free] += tf_adjustments(
            comparator, spec, model, tables, rows_of(gamma, free), left[free], right[free]
        ).sum(axis=1)
        del free
        prob = probability(first, model.prior)
        prob[vetoed] = 0.0
        del first
        u, joint = chance_agreement_without_matches(
            comparator, spec, model.u, gamma, left, right, prob
        )
        model = replace(model, u=u)
        model.prior, _, _ = population_prior(
            match_weights(distinct, model).sum(axis=1), comparator.frame.height, counts=counts
        )
    # Weights per gamma pattern (a few thousand), then gathered onto the pairs column by
    # column, in gamma's column-major order.
    weights = pair_weights(distinct, model, pattern_of_pair)
    weights += tf_adjustments(comparator, spec, model, tables, gamma, left, right, joint)
    prob = probability(weights.sum(axis=1), model.prior)
    prob[vetoed] = 0.0
    comparator.release()
    return ScoredPairs(gamma, weights, prob, model, vetoed)


def pairs_frame(
    ids: pl.Series,
    spec: MatchSpec,
    left: np.ndarray,
    right: np.ndarray,
    gamma: np.ndarray,
    weights: np.ndarray,
    prob: np.ndarray,
    vetoed: np.ndarray,
    rule: np.ndarray | None = None,
) -> pl.DataFrame:
    """The scored pairs as a table: ids, per comparison its level and weight (to 3
    decimals), the total weight and the probability, whether a veto ruled the pair out (its
    fuzzy levels then read 'else' unless a veto compared that field: `score`), and the
    blocking rule that found the pair. `weights` is rounded in place, so the caller must be
    done with it: the table's columns are then views of it and of gamma (column-major), not
    copies (80 MB less at the end of a run of 2.5M pairs)."""
    id_col = ids.name
    ids = ids.rechunk()  # gathers from one chunk: 8x faster than from parquet row groups
    columns: dict[str, pl.Series] = {
        f"{id_col}_l": ids.gather(left),
        f"{id_col}_r": ids.gather(right),
    }
    total = weights.sum(axis=1)  # of the weights as scored, before rounding
    np.round(weights, 3, out=weights)
    for k, comp in enumerate(spec.comparisons):
        columns[f"{comp.name}_level"] = pl.Series(gamma[:, k], dtype=pl.Int8)
        columns[f"{comp.name}_weight"] = pl.Series(weights[:, k], dtype=pl.Float32)
    columns["match_weight"] = pl.Series(total, dtype=pl.Float32)
    columns["match_probability"] = pl.Series(prob, dtype=pl.Float64)
    columns["vetoed"] = pl.Series(vetoed, dtype=pl.Boolean)
    if rule is not None:
        names = [r.name for r in spec.blocking]
        columns["blocking_rule"] = pl.Series(names, dtype=pl.String).gather(rule)
    return pl.DataFrame(columns)
