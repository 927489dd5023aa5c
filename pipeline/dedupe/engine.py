"""The dedupe run: fingerprints -> blocking -> comparison -> scoring -> clustering -> ids ->
golden records, for a whole table. Each step is its own module (blocking, compare,
estimate_u, estimate_m, term_frequencies, vetoes, scoring, cluster, entities, golden); new
records against resolved ones: find_matches_to_new_records."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.dedupe.blocking import block_layouts, candidate_pairs
from pipeline.dedupe.cluster import CannotLinkChecker, cluster
from pipeline.dedupe.compare import Comparator, hashed_columns
from pipeline.dedupe.entities import all_distinct, entity_ids_by_label
from pipeline.dedupe.estimate_m import training_pairs
from pipeline.dedupe.fingerprints import add_fingerprints
from pipeline.dedupe.golden import golden_records
from pipeline.dedupe.labels import apply_labels
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.scoring import pairs_frame, score
from pipeline.dedupe.sources import Source, read_columns
from pipeline.dedupe.spec import MatchSpec, load_spec
from pipeline.dedupe.term_frequencies import counts_from_blocks

Progress = Callable[[str], None]


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
    # The fingerprinted input, for explaining any pair later (term frequencies included); of
    # an incremental batch (`match_incremental`), the new records' fingerprints.
    work: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)


def _quiet(_: str) -> None:
    pass


# Repeated or empty ids named in an error: enough to find the problem, not a flood.
_EXAMPLES = 5


def check_ids(frame: pl.DataFrame, id_col: str, columns: list[str] | None = None) -> None:
    """`columns`: all of the input's, when `frame` holds only some of them."""
    if id_col not in frame.columns:
        names = ", ".join(columns or frame.columns)
        raise ValueError(f"input has no id column {id_col!r} (columns: {names})")
    if frame[id_col].null_count():
        rows = _row_numbers(frame[id_col].is_null())
        raise ValueError(
            f"id column {id_col!r} has {frame[id_col].null_count()} empty value(s), "
            f"at data row(s) {rows}"
        )
    if all_distinct(frame[id_col]):
        return
    duplicated = frame.height - frame[id_col].n_unique()
    if duplicated:
        repeated = frame[id_col].is_duplicated()
        examples = (
            frame.select(id_col, pl.int_range(1, pl.len() + 1).alias("row"))
            .filter(repeated)
            .group_by(id_col, maintain_order=True)
            .agg("row")
            .head(_EXAMPLES)
        )
        named = "; ".join(
            f"{value!r} at data rows {', '.join(map(str, rows))}" for value, rows in examples.rows()
        )
        raise ValueError(f"id column {id_col!r} has {duplicated} duplicated value(s): {named}")


def _row_numbers(mask: pl.Series) -> str:
    """The first few data rows (1-based: a file's first row under its header is 1) where
    `mask` holds, for an error a person can act on."""
    rows = (mask.arg_true() + 1).to_list()
    shown = ", ".join(map(str, rows[:_EXAMPLES]))
    return shown + (f" and {len(rows) - _EXAMPLES} more" if len(rows) > _EXAMPLES else "")


