"""Clustering linked pairs into entities, with guards against chaining.

Connected components over pairs above the threshold do almost all the work (scipy, in C).
Two guards follow, each only on the components that need it:
- cannot-link: a component holding two records that must never be one entity (different
  personal emails and dissimilar names) is rebuilt by merging its links strongest first and
  refusing any merge that would join such records;
- size: a component above the size limit is re-clustered at stricter thresholds.
Then, where the spec asks (`thin_bridges`), two strongly held groups of an entity that only
a few weaker links join are split apart (`split_thin_bridges`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.dedupe.compare import hashed_keys
from pipeline.dedupe.spec import CannotLink, ThinBridges


@dataclass
class ClusterReport:
    components: int = 0
    conflicted_components: int = 0
    refused_merges: int = 0
    vetoed_merges: int = 0  # of the refused: two records a veto ruled out as one entity
    oversized_components: int = 0
    thin_bridges_cut: int = 0  # pairs of groups split apart by `split_thin_bridges`

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


class CannotLinkChecker:
    """Decides whether two groups of records may merge, from the spec's cannot-link rules."""

    def __init__(self, frame: pl.DataFrame, rules: list[CannotLink]) -> None:
        self.n = frame.height
        # (rule, values, names, equal) as typed series; Python objects only for the rows
        # the greedy rebuild visits (see `prepare`), not a million strings per column.
        self.typed: list[tuple[CannotLink, pl.Series, pl.Series | None, pl.Series | None]] = []
        for rule in rules:
            values = frame[rule.column].cast(pl.String)
            if rule.exclude_when_true:
                values = pl.select(
                    pl.when(~frame[rule.exclude_when_true].fill_null(False)).then(values)
                ).to_series()
            # No name on a side: nothing says the two are different people. A rule without
            # names (None): every difference is a conflict.
            names = frame[rule.unless_similar].cast(pl.String) if rule.unless_similar else None
            equal = frame[rule.unless_equal].cast(pl.String) if rule.unless_equal else None
            self.typed.append((rule, values, names, equal))
        # Per rule, (first, last) names where it forgives an initial ('A.' for 'Alfred').
        self.initials: list[tuple[pl.Series, pl.Series] | None] = [
            (
                (frame[rule.unless_initial_of[0]].cast(pl.String),
                 frame[rule.unless_initial_of[1]].cast(pl.String))
                if rule.unless_initial_of
                else None
            )
            for rule in rules
        ]  # fmt: skip
        # Per rule, (first, last) names compared part by part (`CannotLink.unless_names_alike`).
        self.parts: list[tuple[pl.Series, pl.Series] | None] = [
            (
                (frame[rule.unless_names_alike[0]].cast(pl.String),
                 frame[rule.unless_names_alike[1]].cast(pl.String))
                if rule.unless_names_alike
                else None
            )
            for rule in rules
        ]  # fmt: skip
        self._initial_objects: list[tuple[np.ndarray, np.ndarray] | None] = []
        self._part_objects: list[tuple[np.ndarray, np.ndarray] | None] = []
        self._hashed: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        # From `with_conflicts`: the conflicting pairs of the components it checked in
        # full, and which components (by label) those are.
        self.found: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64),) * 2
        self.covered: np.ndarray = np.zeros(0, dtype=bool)
        self.rules: list[tuple[CannotLink, np.ndarray, np.ndarray | None, np.ndarray | None]] = []
        self._ready = np.zeros(self.n, dtype=bool)  # rows `prepare` filled

    def prepare(self, rows: np.ndarray | None) -> None:
        """Object arrays for `conflict`, filled at `rows` only (None: every row); `conflict`
        fills every row first if asked about one not filled."""
        self._ready = np.zeros(self.n, dtype=bool)
        self._ready[slice(None) if rows is None else rows] = True

        def objects(series: pl.Series) -> np.ndarray:
            if rows is None:
                return series.to_numpy()
            out = np.full(self.n, None, dtype=object)
            out[rows] = series.gather(rows).to_numpy()
            return out

        self.rules = [
            (
                rule,
                objects(values),
                None if names is None else objects(names),
                None if equal is None else objects(equal),
            )
            for rule, values, names, equal in self.typed
        ]
        self._initial_objects = [
            None if pair is None else (objects(pair[0]), objects(pair[1])) for pair in self.initials
        ]
        self._part_objects = [
            None if pair is None else (objects(pair[0]), objects(pair[1])) for pair in self.parts
        ]

    def _keys(self, rule: int, which: str) -> tuple[np.ndarray, np.ndarray]:
        """`hashed_keys` of a rule's values or its `unless_equal` column, made once for both
        the candidate mask and the batch check."""
        if (rule, which) not in self._hashed:
            _, values, _, equal = self.typed[rule]
            self._hashed[rule, which] = hashed_keys(values if which == "values" else equal)
        return self._hashed[rule, which]

    def candidate_mask(self, labels: np.ndarray) -> np.ndarray:
        """Components (by label) holding two or more distinct values of a guarded column.
        Values counted as 64-bit hashes, and only in components of two or more records."""
        flagged = np.zeros(labels.max(initial=-1) + 1, dtype=bool)
        shared = pl.Series(np.bincount(labels)[labels] > 1)
        for k in range(len(self.typed)):
            key, present = self._keys(k, "values")
            frame = pl.DataFrame({"label": labels, "v": key}).filter(pl.Series(present) & shared)
            multi = (
                frame.group_by("label")
                .agg(pl.col("v").n_unique().alias("n"))
                .filter(pl.col("n") > 1)
            )
            flagged[multi["label"].to_numpy()] = True
        return flagged

    def with_conflicts(
        self, labels: np.ndarray, flagged: np.ndarray, max_size: int = 200
    ) -> np.ndarray:
        """Of the flagged components, those where some two members conflict, all pairs of
        members checked at once (a join and one batch of Jaro-Winkler). Without a conflicting
        pair the greedy rebuild would merge every link, giving the component back unchanged,
        so only these need it. Components above `max_size` stay flagged (pairs grow as n^2)."""
        nodes = np.flatnonzero(flagged[labels])
        sizes = np.bincount(labels[nodes], minlength=len(flagged))
        nodes = nodes[sizes[labels[nodes]] <= max_size]
        members = pl.DataFrame({"i": nodes, "label": labels[nodes]})
        pairs = members.join(members, on="label", suffix="_r").filter(pl.col("i") < pl.col("i_r"))
        a, b = pairs["i"].to_numpy(), pairs["i_r"].to_numpy()
        conflict = np.zeros(len(a), dtype=bool)
        for k, (rule, values, names, equal) in enumerate(self.typed):
            # Equality on 64-bit hashes; a value missing on either side: no conflict.
            key, present = self._keys(k, "values")
            differ = present[a] & present[b] & (key[a] != key[b])
            if names is not None:
                named = names.is_not_null().to_numpy()
                differ &= named[a] & named[b]
            if equal is not None:
                key, present = self._keys(k, "equal")
                differ &= ~(present[a] & present[b] & (key[a] == key[b]))
            idx = np.flatnonzero(differ)
            pair = self.initials[k]
            if pair is not None and len(idx):
                idx = idx[~_initial_of(pair[0], pair[1], a[idx], b[idx])]
            if rule.unless_within_edits is not None and len(idx):
                edits = process.cpdist(
                    values.gather(a[idx]).to_numpy(),
                    values.gather(b[idx]).to_numpy(),
                    scorer=Levenshtein.distance,
                    workers=-1,
                )
                idx = idx[edits > rule.unless_within_edits]
            if names is None:
                conflict[idx] = True
            elif len(idx):
                sim = process.cpdist(
                    names.gather(a[idx]).to_numpy(),
                    names.gather(b[idx]).to_numpy(),
                    scorer=JaroWinkler.normalized_similarity,
                    dtype=np.float64,
                    workers=-1,
                )
                unlike = sim < rule.threshold
                if self.parts[k] is not None and unlike.any():
                    first, last = self.parts[k]
                    rows = idx[unlike]
                    unlike[unlike] = ~names_alike(
                        first, last, a[rows], b[rows], rule.names_alike_above
                    )
                conflict[idx] |= unlike
        out = flagged.copy()
        out[labels[nodes]] = False
        out[labels[a[conflict]]] = True
        # Every conflicting pair of these components, for the rebuild to keep apart (as it
        # keeps vetoed pairs): `conflict` over groups asks the same of each pair in Python.
        self.found = (a[conflict], b[conflict])
        self.covered = np.zeros(len(flagged), dtype=bool)
        self.covered[labels[nodes]] = True
        return out

    def conflict(self, a: list[int], b: list[int]) -> bool:
        if len(self.rules) < len(self.typed) or not self._ready[a + b].all():
            self.prepare(None)
        for k, (rule, values, names, equal) in enumerate(self.rules):
            initials = self._initial_objects[k] if self._initial_objects else None
            unlike: list[tuple[int, int]] = []
            for i in a:
                if values[i] is None:
                    continue
                if names is not None and names[i] is None:
                    continue
                for j in b:
                    if values[j] is None or values[j] == values[i]:
                        continue
                    if names is not None and names[j] is None:
                        continue
                    if equal is not None and equal[i] is not None and equal[i] == equal[j]:
                        continue
                    if initials is not None and _one_is_initial(initials, i, j):
                        continue
                    if (
                        rule.unless_within_edits is not None
                        and Levenshtein.distance(values[i], values[j]) <= rule.unless_within_edits
                    ):
                        continue
                    if names is None:
                        return True
                    if JaroWinkler.normalized_similarity(names[i], names[j]) < rule.threshold:
                        if self.parts[k] is None:
                            return True
                        unlike.append((i, j))  # unless alike part by part, below
            if unlike:
                first, last = self._part_objects[k]
                for i, j in unlike:
                    if not _alike(first[i], last[i], first[j], last[j], rule.names_alike_above):
                        return True
        return False


