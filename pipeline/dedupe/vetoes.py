"""Vetoes: pairs that cannot be one person whatever else agrees (colleagues share an office,
a switchboard and a domain), checked for every candidate pair."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np

from pipeline.dedupe.compare import CUTOFF_MARGIN, DIFFERENT, SAME, Comparator
from pipeline.dedupe.spec import MatchSpec, Veto


def vetoed_pairs(
    comparator: Comparator,
    spec: MatchSpec,
    left: np.ndarray,
    right: np.ndarray,
    helper: Executor | None = None,
) -> np.ndarray:
    """Whether a veto rule rules out each pair; vectorized; a NaN similarity or a missing
    value never vetoes.

    Each veto narrows a set of rows, condition by condition, so every gather and every
    `unless_similar` similarity covers only the pairs still in question (not every pair for
    every condition: 0.3 s of gathers at 1M rows), and a pair an earlier veto ruled out is
    not looked at again. This thread takes the vetoes from the front of the spec's list,
    and `helper` (a worker that may be busy, such as the one sampling u) from the back once
    it is free: a fixed split between two threads made each look again at the pairs the
    other had ruled out (0.5 s more at 1M rows when the model fit held the second core).
    Without a helper, a thread of its own helps from the start."""
    queue = deque(spec.vetoes)
    lock = threading.Lock()

    def ruled_out(from_front: bool) -> np.ndarray:
        out = np.zeros(len(left), dtype=bool)
        while True:
            with lock:
                if not queue:
                    return out
                veto = queue.popleft() if from_front else queue.pop()
            _veto(comparator, veto, left, right, out)

    def shared_with(pool: Executor) -> np.ndarray:
        helped = pool.submit(ruled_out, False)  # queued first: it starts once free
        return ruled_out(True) | helped.result()

    if helper is not None:
        return shared_with(helper)
    with ThreadPoolExecutor(max_workers=1) as own:
        return shared_with(own)


def _veto(
    comparator: Comparator,
    veto: Veto,
    left: np.ndarray,
    right: np.ndarray,
    out: np.ndarray,
) -> None:
    """Sets `out` where `veto` rules a pair out, among the pairs not set already."""

    def flag(column: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = comparator.frame[column].fill_null(False).to_numpy()
        return values[left[rows]], values[right[rows]]

    def narrowed(column: str, rows: np.ndarray, equal: bool) -> np.ndarray:
        """The `rows` whose two records both hold `column`, the same value or not."""
        return _narrowed(comparator, column, left, right, rows, equal)

    rows = np.flatnonzero(~out)
    if veto.type != "differs":
        if len(rows) == len(left):  # cached: a level may compare the same column
            sim = comparator.similarity(veto.column, veto.type, left, right)
        else:
            sim = comparator.similarity_at(veto.column, veto.type, left, right, rows)
        rows = rows[np.nan_to_num(sim, nan=1.0) < np.float64(veto.below)]
    else:
        rows = narrowed(veto.column, rows, equal=False)
    if veto.same:
        rows = narrowed(veto.same, rows, equal=True)
    if veto.exclude_when_true:
        on_left, on_right = flag(veto.exclude_when_true, rows)
        rows = rows[~on_left & ~on_right]
    if veto.only_when_true:
        on_left, on_right = flag(veto.only_when_true, rows)
        rows = rows[on_left & on_right]
    if veto.unless_equal and len(rows):
        lifted = narrowed(veto.unless_equal, rows, equal=True)
        if veto.unless_equal_excluding:
            flag_left, flag_right = flag(veto.unless_equal_excluding, lifted)
            lifted = lifted[~flag_left & ~flag_right]
        rows = _without(rows, lifted)
    if veto.similar_columns and len(rows):
        # Lifted where every column is similar: each column narrows the rows still lifted.
        lifted = np.arange(len(rows))
        for column in veto.similar_columns:
            sim = comparator.similarity_at(column, "jaro_winkler", left, right, rows[lifted])
            lifted = lifted[np.nan_to_num(sim, nan=0.0) >= np.float64(veto.unless_above)]
        rows = np.delete(rows, lifted)
    if veto.unless_initial_of and len(rows):
        first, last = veto.unless_initial_of
        same_last = narrowed(last, rows, equal=True)
        lifted = comparator.initial_of(first, left[same_last], right[same_last])
        rows = _without(rows, same_last[lifted])
    if veto.unless_nickname and len(rows):
        lifted = comparator.nicknames(veto.unless_nickname, left[rows], right[rows])
        rows = rows[~lifted]
    if veto.unless_crossed and len(rows):
        own, other = veto.unless_crossed
        rows = rows[~comparator.crossed(own, other, left[rows], right[rows])]
    if veto.unless_swapped and len(rows):
        # Swapped and misspelt: each record's first name like the other's surname.
        lifted = np.arange(len(rows))
        first, second = veto.unless_swapped
        for a, b in ((first, second), (second, first)):
            pairs = rows[lifted]
            above = np.float64(veto.unless_swapped_above)
            sim = comparator.cross_similarity(
                a, b, left[pairs], right[pairs], cutoff=above - CUTOFF_MARGIN
            )
            lifted = lifted[sim >= above]
        rows = np.delete(rows, lifted)
    out[rows] = True


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
    relation = comparator.relation_at(column, left, right, rows)
    return rows[relation == (SAME if equal else DIFFERENT)]


def _without(rows: np.ndarray, lifted: np.ndarray) -> np.ndarray:
    """`rows` (ascending) less `lifted`, a subset of them: found by a search each (a set
    difference sorts both, and `rows` can be a million pairs)."""
    return np.delete(rows, np.searchsorted(rows, lifted))
