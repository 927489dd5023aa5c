"""Field-by-field comparison of candidate pairs into comparison levels (the gamma matrix).

Columns compared by similarity are dictionary-encoded once, so each distinct pair of values
is scored once through rapidfuzz's batch `cpdist` on all cores; columns only tested for
equality are compared as 64-bit hashes; edit distances (near-unique values such as emails)
are computed on the pairs' own strings, after a length filter. Only pairs whose values
differ are scored, and there is no Python loop per pair.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Jaro, JaroWinkler, Levenshtein

from pipeline.dedupe.letter_bound import jaro_bound, letter_signatures
from pipeline.dedupe.nicknames import linked_ids, spelling_ids
from pipeline.dedupe.spec import SIMILARITY_LEVELS, Comparison, Level, Veto

NULL_LEVEL = -1
# How a pair's two values of a column relate (`Comparator.relation_at`).
MISSING, SAME, DIFFERENT = np.int8(0), np.int8(1), np.int8(2)
CUTOFF_MARGIN = 1e-4
_SCORERS = {
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "jaro": Jaro.normalized_similarity,
    "levenshtein": Levenshtein.distance,
    # Optimal string alignment: Levenshtein plus adjacent transpositions as one edit, so a
    # single keying slip ('aramirze' for 'aramirez') is distance 1.
    "osa": OSA.distance,
}
_DISTANCES = frozenset({"levenshtein", "osa"})
_JAROS = frozenset({"jaro", "jaro_winkler"})
# Cutoffs from which pairs are first checked against the letter-count bound: at 0.8 it rules
# out 73 % of the distinct first-name pairs a level scores, at 0.95 95 % of the full-name
# pairs a veto asks about; at 0.6 only 8-10 %, less than the check costs.
LETTER_BOUND_FROM = 0.75
BOUND_SLACK = 1e-6  # the bound in float64 against rapidfuzz's float32 scores


def _scored(scorer: str, cutoff: float | None, first: object, second: object) -> np.ndarray:
    """rapidfuzz's batch scores of the pairs (first[i], second[i]) on all cores: similarities
    on the spec's 0-1 scale (token set's 0-100 scaled down), edit distances as counts. With
    a `cutoff` (`similarity_cutoffs`), similarities below it read 0 and distances above it
    cutoff + 1."""
    scale = 100 if scorer == "token_set" else 1
    if cutoff is not None:  # a whole edit count, or a similarity of at least 0
        cutoff = int(cutoff) if scorer in _DISTANCES else max(cutoff, 0.0) * scale
    scores = process.cpdist(
        first,
        second,
        scorer=fuzz.token_set_ratio if scorer == "token_set" else _SCORERS[scorer],
        score_cutoff=cutoff,
        workers=-1,
    )
    return scores / np.float32(scale) if scale != 1 else scores


def distinct_with_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_inverse=True)` through polars' parallel dense rank: the
    inverse is the rank less one (32-bit), and each distinct value is put at its rank.
    These run on every veto and level that tests distinct pairs of values: at 1.2M
    combination codes numpy takes 83 ms, an arg sort and a scan 67 ms, the rank 60 ms.
    Codes from a small range (titles: 28 values, 784 combinations) are looked up in a
    table of the range instead (4 ms for 900k codes; the rank took 40)."""
    top = int(values.max()) + 1 if len(values) else 0
    if len(values) and values.min() >= 0 and top <= 4 * len(values):
        seen = np.zeros(top, dtype=bool)
        seen[values] = True
        rank = np.cumsum(seen, dtype=np.int32) - 1
        return np.flatnonzero(seen).astype(values.dtype), rank[values]
    inverse = (pl.Series(values).rank("dense") - 1).to_numpy()
    distinct = np.empty(int(inverse.max()) + 1 if len(inverse) else 0, dtype=values.dtype)
    distinct[inverse] = values
    return distinct, inverse