def names_alike(
    first: pl.Series, last: pl.Series, a: np.ndarray, b: np.ndarray, threshold: float
) -> np.ndarray:
    """Per pair (a[i], b[i]): the names alike part by part, straight (first names at least
    `threshold` similar or one the other's initial, and surnames similar or one inside the
    other: 'smith-williams' holds 'smith') or crosswise (each first name like the other's
    surname). A missing part is never alike."""
    fa, fb, la, lb = first.gather(a), first.gather(b), last.gather(a), last.gather(b)
    present = (fa.is_not_null() & fb.is_not_null() & la.is_not_null() & lb.is_not_null()).to_numpy()
    out = np.zeros(len(a), dtype=bool)
    rows = np.flatnonzero(present)
    if not len(rows):
        return out
    fa, fb, la, lb = (s.gather(rows) for s in (fa, fb, la, lb))

    def similar(x: pl.Series, y: pl.Series) -> np.ndarray:
        scores = process.cpdist(
            x.to_numpy(), y.to_numpy(), scorer=JaroWinkler.normalized_similarity, workers=-1
        )
        return scores >= threshold

    initial = (
        ((fa.str.len_chars() == 1) | (fb.str.len_chars() == 1))
        & (fa.str.slice(0, 1) == fb.str.slice(0, 1))
    ).to_numpy()
    inside = (
        pl.select(
            (la.str.len_chars() >= 3)
            & (lb.str.len_chars() >= 3)
            & (lb.str.contains(la, literal=True) | la.str.contains(lb, literal=True))
        )
        .to_series()
        .to_numpy()
    )
    straight = (initial | similar(fa, fb)) & (inside | similar(la, lb))
    crosswise = similar(fa, lb) & similar(la, fb)
    out[rows] = straight | crosswise
    return out


