"""The dedupe run: fingerprints -> blocking -> comparison -> scoring -> clustering -> ids ->
golden records, for a whole table or for a new batch against existing entities."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.dedupe.blocking import BlockLayout, block_layouts, candidate_pairs
from pipeline.dedupe.cluster import CannotLinkChecker, cluster
from pipeline.dedupe.compare import Comparator, hashed_columns, similarity_cutoffs
from pipeline.dedupe.entities import EVENT_SCHEMA, assign_entity_ids, entity_ids_by_label
from pipeline.dedupe.fingerprints import add_fingerprints
from pipeline.dedupe.golden import golden_records
from pipeline.dedupe.model import (
    FSModel,
    fit_em,
    level_frequencies,
    match_weights,
    patterns,
    probability,
)
from pipeline.dedupe.sources import Source, read_columns
from pipeline.dedupe.spec import MatchSpec, Veto, load_spec

Progress = Callable[[str], None]
# Term-frequency adjustments are bounded so one rare value cannot outvote every other field.
TF_ADJUSTMENT_BOUND = 8.0
# Below this, value frequencies are noise (in a six-row file every value is 'common').
MIN_RECORDS_FOR_TF = 200


@dataclass
class DedupeResult:
    entities: pl.DataFrame  # id, entity_id
    pairs: pl.DataFrame  # scored candidate pairs: ids, per-field levels, weight, probability
    golden: pl.DataFrame
    events: pl.DataFrame  # merges and splits against the previous run
    model: FSModel
    spec: MatchSpec
    threshold: float
    report: dict = field(default_factory=dict)
    # The fingerprinted input, for explaining any pair later (term frequencies included).
    work: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)


def _quiet(_: str) -> None:
    pass


def _check_ids(frame: pl.DataFrame, id_col: str, columns: list[str] | None = None) -> None:
    """`columns`: all of the input's, when `frame` holds only some of them."""
    if id_col not in frame.columns:
        names = ", ".join(columns or frame.columns)
        raise ValueError(f"input has no id column {id_col!r} (columns: {names})")
    if frame[id_col].null_count():
        raise ValueError(f"id column {id_col!r} has {frame[id_col].null_count()} empty value(s)")
    # 64-bit hashes first (a third of the cost of counting distinct strings); only a table
    # whose hashes repeat is counted exactly, so a hash collision is never reported.
    if frame[id_col].hash(seed=7).n_unique() == frame.height:
        return
    duplicated = frame.height - frame[id_col].n_unique()
    if duplicated:
        raise ValueError(f"id column {id_col!r} has {duplicated} duplicated value(s)")


def _random_pairs(n: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=count, dtype=np.int64)
    right = rng.integers(0, n, size=count, dtype=np.int64)
    keep = left != right
    return left[keep], right[keep]


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


Patterns = tuple[np.ndarray, np.ndarray, np.ndarray]  # `patterns(gamma)`


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