def dedupe(
    source: Source,
    spec: str | Path | MatchSpec = "leads",
    id_column: str | None = None,
    threshold: float | None = None,
    previous_entities: pl.DataFrame | None = None,
    model: FSModel | None = None,
    progress: Progress | None = None,
    keep_work: bool = True,
    labels: pl.DataFrame | None = None,
    golden: bool = True,
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
    `labels` (left_id, right_id, label: match / no_match / unsure) are a person's verdicts:
    honoured by the clustering (must-link, cannot-link) and, when there are enough of them,
    used to correct the model's weights and the threshold (pipeline.dedupe.labels); the
    report's `labels` says what they changed. An explicit `threshold` is kept as given.
    `golden=False` skips the golden records (`DedupeResult.golden` is then empty) for a
    caller that wants only the entities, as the file CLI writes them (at 1M rows: 1.6-1.9 s).
    """
    say = progress or _quiet
    spec = load_spec(spec)
    if id_column:
        spec = spec.model_copy(update={"id_column": id_column})
    explicit_threshold = threshold is not None
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
    check_ids(matching, id_col, columns)
    n, ids = matching.height, matching[id_col]
    lap("read")
    say(f"fingerprinting {n:,} records")
    work = add_fingerprints(matching, spec)
    del matching
    # Which records were read surname first, for the golden records' names (a byte a row).
    order = spec.survivorship.names_in_order
    turned = work[order.turned] if order is not None and order.turned in work.columns else None
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
    counts = counts_from_blocks(spec, layouts, n)
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
    comparator = Comparator(work, _hashed=hashed, _counts=counts)
    del hashed, counts
    scored_pairs = score(spec, model, comparator, left, right, None, training)
    labelled = apply_labels(labels, ids, spec, comparator, scored_pairs, left, right, threshold)
    gamma, weights, prob = scored_pairs.gamma, labelled.weights, labelled.probability
    vetoed = scored_pairs.vetoed
    model = labelled.model
    if not explicit_threshold:
        threshold = labelled.threshold
    del scored_pairs
    del comparator, training  # its encodings (Python strings of fuzzy-compared values) are done
    lap("comparison_and_scoring")
    say("clustering")
    checker = CannotLinkChecker(work, spec.cannot_link)
    # A vetoed pair is kept apart by the clustering too, not only denied its own link; so is
    # a person's no_match, and a person's match is a certain link.
    clusters, cluster_report = cluster(
        n,
        left,
        right,
        prob,
        threshold,
        spec.max_cluster_size,
        checker,
        say,
        apart=labelled.apart,
        must=labelled.must,
        thin=spec.thin_bridges,
    )
    label_report = labelled.report
    del checker, labelled  # the guards' string copies of names and emails
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
        scored = pairs_frame(
            ids, spec, left, right, gamma, weights, prob, vetoed, pairs["rule"].to_numpy()
        )
        del gamma, weights, pairs, left, right, prob, vetoed
        lap("pairs_table")
    # Entity ids (a hash per new entity, in Python) are made beside the golden records
    # (polars), which group on the clustering labels and take their ids after.
    if golden:
        with ThreadPoolExecutor(max_workers=1) as pool:
            named = pool.submit(entity_ids_by_label, ids, clusters, previous_entities)
            # A LazyFrame is read again here, one golden field at a time.
            by_label = golden_records(
                source, pl.DataFrame({id_col: ids, "entity_id": clusters}), spec, turned
            )
            entities, events, assigned = named.result()
        # The labels swapped for the ids in place: a join would copy all 45 golden columns
        # (~300 MB at 1M rows; the golden columns keep the input's chunks, which a join
        # unifies).
        records = by_label.with_columns(
            by_label["entity_id"].replace_strict(
                assigned["label"], assigned["entity_id"], return_dtype=pl.String
            )
        )
    else:
        entities, events, assigned = entity_ids_by_label(ids, clusters, previous_entities)
        records = pl.DataFrame()
    lap("entities_and_golden")
    if scored is None:
        scored = pairs_frame(
            ids, spec, left, right, gamma, weights, prob, vetoed, pairs["rule"].to_numpy()
        )
        del gamma, weights, pairs, left, right, prob, vetoed
        lap("pairs_table")
    # One row per entity (label): no count of a million distinct strings (0.13 s).
    entity_count = assigned.height
    say(f"{entity_count:,} entities from {n:,} records")
    return DedupeResult(
        entities=entities,
        pairs=scored,
        golden=records,
        events=events,
        model=model,
        spec=spec,
        threshold=threshold,
        report={
            "blocking": block_report.as_dict(),
            "clustering": cluster_report.as_dict(),
            "timings_s": timings,
            "entities": entity_count,
            "em_iterations": model.iterations,
            "em_converged": model.converged,
            "prior": model.prior,
            **({"labels": label_report} if label_report else {}),
        },
        work=work,
    )
