"""The letter-count bound on Jaro(-Winkler) (`pipeline.dedupe.letter_bound`) is an upper
bound: a pair it rules out could never have reached the cutoff."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from rapidfuzz import process
from rapidfuzz.distance import Jaro, JaroWinkler

from pipeline.dedupe.compare import Comparator
from pipeline.dedupe.letter_bound import jaro_bound, letter_signatures

ALPHABET = "aaabbcdeeefghiijklmnnoopqrrsssttuvwxyz  -'éöÅABÑ"


def _near_duplicates(seed: int, count: int) -> list[tuple[str, str]]:
    """Pairs of a random name and the same with one to three slips (a letter changed, added,
    dropped or swapped with the next, letters upper-cased), and names with a letter five
    or more times (beyond what a signature counts)."""
    rng = random.Random(seed)

    def slipped(text: str) -> str:
        chars = list(text)
        for _ in range(rng.randint(1, 3)):
            at, op = rng.randrange(len(chars) + 1), rng.random()
            if op < 0.3 and chars:
                chars[min(at, len(chars) - 1)] = rng.choice(ALPHABET)
            elif op < 0.5:
                chars.insert(at, rng.choice(ALPHABET))
            elif op < 0.7 and len(chars) > 1:
                del chars[min(at, len(chars) - 1)]
            elif op < 0.85 and len(chars) > 1:
                at = min(at, len(chars) - 2)
                chars[at], chars[at + 1] = chars[at + 1], chars[at]
            else:
                chars = [c.upper() if rng.random() < 0.3 else c for c in chars]
        return "".join(chars)

    names = ["".join(rng.choices(ALPHABET, k=rng.randint(1, 16))) for _ in range(count)]
    names += ["aaaaaaab", "anna-maria aaaa", "hannah hannah", "ssssss"]
    return [(name, slipped(name)) for name in names] + [
        ("aaaaaaab", "aaaaaaac"),
        ("anna-maria aaaa", "anna-maria aaab"),
        ("ssssss", "sssss"),
        ("é", "ö"),
        ("", "a"),
    ]


@pytest.mark.parametrize(("scorer", "winkler"), [(JaroWinkler, True), (Jaro, False)])
def test_no_pair_scores_above_its_letter_bound(scorer, winkler):
    pairs = _near_duplicates(seed=11, count=20_000)
    values = list(dict.fromkeys(v for pair in pairs for v in pair))
    index = {v: i for i, v in enumerate(values)}
    a = np.array([index[x] for x, _ in pairs])
    b = np.array([index[y] for _, y in pairs])
    low, high = letter_signatures(pl.Series(values))
    lengths = pl.Series(values).str.len_chars().to_numpy().astype(np.float32)
    bound = jaro_bound(low, high, lengths, a, b, winkler=winkler)
    objects = np.array(values, dtype=object)
    exact = process.cpdist(objects[a], objects[b], scorer=scorer.normalized_similarity)
    assert (exact <= bound + 1e-6).all()
    assert (exact >= 0.8).mean() > 0.5  # near the cutoffs the bound is used at
    assert (bound < 0.8).any()  # and it does rule some out


def test_similarities_are_the_same_with_and_without_the_bound(monkeypatch):
    import pipeline.dedupe.compare as compare

    pairs = _near_duplicates(seed=5, count=3_000)
    frame = pl.DataFrame({"name": [v for pair in pairs for v in pair]})
    left = np.arange(0, frame.height, 2)
    right = left + 1
    extra = np.random.default_rng(2).integers(0, frame.height, (2, 20_000))  # unlike ones
    left, right = np.r_[left, extra[0]], np.r_[right, extra[1]]
    results = []
    for bound_from in (0.75, 2.0):  # the bound in use, then never
        monkeypatch.setattr(compare, "LETTER_BOUND_FROM", bound_from)
        comparator = Comparator(frame)
        comparator.cutoffs = {("name", "jaro_winkler"): 0.8499}
        results.append(comparator.similarity("name", "jaro_winkler", left, right))
    np.testing.assert_array_equal(results[0], results[1])
    assert (results[0] > 0).any() and (results[0] == 0).any()


def test_signatures_of_a_slice_and_of_nothing():
    whole = pl.Series(["abc", "hello", "xyz", "aab"])
    low, high = letter_signatures(whole.slice(1, 2))  # an Arrow array with an offset
    expected = letter_signatures(pl.Series(["hello", "xyz"]))
    assert low.tolist() == expected[0].tolist() and high.tolist() == expected[1].tolist()
    assert [len(a) for a in letter_signatures(pl.Series([], dtype=pl.String))] == [0, 0]