def estimate_u(comparator: Comparator, spec: MatchSpec, seed: int = 7) -> list[np.ndarray]:
    """u per comparison: level frequencies over random record pairs (nearly all
    non-matches), exact agreement from value frequencies. Needs no candidate pair, so it
    runs beside their comparison."""
    n = comparator.frame.height
    n_levels = [len(c.levels) + 1 for c in spec.comparisons]
    sample = min(spec.u_sample_pairs, max(n * (n - 1) // 2, 1))
    left, right = _random_pairs(n, sample, seed)
    u = level_frequencies(comparator.gamma(spec.comparisons, left, right), n_levels)
    return _exact_u_from_frequencies(comparator, spec, u)


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


def tf_tables(
    frame: pl.DataFrame, spec: MatchSpec, only: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """Relative frequency of each value, for comparisons that adjust by term frequency
    (none for tables too small for frequencies to mean anything). With `only`, just the
    values that occur in it (frequencies still over all of `frame`): an incremental batch
    looks up a few thousand values, no need to count a million."""
    tables: dict[str, pl.DataFrame] = {}
    if frame.height < MIN_RECORDS_FOR_TF:
        return tables
    for comp in spec.comparisons:
        if comp.tf_adjustment:
            values = frame[comp.column].drop_nulls()
            total = max(len(values), 1)
            if only is not None:
                values = values.filter(values.is_in(only[comp.column].drop_nulls().implode()))
            tables[comp.name] = (
                values.value_counts(name="count")
                .with_columns((pl.col("count") / total).alias("tf"))
                .select(pl.col(comp.column).cast(pl.String).alias("value"), "tf")
            )
    return tables


def tf_adjustments(
    comparator: Comparator,
    spec: MatchSpec,
    model: FSModel,
    tables: dict[str, pl.DataFrame] | None,
    gamma: np.ndarray,
    left: np.ndarray,
) -> np.ndarray:
    """log2(u_exact / tf(value)) on exact agreements: a shared rare value says more.

    Frequencies come from `tables` (the whole table's, also when only a slice of it is
    being compared, as in incremental runs), looked up once per distinct value; with no
    tables, from the comparator's own frame (`Comparator.row_frequencies`).
    """
    out = np.zeros(gamma.shape, dtype=np.float32)
    if tables is None and comparator.frame.height < MIN_RECORDS_FOR_TF:
        return out

    def adjust(k: int) -> None:
        comp = spec.comparisons[k]
        exact = gamma[:, k] == 0
        if not exact.any():
            return
        if tables is None:
            # Per row (from hashes unless the column is encoded anyway), then one gather.
            tf_by_row = comparator.row_frequencies(comp.column)
            rows = left[exact]
            adj = np.log2(model.u[k][0] / np.clip(tf_by_row[rows], 1e-9, 1))
            out[exact, k] = np.clip(adj, -TF_ADJUSTMENT_BOUND, TF_ADJUSTMENT_BOUND)
            return
        enc = comparator.encoded(comp.column)
        tf_by_code = (
            enc.distinct.alias("value")
            .to_frame()
            .join(tables[comp.name], on="value", how="left", maintain_order="left")["tf"]
            .fill_null(1e-9)
            .to_numpy()
        )
        # Per distinct value, then one gather: values repeat across pairs.
        adj = np.log2(model.u[k][0] / np.clip(tf_by_code, 1e-9, 1))
        adj = np.clip(adj, -TF_ADJUSTMENT_BOUND, TF_ADJUSTMENT_BOUND).astype(np.float32)
        out[exact, k] = adj[enc.codes[left[exact]]]

    adjusted = [
        k
        for k, comp in enumerate(spec.comparisons)
        if comp.tf_adjustment
        and comp.levels[0].type == "exact"
        and (tables is None or comp.name in tables)
    ]
    # Comparisons in threads (numpy's masks and gathers release the GIL), each its own column.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(adjust, adjusted))
    return out


def score(
    spec: MatchSpec,
    model: FSModel | None,
    comparator: Comparator,
    left: np.ndarray,
    right: np.ndarray,
    tables: dict[str, pl.DataFrame] | None,
    training: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, FSModel, np.ndarray]:
    """(gamma, per-field weights, probability, model, vetoed) for the given pairs; the model
    is fitted on these pairs when none is given (`training`: `training_pairs`, if known;
    `tables`: term frequencies, None for those of the comparator's own frame).

    Every pair is checked against the vetoes, however unlikely: clustering keeps vetoed
    pairs apart, so a veto on a pair the model already rejects still stops a chain
    joining the two (checking only pairs at p >= 0.5 cost 0.0013 cluster F1 at 1M)."""
    comparator.cutoffs = similarity_cutoffs(spec.comparisons, spec.vetoes)
    estimating = model is None and estimates_parameters(spec, comparator.frame.height)
    if estimating and 2 * len(left) >= comparator.frame.height:
        # Made once, before the candidate pairs and the random pairs both use them.
        comparator.encode(spec.fuzzy_columns())
    with ThreadPoolExecutor(max_workers=1) as pool:
        # u from random pairs beside the candidate pairs' comparison (polars, numpy and
        # rapidfuzz release the GIL); the random pairs get their own similarity cache.
        u = pool.submit(estimate_u, comparator.sibling(), spec) if estimating else None
        gamma = comparator.gamma(spec.comparisons, left, right)

        def fitted_model() -> tuple[FSModel, Patterns]:
            found = patterns(gamma)
            if model is not None:
                return model, found
            fitted = fit_model(
                comparator.sibling(),
                gamma,
                left,
                right,
                spec,
                training=training,
                gamma_patterns=found,
                u=u.result() if u is not None else None,
            )
            return fitted, found

        # The model is fitted beside the vetoes; the candidate pairs' similarity cache is the
        # vetoes'. Fitting counts the values of every exact level (`Comparator.row_counts`),
        # which term frequencies read again below.
        fitting = pool.submit(fitted_model)
        vetoed = vetoed_pairs(comparator, spec, left, right)
        model, (distinct, pattern_of_pair, _) = fitting.result()
    # Weights per gamma pattern (a few thousand), then one row gather onto the pairs.
    weights = match_weights(distinct, model)[pattern_of_pair]
    weights += tf_adjustments(comparator, spec, model, tables, gamma, left)
    prob = probability(weights.sum(axis=1), model.prior)
    prob[vetoed] = 0.0
    comparator.release()
    return gamma, weights, prob, model, vetoed


def vetoed_pairs(
    comparator: Comparator,
    spec: MatchSpec,
    left: np.ndarray,
    right: np.ndarray,
) -> np.ndarray:
    """Whether a veto rule rules out each pair; vectorized; a NaN similarity or a missing
    value never vetoes.

    Each veto narrows a set of rows, condition by condition, so every gather and every
    `unless_similar` similarity covers only the pairs still in question (not every pair for
    every condition: 0.3 s of gathers at 1M rows). The vetoes are split between threads
    (numpy, polars and rapidfuzz release the GIL); within each, a pair an earlier veto
    ruled out is not looked at again."""
    workers = max(1, min(len(spec.vetoes), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        masks = list(
            pool.map(
                lambda k: _vetoed_by(comparator, spec.vetoes[k::workers], left, right),
                range(workers),
            )
        )
    out = masks[0] if masks else np.zeros(len(left), dtype=bool)
    for mask in masks[1:]:
        out |= mask
    return out


def _vetoed_by(
    comparator: Comparator, vetoes: list[Veto], left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """`vetoed_pairs` for these vetoes, one after another."""
    out = np.zeros(len(left), dtype=bool)

    def flag(column: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = comparator.frame[column].fill_null(False).to_numpy()
        return values[left[rows]], values[right[rows]]

    for veto in vetoes:
        rows = np.flatnonzero(~out)
        if veto.type != "differs":
            if len(rows) == len(left):  # cached: a level may compare the same column
                sim = comparator.similarity(veto.column, veto.type, left, right)
            else:
                sim = comparator.similarity_at(veto.column, veto.type, left, right, rows)
            rows = rows[np.nan_to_num(sim, nan=1.0) < np.float64(veto.below)]
        else:
            rows = _narrowed(comparator, veto.column, left, right, rows, equal=False)
        if veto.same:
            rows = _narrowed(comparator, veto.same, left, right, rows, equal=True)
        if veto.exclude_when_true:
            on_left, on_right = flag(veto.exclude_when_true, rows)
            rows = rows[~on_left & ~on_right]
        if veto.only_when_true:
            on_left, on_right = flag(veto.only_when_true, rows)
            rows = rows[on_left & on_right]
        if veto.unless_equal and len(rows):
            key, present = comparator.keys(veto.unless_equal)
            on_left = key[left[rows]]
            equal = present[left[rows]] & (on_left == key[right[rows]])
            if veto.unless_equal_excluding:
                flag_left, flag_right = flag(veto.unless_equal_excluding, rows)
                equal &= ~flag_left & ~flag_right
            rows = rows[~equal]
        if veto.similar_columns and len(rows):
            # Lifted where every column is similar: each column narrows the rows still lifted.
            lifted = np.arange(len(rows))
            for column in veto.similar_columns:
                sim = comparator.similarity_at(column, "jaro_winkler", left, right, rows[lifted])
                lifted = lifted[np.nan_to_num(sim, nan=0.0) >= np.float64(veto.unless_above)]
            rows = np.delete(rows, lifted)
        if veto.unless_swapped and len(rows):
            # Swapped and misspelt: each record's first name like the other's surname.
            lifted = np.arange(len(rows))
            first, second = veto.unless_swapped
            for a, b in ((first, second), (second, first)):
                pairs = rows[lifted]
                sim = comparator.cross_similarity(a, b, left[pairs], right[pairs])
                lifted = lifted[sim >= np.float64(veto.unless_swapped_above)]
            rows = np.delete(rows, lifted)
        out[rows] = True
    return out


def _narrowed(
    comparator: Comparator,
    column: str,
    left: np.ndarray,
    right: np.ndarray,
    rows: np.ndarray,
    equal: bool,
) -> np.ndarray:
    """The `rows` whose two records both hold `column` and hold the same (`equal`) or
    different values."""
    key, present = comparator.keys(column)
    on_left, on_right = left[rows], right[rows]
    both = present[on_left] & present[on_right]
    same = key[on_left] == key[on_right]
    return rows[both & (same if equal else ~same)]


def pairs_frame(
    ids: pl.Series,
    spec: MatchSpec,
    left: np.ndarray,
    right: np.ndarray,
    gamma: np.ndarray,
    weights: np.ndarray,
    prob: np.ndarray,
    rule: np.ndarray | None = None,
) -> pl.DataFrame:
    id_col = ids.name
    ids = ids.rechunk()  # gathers from one chunk: 8x faster than from parquet row groups
    columns: dict[str, pl.Series] = {
        f"{id_col}_l": ids.gather(left),
        f"{id_col}_r": ids.gather(right),
    }
    for k, comp in enumerate(spec.comparisons):
        columns[f"{comp.name}_level"] = pl.Series(gamma[:, k], dtype=pl.Int8)
        columns[f"{comp.name}_weight"] = pl.Series(np.round(weights[:, k], 3), dtype=pl.Float32)
    columns["match_weight"] = pl.Series(weights.sum(axis=1), dtype=pl.Float32)
    columns["match_probability"] = pl.Series(prob, dtype=pl.Float64)
    if rule is not None:
        names = [r.name for r in spec.blocking]
        columns["blocking_rule"] = pl.Series(names, dtype=pl.String).gather(rule)
    return pl.DataFrame(columns)


def dedupe(
    source: Source,
    spec: str | Path | MatchSpec = "leads",
    id_column: str | None = None,
    threshold: float | None = None,
    previous_entities: pl.DataFrame | None = None,
    model: FSModel | None = None,
    progress: Progress | None = None,
    keep_work: bool = True,
) -> DedupeResult:
    """Resolve every row of `source` to an entity.

    A LazyFrame (`pl.scan_parquet(path)`) is read in parts, each time only the columns
    needed: the spec's for matching, then, once clustering is done, each golden field in
    turn. The whole table is never in memory (at 1M normalized leads: 0.9 GB less peak).
    Give it a columnar scan (parquet, IPC): a CSV scan would be parsed once per field.
    `previous_entities` (id, entity_id) from the last run keeps entity ids stable and yields
    merge / split events; `model` skips estimation and scores with known parameters.
    `keep_work=False` leaves `DedupeResult.work` (every fingerprint, for the
    `lead_fingerprints` asset and for explaining pairs) empty, and lets the engine drop
    each column once it is done with it: 0.8 GB less at the end of a 1M-row run.
    """
    say = progress or _quiet
    spec = load_spec(spec)
    if id_column:
        spec = spec.model_copy(update={"id_column": id_column})
    threshold = threshold if threshold is not None else spec.threshold
    id_col = spec.id_column
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    # Only the columns the spec uses: adding a column to a frame of several chunks rechunks
    # every column (650 MB for the 46 columns of a 1M-row normalized table).
    columns = source.collect_schema().names()
    needed = spec.input_columns()
    matching = read_columns(source, [c for c in columns if c in needed])
    _check_ids(matching, id_col, columns)
    n, ids = matching.height, matching[id_col]
    lap("read")
    say(f"fingerprinting {n:,} records")
    work = add_fingerprints(matching, spec)
    del matching
    if not keep_work:
        # Intermediate fingerprints and the raw columns they were made from (~180 MB at 1M).
        used = spec.matching_columns()
        work = work.select(c for c in work.columns if c in used)
    lap("fingerprints")
    say("blocking")
    layouts = block_layouts(work, spec.blocking)
    pairs, block_report = candidate_pairs(work, spec.blocking, layouts=layouts)
    left = pairs["l"].to_numpy().astype(np.int64)
    right = pairs["r"].to_numpy().astype(np.int64)
    training = training_pairs(layouts, n, spec, left, right) if model is None else None
    del layouts
    hashed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if not keep_work:
        # Done with: the keys only blocking reads (phonetic codes, initials, city), and the
        # strings of columns only ever tested for equality, now 64-bit hashes (9 bytes a
        # row instead of 16 and more: 200 MB less at 1M rows).
        equal = sorted(spec.equality_columns() & set(work.columns))
        hashed = hashed_columns(work, equal)
        used = spec.compared_columns() - set(equal)
        work = work.select(c for c in work.columns if c in used)
    lap("blocking")
    say(f"comparing {len(left):,} candidate pairs")
    comparator = Comparator(work, _hashed=hashed)
    del hashed
    gamma, weights, prob, model, vetoed = score(
        spec, model, comparator, left, right, None, training
    )
    del comparator, training  # its encodings (Python strings of fuzzy-compared values) are done
    lap("comparison_and_scoring")
    say("clustering")
    checker = CannotLinkChecker(work, spec.cannot_link)
    # A vetoed pair is kept apart by the clustering too, not only denied its own link.
    apart = (left[vetoed], right[vetoed])
    labels, cluster_report = cluster(
        n, left, right, prob, threshold, spec.max_cluster_size, checker, say, apart
    )
    del checker, apart, vetoed  # the guards' string copies of names and emails
    if not keep_work:
        work = pl.DataFrame()
    lap("clustering")
    # The scored-pairs table holds the ids as strings: twice the memory of the arrays it is
    # made from (110 MB more at 1M rows). Built after the golden records when the fingerprint
    # table is gone (golden records are then the peak); before them when it is kept, as the
    # arrays' memory then goes back before the golden table's larger allocations (measured
    # at 1M rows: 1.31-1.44 GB vs 1.30-1.53 GB without it, 2.22-2.27 vs 2.31-2.41 with it).
    scored = None
    if keep_work:
        scored = pairs_frame(ids, spec, left, right, gamma, weights, prob, pairs["rule"].to_numpy())
        del gamma, weights, pairs, left, right, prob
        lap("pairs_table")
    # Entity ids (a hash per new entity, in Python) are made beside the golden records
    # (polars), which group on the clustering labels and take their ids after.
    with ThreadPoolExecutor(max_workers=1) as pool:
        named = pool.submit(entity_ids_by_label, ids, labels, previous_entities)
        # A LazyFrame is read again here, one golden field at a time.
        by_label = golden_records(source, pl.DataFrame({id_col: ids, "entity_id": labels}), spec)
        entities, events, assigned = named.result()
    # The labels swapped for the ids in place: a join would copy all 45 golden columns
    # (~300 MB at 1M rows; the golden columns keep the input's chunks, which a join unifies).
    golden = by_label.with_columns(
        by_label["entity_id"].replace_strict(
            assigned["label"], assigned["entity_id"], return_dtype=pl.String
        )
    )
    lap("entities_and_golden")
    if scored is None:
        scored = pairs_frame(ids, spec, left, right, gamma, weights, prob, pairs["rule"].to_numpy())
        del gamma, weights, pairs, left, right, prob
        lap("pairs_table")
    say(f"{golden.height:,} entities from {n:,} records")
    return DedupeResult(
        entities=entities,
        pairs=scored,
        golden=golden,
        events=events,
        model=model,
        spec=spec,
        threshold=threshold,
        report={
            "blocking": block_report.as_dict(),
            "clustering": cluster_report.as_dict(),
            "timings_s": timings,
            "em_iterations": model.iterations,
            "em_converged": model.converged,
            "prior": model.prior,
        },
        work=work,
    )


def match_incremental(
    existing: pl.DataFrame,
    existing_entities: pl.DataFrame,
    new: pl.DataFrame,
    model: FSModel,
    spec: str | Path | MatchSpec = "leads",
    threshold: float | None = None,
    existing_fingerprinted: bool = False,
) -> DedupeResult:
    """Match a new batch against existing entities without re-scoring the history.

    Only pairs involving a new record are built and scored (with the stored model); the
    existing entities are held together by their current membership. Returns the full,
    updated entity mapping plus the events (merges when new records bridge two entities).
    """
    spec = load_spec(spec)
    threshold = threshold if threshold is not None else spec.threshold
    id_col = spec.id_column
    _check_ids(new, id_col)
    # Probe the history against the (small) batch's ids, not the batch against the history.
    clash = existing.select(id_col).filter(pl.col(id_col).is_in(new[id_col].implode()))
    if clash.height:
        raise ValueError(f"{clash.height} new record id(s) already exist, e.g. {clash[id_col][0]}")
    old = existing if existing_fingerprinted else add_fingerprints(existing, spec)
    fresh = add_fingerprints(new, spec)
    combined = pl.concat([old.select(fresh.columns), fresh], how="vertical_relaxed")
    n_old = old.height
    new_rows = pl.Series("i", np.arange(n_old, combined.height), dtype=pl.UInt32)
    pairs, block_report = candidate_pairs(combined, spec.blocking, new_rows)

    # Work on the involved rows only: new records and the existing ones they were paired with.
    involved = np.unique(
        np.concatenate([pairs["l"].to_numpy(), pairs["r"].to_numpy(), new_rows.to_numpy()])
    ).astype(np.int64)
    sub = combined[involved]
    left = np.searchsorted(involved, pairs["l"].to_numpy()).astype(np.int64)
    right = np.searchsorted(involved, pairs["r"].to_numpy()).astype(np.int64)
    comparator = Comparator(sub)
    tables = tf_tables(combined, spec, only=sub)
    gamma, weights, prob, model, vetoed = score(spec, model, comparator, left, right, tables)

    # Existing members of one entity stay together: chain them with certain links.
    old_ids = (
        sub[id_col]
        .to_frame()
        .join(existing_entities, on=id_col, how="left", maintain_order="left")["entity_id"]
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
    labels, cluster_report = cluster(
        sub.height,
        all_l,
        all_r,
        all_p,
        threshold,
        10**9,
        checker,
        apart=(left[vetoed], right[vetoed]),
    )
    previous_involved = pl.DataFrame({id_col: sub[id_col], "entity_id": old_ids}).drop_nulls()
    local_entities, events = assign_entity_ids(sub[id_col], labels, previous_involved)

    merges = events.filter(pl.col("event") == "merge").select(
        pl.col("other_entity_id").alias("entity_id"), pl.col("entity_id").alias("survivor")
    )
    untouched = existing_entities.join(local_entities.select(id_col), on=id_col, how="anti")
    if merges.height:  # a few ids renamed: a lookup, not a join of a million rows
        untouched = untouched.with_columns(
            pl.col("entity_id").replace(merges["entity_id"], merges["survivor"])
        )
    entities = pl.concat([untouched, local_entities])
    affected = local_entities["entity_id"].unique()
    affected_ids = entities.filter(pl.col("entity_id").is_in(affected.implode()))
    affected_rows = pl.concat(
        [existing.join(affected_ids.select(id_col), on=id_col, how="semi"), new],
        how="diagonal_relaxed",
    )
    golden = golden_records(affected_rows, affected_ids, spec)
    scored = pairs_frame(sub[id_col], spec, left, right, gamma, weights, prob)
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
        },
    )