def hashed_keys(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(a 64-bit hash per row, whether the row has a value): equality keys without the
    unique-and-join an encoding costs (a collision is a 2^-64 chance per pair)."""
    return values.hash(seed=7).to_numpy(), values.is_not_null().to_numpy()


def hashed_columns(
    frame: pl.DataFrame, columns: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`hashed_keys` of several columns in one select (polars hashes them in parallel)."""
    keyed = frame.select(
        *(pl.col(c).hash(seed=7).alias(f"hash:{c}") for c in columns),
        *(pl.col(c).is_not_null().alias(f"present:{c}") for c in columns),
    )
    return {c: (keyed[f"hash:{c}"].to_numpy(), keyed[f"present:{c}"].to_numpy()) for c in columns}


def combined_keys(keys: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One 64-bit key per row for several columns' keys together (`hashed_keys` or codes),
    present where every one is: a combination's equality key (a full name, an office)."""
    frame = pl.DataFrame({str(i): key for i, (key, _) in enumerate(keys)})
    return frame.hash_rows(seed=7).to_numpy(), np.logical_and.reduce([p for _, p in keys])


@dataclass
class EncodedColumn:
    """Integer codes per row (-1 for null) and the distinct values they stand for."""

    codes: np.ndarray
    distinct: pl.Series  # distinct values in order of appearance, code i is distinct[i]
    _objects: np.ndarray | None = field(default=None, repr=False)
    _letters: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def values(self) -> np.ndarray:
        """The distinct values as Python strings (what rapidfuzz takes), built on first use:
        columns only compared exactly never need them."""
        if self._objects is None:
            self._objects = self.distinct.to_numpy().astype(object)
        return self._objects

    def lengths(self) -> np.ndarray:
        """Length in characters of each distinct value."""
        return self.distinct.str.len_chars().to_numpy().astype(np.int64)

    def letters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`letter_signatures` of the distinct values and their lengths (float32), for
        `jaro_bound`; made on first use."""
        if self._letters is None:
            low, high = letter_signatures(self.distinct)
            self._letters = (low, high, self.lengths().astype(np.float32))
        return self._letters

    @classmethod
    def from_series(cls, series: pl.Series) -> EncodedColumn:
        text = series.cast(pl.String)
        # First-appearance order: deterministic, and half the cost of sorting the strings.
        values = text.drop_nulls().unique(maintain_order=True)
        lookup = pl.DataFrame({"v": values, "code": np.arange(len(values), dtype=np.int32)})
        codes = (
            text.to_frame("v")
            .join(lookup, on="v", how="left", maintain_order="left")
            .get_column("code")
            .fill_null(-1)
            .to_numpy()
            .astype(np.int32)
        )
        return cls(codes=codes, distinct=values)


def _meets(level: Level, scores: np.ndarray) -> np.ndarray:
    """Whether each score reaches a similarity or distance level (NaN, a missing value,
    never does)."""
    if level.type in _DISTANCES:
        return np.nan_to_num(scores, nan=np.inf) <= level.max_distance
    # float64 threshold: the scores are float32, compared as before at full precision.
    return np.nan_to_num(scores, nan=-1.0) >= np.float64(level.threshold)


def similarity_keys_read_whole(vetoes: list[Veto]) -> frozenset[tuple[str, str]]:
    """(column, scorer) of the vetoes' similarities: each veto's first test reads them for
    every candidate pair, so the levels compute them for all pairs, once."""
    return frozenset((v.column, v.type) for v in vetoes if v.type != "differs")


def similarity_cutoffs(
    comparisons: list[Comparison], vetoes: list[Veto]
) -> dict[tuple[str, str], float]:
    """Per (column, similarity scorer), the lowest threshold a level or veto tests it
    against. Every use is a comparison with a threshold at or above it, so similarities
    below it can be reported as 0 without changing any level or veto. For a distance, the
    largest `max_distance` of its levels: rapidfuzz reports anything farther as that + 1."""
    cutoffs: dict[tuple[str, str], float] = {}

    def note(column: str, scorer: str, threshold: float) -> None:
        # A margin below: levels compare float32 scores, and 0.7999999999999999 rounds to
        # float32 0.8, which passes a 0.8 level; rapidfuzz's own test would drop it.
        key, threshold = (column, scorer), threshold - CUTOFF_MARGIN
        cutoffs[key] = min(threshold, cutoffs.get(key, threshold))

    for comparison in comparisons:
        for level in comparison.levels:
            column = level.column or comparison.column
            if level.type in SIMILARITY_LEVELS:
                note(column, level.type, level.threshold)
            elif level.type in _DISTANCES and level.max_distance is not None:
                key = (column, level.type)
                cutoffs[key] = max(level.max_distance, cutoffs.get(key, 0))
    for veto in vetoes:
        if veto.type != "differs":
            note(veto.column, veto.type, veto.below)
        for column in veto.similar_columns:
            note(column, "jaro_winkler", veto.unless_above)
    return cutoffs


@dataclass
class Comparator:
    """Computes levels for pairs of rows of one frame, caching encodings and similarities."""

    frame: pl.DataFrame
    _encoded: dict[str, EncodedColumn] = field(default_factory=dict)
    # Similarities of the pairs being compared now (`_pairs`), shared by the levels of one
    # column, other comparisons and the vetoes (last_lower JW is both a level and a veto).
    _similarities: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _pairs: tuple[np.ndarray, np.ndarray] | None = None
    _hashed: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _counts: dict[str, np.ndarray] = field(default_factory=dict)  # `row_counts`
    _lengths: dict[str, np.ndarray] = field(default_factory=dict)  # characters per row
    _spellings: dict[str, np.ndarray] = field(default_factory=dict)  # `nicknames`, per code
    # Per column, MISSING / SAME / DIFFERENT for every pair of the current set
    # (`relation_at`).
    _relations: dict[str, np.ndarray] = field(default_factory=dict)
    # (column, scorer) -> the lowest similarity any rule asks about (`similarity_cutoffs`):
    # rapidfuzz gives up early on pairs that cannot reach it, and reports them as 0.
    cutoffs: dict[tuple[str, str], float] = field(default_factory=dict)
    # (column, scorer) that something other than the levels reads for every pair (a veto's
    # similarity, `similarity_keys_read_whole`): the levels compute and cache those for all
    # pairs; any other similarity only for the pairs no earlier level has decided.
    whole: frozenset[tuple[str, str]] = frozenset()
    # Pairs (of the current set) whose fuzzy levels are not worked out: the vetoed ones, whose
    # probability is 0 whatever they read. Their scored and swapped levels read as not met,
    # unless a similarity the vetoes needed is cached already (`levels`).
    settled: np.ndarray | None = None

    def encoded(self, column: str) -> EncodedColumn:
        if column not in self._encoded:
            self._encoded[column] = EncodedColumn.from_series(self.frame[column])
        return self._encoded[column]

    def encode(self, columns: list[str]) -> None:
        """Encode these columns now, in threads (unique-and-join releases the GIL), instead
        of on first use."""
        todo = [c for c in dict.fromkeys(columns) if c not in self._encoded]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for column, enc in zip(
                todo,
                pool.map(lambda c: EncodedColumn.from_series(self.frame[c]), todo),
                strict=True,
            ):
                self._encoded[column] = enc

    def keys(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(a key per row, whether the row has a value) for equality tests only: the codes
        when the column is encoded anyway, else `hashed_keys`."""
        if column in self._encoded:
            codes = self._encoded[column].codes
            return codes, codes >= 0
        if column not in self._hashed:
            self._hashed[column] = hashed_keys(self.frame[column])
        return self._hashed[column]

    def joint_keys(self, columns: list[str]) -> str:
        """One 64-bit key per row for the combination of `columns`' values (present where
        every one is), registered under a name no column has ('first_lower+last_lower'),
        which `keys`, `row_counts` and `row_frequencies` then read like a column's. Made
        from the columns' own keys (codes or hashes): no string is touched again. Not made
        where the counts are known already (`term_frequencies.counts_from_blocks`):
        they are all a full run reads."""
        name = "+".join(columns)
        if name not in self._hashed and name not in self._counts:  # counted from blocks
            self._hashed[name] = combined_keys([self.keys(c) for c in columns])
        return name

    def row_counts(self, column: str) -> np.ndarray:
        """Per row, how many rows hold its value (0 where it is null): from the codes when
        the column is encoded anyway, else by counting hashes, so a column only ever
        compared exactly (phones, organisation keys) is never encoded for it. Counted once
        for both of their uses, EM's chance of agreement and term frequencies."""
        if column not in self._counts:
            self._counts[column] = self._row_counts(column)
        return self._counts[column]

    def count_rows(self, columns: list[str]) -> None:
        """`row_counts` of these columns now: the hashed ones counted in one polars select,
        in parallel (a count over a million keys is ~50 ms, and a run counts several)."""
        todo = [c for c in dict.fromkeys(columns) if c not in self._counts]
        hashed = [c for c in todo if c not in self._encoded]
        if len(hashed) > 1:
            keys = [self.keys(c) for c in hashed]
            counted = pl.DataFrame({str(i): key for i, (key, _) in enumerate(keys)}).select(
                pl.len().over(str(i)).alias(str(i)) for i in range(len(keys))
            )
            for i, (column, (_, present)) in enumerate(zip(hashed, keys, strict=True)):
                self._counts[column] = np.where(present, counted[str(i)].to_numpy(), 0)
        for column in todo:
            self.row_counts(column)

    def _row_counts(self, column: str) -> np.ndarray:
        if column in self._encoded:
            codes = self._encoded[column].codes
            by_code = np.append(np.bincount(codes[codes >= 0]), 0)  # code -1 (null) reads 0
            return by_code.astype(np.int32)[codes]
        key, present = self.keys(column)
        counts = pl.Series(key).to_frame("k").select(pl.len().over("k")).to_series().to_numpy()
        return np.where(present, counts, 0)

    def agreement_chance(self, column: str) -> float | None:
        """The chance that two random rows holding a value hold the same one: the sum over
        values of c(c - 1), over n(n - 1). None with fewer than two values."""
        counts = self.row_counts(column)
        present = counts > 0
        total = float(present.sum())
        if total < 2:
            return None
        # Each row of a value held c times adds c - 1: c(c - 1) per value, exact in int64.
        return float((counts[present] - 1).sum()) / (total * (total - 1))

    def row_frequencies(self, column: str) -> np.ndarray:
        """Per row, the share of non-null rows holding its value (0 where it is null)."""
        counts = self.row_counts(column)
        return counts / max(int((counts > 0).sum()), 1)

    def use_pairs(self, left: np.ndarray, right: np.ndarray) -> None:
        """Cached similarities (and `settled`) belong to one pair set: dropped when the pairs
        change."""
        if self._pairs is None or self._pairs[0] is not left or self._pairs[1] is not right:
            self._similarities.clear()
            self._relations.clear()
            self.settled = None
            self._pairs = (left, right)

    def sibling(self) -> Comparator:
        """A comparator sharing this one's encodings but with its own similarity cache, for
        other pairs (EM's random pairs) while this one's cache is still needed."""
        return Comparator(
            self.frame,
            _encoded=self._encoded,
            _hashed=self._hashed,
            _lengths=self._lengths,
            _spellings=self._spellings,
            _counts=self._counts,
            cutoffs=self.cutoffs,
        )

    def similarity_at(
        self, column: str, scorer: str, left: np.ndarray, right: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """Similarity of the pairs `rows` of (left, right): read from the cache when the
        whole set's is there, else computed for those pairs alone."""
        if self._pairs is not None and self._pairs[0] is left and self._pairs[1] is right:
            cached = self._similarities.get((column, scorer))
            if cached is not None:
                return cached[rows]
        return self._compute_similarity(column, scorer, left[rows], right[rows])

    def relation_at(
        self, column: str, left: np.ndarray, right: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """MISSING, SAME or DIFFERENT: how the two values of `column` relate in the pairs
        `rows` of (left, right). Worked out for the whole current set and kept once a
        quarter of it is asked about: the vetoes ask about one column (the email) again and
        again, each time for most pairs (0.16 s of gathers at 1.8M pairs)."""
        current = self._pairs is not None and self._pairs[0] is left and self._pairs[1] is right
        whole = self._relations.get(column) if current else None
        if whole is None and current and 4 * len(rows) >= len(left):
            whole = self._relations[column] = self._relation(column, left, right)
        if whole is not None:
            return whole[rows]
        return self._relation(column, left[rows], right[rows])

    def _relation(self, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        key, present = self.keys(column)
        out = np.zeros(len(left), dtype=np.int8)  # MISSING
        both = np.flatnonzero(present[left] & present[right])
        out[both] = np.where(key[left[both]] == key[right[both]], SAME, DIFFERENT)
        return out

    def cross_similarity(
        self,
        column: str,
        other: str,
        left: np.ndarray,
        right: np.ndarray,
        cutoff: float | None = None,
    ) -> np.ndarray:
        """Jaro-Winkler of `column` on the left with `other` on the right (0 where either is
        missing, or below `cutoff`), once per distinct pair of values, from the encodings."""
        ea, eb = self.encoded(column), self.encoded(other)
        ca, cb = ea.codes[left], eb.codes[right]
        rows = np.flatnonzero((ca >= 0) & (cb >= 0))
        out = np.zeros(len(left))
        if len(rows):
            size = len(eb.distinct)
            combo = ca[rows].astype(np.int64) * size + cb[rows]
            unique, inverse = distinct_with_inverse(combo)
            scores = _scored(
                "jaro_winkler", cutoff, ea.values[unique // size], eb.values[unique % size]
            )
            out[rows] = scores[inverse]
        return out

    def release(self) -> None:
        """Free the cached similarities (tens of MB per column on millions of pairs)."""
        self._similarities.clear()
        self._relations.clear()
        self._pairs = None
        self.settled = None

    def similarity(
        self, column: str, scorer: str, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        """Similarity per pair (NaN where a value is missing); cached for the current pairs,
        computed afresh (and not cached) for any other pairs, e.g. a subset of them."""
        if self._pairs is not None and self._pairs[0] is left and self._pairs[1] is right:
            return self._similarity(column, scorer, left, right)
        return self._compute_similarity(column, scorer, left, right)

    def _similarity(
        self, column: str, scorer: str, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        key = (column, scorer)
        if key not in self._similarities:
            self._similarities[key] = self._compute_similarity(column, scorer, left, right)
        return self._similarities[key]

    def _compute_similarity(
        self, column: str, scorer: str, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        if column not in self._encoded and self._pairwise(scorer, len(left)):
            return self._from_pair_strings(column, scorer, left, right)
        cutoff = self.cutoffs.get((column, scorer))
        enc = self.encoded(column)
        cl, cr = enc.codes[left], enc.codes[right]
        present = (cl >= 0) & (cr >= 0)
        differ = present & (cl != cr)
        exact_value = 0.0 if scorer in _DISTANCES else 1.0
        out = np.where(present, np.float32(exact_value), np.float32(np.nan))
        if differ.any():
            rows = np.flatnonzero(differ)
            a, b = cl[rows], cr[rows]
            if scorer in _JAROS and cutoff is not None and cutoff >= LETTER_BOUND_FROM:
                # Pairs whose letters alone keep them below the cutoff read 0, as rapidfuzz
                # would report them, unscored (`letter_bound`).
                reach = jaro_bound(*enc.letters(), a, b, winkler=scorer == "jaro_winkler")
                reach = reach >= cutoff - BOUND_SLACK
                out[rows[~reach]] = 0.0
                rows, a, b = rows[reach], a[reach], b[reach]
                if not len(rows):
                    return out
            # Score each distinct (value, value) combination once, in either order (every
            # scorer is symmetric): blocks repeat them a lot (the same two company names,
            # titles or cities across many pairs): the distinct combinations, and each
            # pair's place among them.
            size = len(enc.distinct)
            combo = np.minimum(a, b).astype(np.int64) * size + np.maximum(a, b)
            unique, inverse = distinct_with_inverse(combo)
            if scorer in _DISTANCES and cutoff is not None:
                # An edit distance is at least the difference in length: most pairs of
                # different values are farther apart than the cutoff by length alone.
                limit = int(cutoff)
                lengths = enc.lengths()
                near = np.abs(lengths[unique // size] - lengths[unique % size]) <= limit
                scores = np.full(len(unique), limit + 1, dtype=np.float32)
                scores[near] = _scored(
                    scorer,
                    cutoff,
                    enc.values[unique[near] // size],
                    enc.values[unique[near] % size],
                )
            else:
                first, second = enc.values[unique // size], enc.values[unique % size]
                scores = _scored(scorer, cutoff, first, second)
            out[rows] = scores.astype(np.float32)[inverse]
        return out

    def _pairwise(self, scorer: str, pairs: int) -> bool:
        """Whether a column not yet encoded is cheaper compared from the pairs' strings: an
        encoding costs about a row's worth of work per row, pairwise strings a pair's per
        pair. Edit distances take strings only for the pairs of near lengths, so they stay
        cheaper up to twice as many pairs as rows (1.76M email pairs over 1M leads); a
        similarity takes them for every differing pair, and repeated combinations of values
        are scored once only when encoded. With many pairs per row (EM's 500k random pairs
        over FEBRL2's 5,000 records), the encoding wins: 0.75 s -> 1.0 s without it."""
        if scorer in _DISTANCES:
            return pairs <= 2 * self.frame.height
        return 2 * pairs < self.frame.height

    def _from_pair_strings(
        self, column: str, scorer: str, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        """`_compute_similarity` from the pairs' own strings, with no encoding. An encoding
        costs a unique-and-join of every row and a Python string per distinct value, and
        pays off only when value combinations repeat over many pairs: not for near-unique
        values (emails), nor for a few pairs of a column nothing else encodes (a veto's
        exceptions). An edit distance with a cutoff is computed only where the lengths
        differ by at most the cutoff: the other pairs are farther by length alone."""
        relation = self._relation(column, left, right)
        distance = scorer in _DISTANCES
        out = np.where(
            relation != MISSING, np.float32(0.0 if distance else 1.0), np.float32(np.nan)
        )
        differ = np.flatnonzero(relation == DIFFERENT)
        cutoff = self.cutoffs.get((column, scorer))
        if distance and cutoff is not None:
            limit = int(cutoff)
            out[differ] = np.float32(limit + 1)
            if column not in self._lengths:
                self._lengths[column] = self.frame[column].str.len_chars().fill_null(0).to_numpy()
            lengths = self._lengths[column].astype(np.int64, copy=False)
            differ = differ[np.abs(lengths[left[differ]] - lengths[right[differ]]) <= limit]
        if len(differ):
            # Each row's string made once however many pairs it is in: Python strings, not
            # the scoring, are most of the cost (0.4 s for 2M of them).
            first, second = left[differ], right[differ]
            involved = np.zeros(self.frame.height, dtype=bool)
            involved[first] = True
            involved[second] = True
            rows = np.flatnonzero(involved)
            place = np.empty(self.frame.height, dtype=np.int64)
            place[rows] = np.arange(len(rows))
            strings = self.frame[column].cast(pl.String).gather(rows).to_numpy()
            out[differ] = _scored(scorer, cutoff, strings[place[first]], strings[place[second]])
        return out

    def _level_condition(
        self, comparison: Comparison, level: Level, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        column = level.column or comparison.column
        if level.type == "exact":
            if column in self._relations:  # the vetoes' (`relation_at`), for these pairs
                return self._relations[column] == SAME
            key, present = self.keys(column)  # a hash when only equality is ever asked
            on_left = key[left]
            return present[left] & (on_left == key[right])
        if level.type in SIMILARITY_LEVELS or level.type in _DISTANCES:
            return _meets(level, self._similarity(column, level.type, left, right))
        if level.type == "nickname":
            return self.nicknames(column, left, right)
        if level.type == "initial":
            return self.initial_of(column, left, right)
        values = self.frame[column].cast(pl.String)
        a, b = values.gather(left), values.gather(right)
        if level.type == "date_transposed":
            digits_a = a.str.replace_all(r"\D", "")
            digits_b = b.str.replace_all(r"\D", "")
            swapped = digits_b.str.slice(0, 4) + digits_b.str.slice(6, 2) + digits_b.str.slice(4, 2)
            return (
                ((digits_a == swapped) & (digits_a.str.len_chars() == 8))
                .fill_null(False)
                .to_numpy()
            )
        if level.type == "numeric_within":
            na = a.cast(pl.Float64, strict=False)
            nb = b.cast(pl.Float64, strict=False)
            return ((na - nb).abs() <= level.tolerance).fill_null(False).to_numpy()
        raise ValueError(level.type)  # pragma: no cover - validated by the spec

    def crossed(self, own: str, other: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Whether one record's `own` value is the other's `other` value (a mobile given as
        the phone in another file), where the two `other` values do not agree already: that
        agreement is `other`'s own comparison, not to be counted twice."""
        own_key, own_present = self._hashes(own)
        other_key, other_present = self._hashes(other)
        forward = own_present[left] & other_present[right] & (own_key[left] == other_key[right])
        back = other_present[left] & own_present[right] & (other_key[left] == own_key[right])
        agreed = other_present[left] & other_present[right] & (other_key[left] == other_key[right])
        return (forward | back) & ~agreed

    def _hashes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """`hashed_keys` of a column even where it is encoded: the hashes of two string
        columns can be compared with each other, their codes cannot."""
        if column not in self._encoded:
            return self.keys(column)  # its hashes (an equality-only column arrives as them)
        name = f"hash:{column}"  # no column's name: `keys` returns codes for encoded ones
        if name not in self._hashed:
            self._hashed[name] = hashed_keys(self.frame[column])
        return self._hashed[name]

    def nicknames(self, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Whether the two first names (`column`, folded) differ and share a nickname group
        (many-to-many: Pat is Patrick's and Patricia's): each distinct value numbered once
        by its spelling, then two integer gathers and a table lookup per pair (testing
        each distinct pair of values took 0.2 s at 1.2M pairs, most of it finding them)."""
        if column not in self._spellings:
            # -1 for a code of -1 (a missing value): the last entry.
            ids = spelling_ids(self.encoded(column).distinct)
            self._spellings[column] = np.append(ids, np.int32(-1))
        ids = self._spellings[column]
        codes = self.encoded(column).codes
        return linked_ids(ids[codes[left]], ids[codes[right]])

    def initial_of(self, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Whether one value is a single letter and the other starts with it ('a' / 'alain':
        a first name reduced to an initial), the two differing."""
        enc = self.encoded(column)
        cl, cr = enc.codes[left], enc.codes[right]
        rows = np.flatnonzero((cl >= 0) & (cr >= 0) & (cl != cr))
        out = np.zeros(len(left), dtype=bool)
        if len(rows):
            single = enc.lengths() == 1
            initial = self._initials(column)
            a, b = cl[rows], cr[rows]
            out[rows] = (single[a] | single[b]) & (initial[a] == initial[b])
        return out

    def _initials(self, column: str) -> np.ndarray:
        """A hash of the first character of each distinct value of `column`."""
        return self.encoded(column).distinct.str.slice(0, 1).hash(seed=7).to_numpy()

    def _swapped(
        self, column: str, other: str, left: np.ndarray, right: np.ndarray, threshold: float
    ) -> np.ndarray:
        """`column` of each record at least `threshold` (Jaro-Winkler) like `other` of the
        other record, both ways round: names entered swapped, misspelt or not. Scored only
        where an initial agrees crosswise (a cheap filter: a swap keeps one initial unless
        both are mistyped), so it costs a fraction of a fuzzy level."""
        ea, eb = self.encoded(column), self.encoded(other)
        al, ar, bl, br = ea.codes[left], ea.codes[right], eb.codes[left], eb.codes[right]
        out = (al >= 0) & (ar >= 0) & (bl >= 0) & (br >= 0)
        ia, ib = self._initials(column), self._initials(other)
        rows = np.flatnonzero(out)
        rows = rows[(ia[al[rows]] == ib[br[rows]]) | (ib[bl[rows]] == ia[ar[rows]])]
        out[:] = False
        for x, y in ((al, br), (bl, ar)):
            if not len(rows):
                break
            first = ea.values[x[rows]] if x is al else eb.values[x[rows]]
            second = eb.values[y[rows]] if y is br else ea.values[y[rows]]
            rows = rows[_scored("jaro_winkler", None, first, second) >= threshold]
        out[rows] = True
        return out

    def levels(self, comparison: Comparison, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Level index per pair: the first level that holds, len(levels) for 'else',
        NULL_LEVEL when either side's value is missing."""
        self.use_pairs(left, right)
        out = np.full(len(left), len(comparison.levels), dtype=np.int8)
        undecided = np.ones(len(left), dtype=bool)
        settled = self.settled if self.settled is not None else np.zeros(len(left), dtype=bool)
        # Similarities of the undecided pairs only, per (column, scorer): (rows, scores).
        # A later level's undecided pairs are among an earlier one's.
        partial: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for index, level in enumerate(comparison.levels):
            if not undecided.any():
                break
            column = level.column or comparison.column
            key = (column, level.type)
            scored = level.type in SIMILARITY_LEVELS or level.type in _DISTANCES
            if scored and key not in self.whole and key not in self._similarities:
                open_ = undecided & ~settled
                rows = np.flatnonzero(open_)
                if key not in partial:
                    scores = self._compute_similarity(column, level.type, left[rows], right[rows])
                    partial[key] = (rows, scores)
                known, scores = partial[key]
                hit = np.zeros(len(left), dtype=bool)
                # The open pairs are among those scored: a mask of them picks their scores
                # in order (a search per pair cost ~40 ms per level at 1M pairs).
                hit[rows] = _meets(level, scores[open_[known]])
            elif level.type in ("nickname", "initial"):
                # Tested once per distinct pair of values: only the undecided pairs' values.
                rows = np.flatnonzero(undecided)
                test = self.nicknames if level.type == "nickname" else self.initial_of
                hit = np.zeros(len(left), dtype=bool)
                hit[rows] = test(column, left[rows], right[rows])
            elif level.type == "crossed":
                # Only where the comparison's own values are there to compare (a pair missing
                # one reads 'missing' whatever it holds) and no earlier level holds: a third
                # of the pairs at 1M, and a third of the gathers.
                _, present = self.keys(comparison.column)
                rows = np.flatnonzero(undecided & present[left] & present[right])
                hit = np.zeros(len(left), dtype=bool)
                hit[rows] = self.crossed(comparison.column, column, left[rows], right[rows])
            elif level.type == "swapped":
                rows = np.flatnonzero(undecided & ~settled)
                hit = np.zeros(len(left), dtype=bool)
                hit[rows] = self._swapped(
                    comparison.column, level.column, left[rows], right[rows], level.threshold
                )
            else:
                hit = self._level_condition(comparison, level, left, right) & undecided
            out[hit] = index
            undecided &= ~hit
        _, present = self.keys(comparison.column)  # codes if encoded, else hashes
        out[~(present[left] & present[right])] = NULL_LEVEL
        return out

    def gamma(
        self, comparisons: list[Comparison], left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        """(n_pairs, n_comparisons) matrix of levels.

        Comparisons run in threads: encoding, gathers and masks are polars and numpy calls
        that release the GIL, so two cores do twice the work (rapidfuzz spreads its own).
        Column-major: everything after reads it a comparison at a time (EM, chance
        agreement, term frequencies, the pairs table), and a column of a row-major matrix
        is a strided read of all of it (0.3 s of scoring at 2.5M pairs)."""
        self.use_pairs(left, right)
        workers = min(len(comparisons), os.cpu_count() or 1)
        out = np.empty((len(left), len(comparisons)), dtype=np.int8, order="F")
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for k, levels in enumerate(
                pool.map(lambda c: self.levels(c, left, right), comparisons)
            ):
                out[:, k] = levels
        return out