def _alike(fa: str | None, la: str | None, fb: str | None, lb: str | None, t: float) -> bool:
    """`names_alike` for one pair of records, for the greedy rebuild."""
    if fa is None or la is None or fb is None or lb is None:
        return False
    similar = JaroWinkler.normalized_similarity
    first = ((len(fa) == 1 or len(fb) == 1) and fa[0] == fb[0]) or similar(fa, fb) >= t
    inside = len(la) >= 3 and len(lb) >= 3 and (la in lb or lb in la)
    if first and (inside or similar(la, lb) >= t):
        return True
    return similar(fa, lb) >= t and similar(la, fb) >= t


def _initial_of(first: pl.Series, last: pl.Series, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair (a[i], b[i]): the same surname, and one first name a single letter that
    starts the other."""
    fa, fb = first.gather(a), first.gather(b)
    same_last = (last.gather(a) == last.gather(b)).fill_null(False)
    single = (fa.str.len_chars() == 1) | (fb.str.len_chars() == 1)
    same_initial = fa.str.slice(0, 1) == fb.str.slice(0, 1)
    return (same_last & single & same_initial).fill_null(False).to_numpy()


def _one_is_initial(names: tuple[np.ndarray, np.ndarray], i: int, j: int) -> bool:
    first, last = names
    fi, fj = first[i], first[j]
    if fi is None or fj is None or last[i] is None or last[i] != last[j]:
        return False
    return (len(fi) == 1 or len(fj) == 1) and fi[0] == fj[0]


def _partners(a: np.ndarray, b: np.ndarray) -> dict[int, list[int]]:
    """Per record, the records it is paired with in (a[i], b[i]), both ways round."""
    out: dict[int, list[int]] = {}
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        out.setdefault(i, []).append(j)
        out.setdefault(j, []).append(i)
    return out


def _constrained(
    members: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    checker: CannotLinkChecker | None,
    report: ClusterReport,
    apart: dict[int, list[int]] | None = None,
    certain: np.ndarray | None = None,
    checked: np.ndarray | None = None,
    conflicts: dict[int, list[int]] | None = None,
) -> np.ndarray:
    """Greedy union of links in the order given (strongest first), refusing conflicting
    merges (`apart`: records each record must not share an entity with; `conflicts`: pairs
    of records the cannot-link rules keep apart, found beforehand; the cannot-link rules
    asked group against group for links `checked`). `certain` links (a person's must-link,
    an existing entity held together) are not checked against the cannot-link rules, only
    against `apart`. The links may span several components: none joins two of them, so
    each is rebuilt as on its own. Returns each member's root (its part's
    representative), in the members' order. `checked`: per link, whether the cannot-link
    rules are asked (None: every link)."""
    ids = members.tolist()  # Python ints once, not a conversion per numpy scalar
    parent = dict(zip(ids, ids, strict=True))
    groups = {m: [m] for m in ids}
    apart = apart or {}
    conflicts = conflicts or {}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def kept_apart(a: int, b: int, pairs: dict[int, list[int]]) -> bool:
        small, other = (a, b) if len(groups[a]) <= len(groups[b]) else (b, a)
        return any(find(j) == other for i in groups[small] for j in pairs.get(i, ()))

    sure = certain.tolist() if certain is not None else [False] * len(left)
    check = checked.tolist() if checked is not None else [True] * len(left)
    for i, j, is_certain, to_check in zip(left.tolist(), right.tolist(), sure, check, strict=True):
        a, b = find(i), find(j)
        if a == b:
            continue
        if apart and kept_apart(a, b, apart):
            report.refused_merges += 1
            report.vetoed_merges += 1
            continue
        if not is_certain and conflicts and kept_apart(a, b, conflicts):
            report.refused_merges += 1
            continue
        if (
            to_check
            and not is_certain
            and checker is not None
            and checker.conflict(groups[a], groups[b])
        ):
            report.refused_merges += 1
            continue
        if len(groups[a]) < len(groups[b]):
            a, b = b, a
        parent[b] = a
        groups[a].extend(groups.pop(b))
    return np.array([find(m) for m in ids], dtype=np.int64)


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    max_cluster_size: int,
    checker: CannotLinkChecker | None = None,
    progress: Callable[[str], None] | None = None,
    apart: tuple[np.ndarray, np.ndarray] | None = None,
    must: tuple[np.ndarray, np.ndarray] | None = None,
    thin: ThinBridges | None = None,
) -> tuple[np.ndarray, ClusterReport]:
    """A label per record (records never linked get their own label).

    `apart`: pairs of records that must not end in one entity (pairs a veto ruled out, a
    person's cannot-link), whatever chain of other links joins them. `must`: pairs that
    must (a person's must-link): certain links, kept by every guard but `apart`.
    Links with a probability above 1 are certain too (an incremental run's existing
    entities). `thin`: split groups that few weaker links join (`split_thin_bridges`)."""
    report = ClusterReport()
    if must is not None and len(must[0]):
        left = np.concatenate([left, must[0]])
        right = np.concatenate([right, must[1]])
        prob = np.concatenate([prob, np.full(len(must[0]), 2.0)])
    keep = prob >= threshold
    left, right, prob = left[keep], right[keep], prob[keep]
    labels = components(n, left, right)

    # Size guard: re-cluster oversized components at stricter thresholds.
    stricter = threshold
    for _ in range(6):
        sizes = np.bincount(labels)
        oversized = sizes[labels] > max_cluster_size
        if not oversized.any():
            break
        report.oversized_components += int((sizes > max_cluster_size).sum())
        stricter = 1 - (1 - stricter) / 10
        inside = oversized[left] & (prob >= stricter)
        drop = oversized[left] & ~inside
        left, right, prob = left[~drop], right[~drop], prob[~drop]
        labels = components(n, left, right)

    flagged = np.zeros(labels.max(initial=-1) + 1, dtype=bool)
    if checker is not None and checker.typed:
        flagged = checker.candidate_mask(labels)
        report.conflicted_components = int(flagged.sum())
        flagged = checker.with_conflicts(labels, flagged)
    # Components where two members conflict by the cannot-link rules: only their merges are
    # checked against them. One flagged only for a vetoed pair has no such pair (every pair
    # of its members was checked), so no merge in it could conflict.
    conflicting = flagged.copy()
    # Of those, the components whose every pair `with_conflicts` checked: their conflicting
    # pairs are kept apart like vetoed ones (0.12 s of cannot-link checks group against
    # group, in Python, at 1M leads); only larger ones ask the rules merge by merge.
    conflicts_of: dict[int, list[int]] = {}
    if checker is not None and checker.typed:
        conflicts_of = _partners(*checker.found)
        conflicting &= ~checker.covered
    apart_of: dict[int, list[int]] = {}
    if apart is not None and len(apart[0]):
        # Only the ruled-out pairs that links have put into one component matter.
        inside = labels[apart[0]] == labels[apart[1]]
        apart_of = _partners(apart[0][inside], apart[1][inside])
        flagged[labels[apart[0][inside]]] = True
    if flagged.any():
        if checker is not None and conflicting.any():
            checker.prepare(np.flatnonzero(conflicting[labels]))
        if progress:
            progress(f"checking {int(flagged.sum())} components for cannot-link conflicts")
        # Every flagged component rebuilt in one pass: its links by component, strongest
        # first (ties in input order), instead of a sort and two searches per component.
        in_flagged = np.flatnonzero(flagged[labels[left]])
        order = in_flagged[np.lexsort((-prob[in_flagged], labels[left[in_flagged]]))]
        members = np.flatnonzero(flagged[labels])
        members = members[np.argsort(labels[members], kind="stable")]  # by component, index
        root = _constrained(
            members,
            left[order],
            right[order],
            checker,
            report,
            apart_of,
            prob[order] > 1,
            conflicting[labels[left[order]]],
            conflicts_of,
        )
        # Each component's part holding its smallest record keeps the label; other parts
        # get new labels, numbered in the order their first record comes.
        component = labels[members]
        starts = np.flatnonzero(np.r_[True, component[1:] != component[:-1]])
        keeper = np.repeat(root[starts], np.diff(np.r_[starts, len(members)]))
        moved = np.flatnonzero(root != keeper)
        if len(moved):
            distinct, first = np.unique(root[moved], return_index=True)
            rank = np.empty(len(distinct), dtype=np.int64)
            rank[np.argsort(first, kind="stable")] = np.arange(len(distinct))
            labels[members[moved]] = (
                int(labels.max()) + 1 + rank[np.searchsorted(distinct, root[moved])]
            )
    if thin is not None:
        labels, report.thin_bridges_cut = split_thin_bridges(labels, left, right, prob, thin)
    report.components = int(np.count_nonzero(np.bincount(labels)))  # labels are 0..n-1
    return labels, report


def split_thin_bridges(
    labels: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    thin: ThinBridges,
) -> tuple[np.ndarray, int]:
    """(labels with thinly joined groups apart, how many pairs of groups were cut).

    Within each entity, the links at or above `thin.strong` make groups (certain links,
    above 1, among them). Two groups of at least `thin.min_group` records each, joined by
    weaker links between fewer than `thin.min_share` of their pairs of members, are cut
    apart; the groups still joined make the entities. One person's records link strongly to
    each other; a namesake or colleague joins two such groups by one or two links at
    0.8-0.99. Cluster F1 at 100k alt-heavy / hard +0.0003, 1M hard +0.0009, standard and
    alt-standard +0.0001, FEBRL unchanged (benchmarks/dedupe/README.md)."""
    inside = labels[left] == labels[right]
    weak = inside & (prob < thin.strong)
    if not weak.any():
        return labels, 0
    # Only the entities a weaker link holds together: most hold none.
    touched = np.zeros(int(labels.max()) + 1, dtype=bool)
    touched[labels[left[weak]]] = True
    keep = inside & touched[labels[left]]
    nodes, ends = np.unique(np.concatenate([left[keep], right[keep]]), return_inverse=True)
    kept = int(keep.sum())
    a, b, prob = ends[:kept], ends[kept:], prob[keep]
    strong = prob >= thin.strong
    group = components(len(nodes), a[strong], b[strong])
    n_groups = int(group.max(initial=-1)) + 1
    a, b = group[a[~strong]], group[b[~strong]]
    across = a != b
    low, high = np.minimum(a[across], b[across]), np.maximum(a[across], b[across])
    joined, links = np.unique(low * n_groups + high, return_counts=True)
    low, high = joined // n_groups, joined % n_groups
    size = np.bincount(group)
    cut = (np.minimum(size[low], size[high]) >= thin.min_group) & (
        links < thin.min_share * size[low] * size[high]
    )
    if not cut.any():
        return labels, 0
    # The touched entities' records take new labels, past the others'.
    merged = components(n_groups, low[~cut], high[~cut])
    labels = labels.copy()
    labels[nodes] = int(labels.max()) + 1 + merged[group]
    return labels, int(cut.sum())
