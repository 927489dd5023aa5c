"""Dedupe building blocks: spec validation, comparison levels, blocking guards, EM,
survivorship and stable ids."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.dedupe import entities
from pipeline.dedupe.blocking import block_layouts, candidate_pairs
from pipeline.dedupe.chunks import aligned, chunk_layout, in_morsels, morsel_layout
from pipeline.dedupe.compare import (
    DIFFERENT,
    MISSING,
    NULL_LEVEL,
    SAME,
    Comparator,
    distinct_with_inverse,
    hashed_columns,
    hashed_keys,
    similarity_cutoffs,
)
from pipeline.dedupe.entities import (
    all_distinct,
    assign_entity_ids,
    new_entity_id,
    new_entity_ids,
)
from pipeline.dedupe.estimate_u import MIN_CHANCE_HOLDERS, chance_agreement_without_matches
from pipeline.dedupe.fingerprints import _ordered_email_names, _partners_last, add_fingerprints
from pipeline.dedupe.golden import _dense_codes, golden_records
from pipeline.dedupe.model import (
    FSModel,
    fit_em,
    match_weights,
    pair_weights,
    patterns,
    probability,
    rows_of,
)
from pipeline.dedupe.prepare import latest_per_id
from pipeline.dedupe.spec import (
    BlockingRule,
    CannotLink,
    Comparison,
    Level,
    MatchSpec,
    SpecError,
    Veto,
    load_spec,
)
from pipeline.dedupe.term_frequencies import (
    counts_from_blocks,
    joint_frequencies,
    tf_adjustments,
    tf_tables,
)
from pipeline.dedupe.vetoes import vetoed_pairs
from tests.people import normalized, population


def test_builtin_specs_load():
    assert load_spec("leads").id_column == "lead_id"
    assert load_spec("person").id_column == "rec_id"


def test_spec_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nblocking: [{name: b, keys: [x]}]\ngolden_fields: [x]\n"
        "comparisons: [{name: c, column: x, levels: [{type: jaro_winkler}]}]\n"
    )
    with pytest.raises(SpecError, match=r"bad.yaml: comparisons.0.levels.0.*needs 'threshold'"):
        load_spec(path)


def test_an_email_name_transform_takes_one_or_three_sources(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two\nblocking: [{name: b, keys: [f]}]\ngolden_fields: [e]\n"
        "fingerprints: {f: {source: [e, last], transform: email_first}}\n"
        "comparisons: [{name: c, column: f, levels: [{type: exact}]}]\n"
    )
    with pytest.raises(SpecError, match=r"two.yaml.*'f'.*email, surname and given-name"):
        load_spec(path)


def test_unknown_spec_lists_builtins(tmp_path):
    with pytest.raises(SpecError, match="built-in specs: leads, person"):
        load_spec(tmp_path / "nope.yaml")


def _levels(values_l, values_r, levels, column="v"):
    frame = pl.DataFrame({column: values_l + values_r}, schema={column: pl.String})
    n = len(values_l)
    comparison = Comparison(name="c", column=column, levels=levels)
    return Comparator(frame).levels(comparison, np.arange(n), np.arange(n, 2 * n)).tolist()


def test_exact_fuzzy_else_and_null_levels():
    levels = [
        Level(type="exact"),
        Level(type="jaro_winkler", threshold=0.9),
        Level(type="jaro_winkler", threshold=0.7),
    ]
    got = _levels(
        ["martha", "martha", "dwayne", "alice", None],
        ["martha", "marhta", "duane", "zed", "x"],
        levels,
    )
    assert got == [0, 1, 2, 3, NULL_LEVEL]


def test_score_cutoffs_do_not_move_a_level_at_the_float32_boundary():
    # JW('mei', 'mai') is 0.7999999999999999: float32 rounds it to 0.8, so it passes a 0.8
    # level; a cutoff of exactly 0.8 would have rapidfuzz report it as 0.
    levels = [Level(type="jaro_winkler", threshold=0.92), Level(type="jaro_winkler", threshold=0.8)]
    comparison = Comparison(name="c", column="v", levels=levels)
    frame = pl.DataFrame({"v": ["mei", "anna", "ann", "mai", "andrea", "zed"]})
    left, right = np.arange(3), np.arange(3, 6)
    plain = Comparator(frame).levels(comparison, left, right)
    cut = Comparator(frame, cutoffs=similarity_cutoffs([comparison], []))
    assert cut.cutoffs[("v", "jaro_winkler")] < 0.8
    assert cut.levels(comparison, left, right).tolist() == plain.tolist() == [1, 1, 2]


def test_distance_cutoff_keeps_every_level_of_the_column():
    levels = [Level(type="osa", max_distance=1), Level(type="levenshtein", max_distance=3)]
    comparison = Comparison(name="c", column="v", levels=levels)
    cutoffs = similarity_cutoffs([comparison], [])
    assert cutoffs == {("v", "osa"): 1, ("v", "levenshtein"): 3}
    frame = pl.DataFrame(
        {"v": ["abcd", "abcd", "abcd", "abcd", "abdc", "abxyz", "wxyz", "zzzzzzz"]}
    )
    left, right = np.arange(4), np.arange(4, 8)
    got = Comparator(frame, cutoffs=cutoffs).levels(comparison, left, right).tolist()
    assert got == Comparator(frame).levels(comparison, left, right).tolist() == [0, 1, 2, 2]


def test_distinct_with_inverse_is_numpys_unique_with_inverse():
    rng = np.random.default_rng(5)
    for values in (
        rng.integers(0, 50, 1000),  # a small range: looked up in a table
        rng.integers(0, 10**6, 1000),  # a large one: ranked
        rng.integers(-(2**40), 2**40, 300),
        np.arange(1),
        np.arange(0),
    ):
        values = values.astype(np.int64)
        unique, inverse = distinct_with_inverse(values)
        expected_unique, expected_inverse = np.unique(values, return_inverse=True)
        assert unique.tolist() == expected_unique.tolist()
        assert inverse.tolist() == expected_inverse.tolist()


def test_cross_similarity_with_a_cutoff_keeps_every_score_at_or_above_it():
    # The swapped-names exception only asks whether a score reaches its threshold: with the
    # threshold as a cutoff rapidfuzz may stop early, and lower scores read 0.
    frame = pl.DataFrame(
        {
            "first": ["murphy", "murpy", "james", "anna", None, "jon"],
            "last": ["james", "jmaes", "murphy", "smith", "x", "jonas"],
        }
    )
    comparator = Comparator(frame)
    left, right = np.array([0, 1, 2, 3, 4, 5, 0]), np.array([2, 2, 0, 5, 1, 3, 1])
    full = comparator.cross_similarity("first", "last", left, right)
    cut = comparator.cross_similarity("first", "last", left, right, cutoff=0.85)
    assert (full >= 0.85).any() and ((full > 0) & (full < 0.85)).any()
    assert np.array_equal(cut, np.where(full >= 0.85, full, 0.0))


def test_distances_from_the_pairs_own_strings_equal_those_from_an_encoding():
    # Without an encoding, a distance with a cutoff is computed on the pairs' strings,
    # skipped where the lengths (in characters, not bytes) alone say it is too far.
    rng = np.random.default_rng(3)
    words = ["jose@x.es", "josé@x.es", "joes@x.es", "jo@x.es", "ana@y.io", "anna@y.io", None]
    frame = pl.DataFrame({"v": rng.choice(np.array(words, dtype=object), 1000)})
    left, right = rng.integers(0, 1000, 2000), rng.integers(0, 1000, 2000)
    comparison = Comparison(
        name="c",
        column="v",
        levels=[Level(type="osa", max_distance=1), Level(type="levenshtein", max_distance=2)],
    )
    direct = Comparator(frame, cutoffs=similarity_cutoffs([comparison], []))
    encoded = Comparator(frame, cutoffs=direct.cutoffs)
    encoded.encoded("v")
    got = direct.levels(comparison, left, right)
    assert "v" not in direct._encoded
    assert got.tolist() == encoded.levels(comparison, left, right).tolist()
    assert set(got.tolist()) == {NULL_LEVEL, 0, 1, 2}
    # Many pairs per row (EM's random pairs over a small table): encoded, each distinct
    # combination scored once.
    many = Comparator(frame.head(100), cutoffs=direct.cutoffs)
    left, right = rng.integers(0, 100, 2000), rng.integers(0, 100, 2000)
    assert many.levels(comparison, left, right).tolist() == (
        direct.levels(comparison, left, right).tolist()
    )
    assert "v" in many._encoded and "v" not in direct._encoded


def _leads_fingerprints(names, key, golden="first_name", **extra) -> MatchSpec:
    """A spec of some of the leads spec's fingerprints (plus `extra` ones), blocking and
    comparing on `key`: for testing fingerprints as the leads spec defines them. The leads
    fingerprints they are made from come with them."""
    leads = load_spec("leads").fingerprints
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in leads and name not in wanted:
            wanted.add(name)
            fp = leads[name]
            todo += [*fp.source, *(c for c in (fp.fallback, fp.expand_initial) if c)]
    return MatchSpec.model_validate(
        {
            "name": "t",
            "fingerprints": {**{k: fp for k, fp in leads.items() if k in wanted}, **extra},
            "blocking": [{"name": "b", "keys": [key]}],
            "comparisons": [{"name": "c", "column": key, "levels": [{"type": "exact"}]}],
            "golden_fields": [golden],
        }
    )


def test_a_first_name_reduced_to_an_initial_is_spelled_out_by_the_own_address():
    # 'A. Hermann' writing from adina.hermann@: Adina, not any A. (and not Adam, her
    # colleague); an initial the address does not start with, or no name in it, stays.
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d"],
            "first_name": ["A.", "B", "Adam", "A."],
            "last_name": ["Hermann", "Hermann", "Hermann", "Hermann"],
            "email_canonical": [
                "adina.hermann@rose.de",
                "adina.hermann@rose.de",
                "adina.hermann@rose.de",
                "ahermann@rose.de",
            ],
        }
    )
    spec = _leads_fingerprints(("email_first", "first_lower", "first_initial"), "first_lower")
    out = add_fingerprints(frame, spec)
    assert out["first_lower"].to_list() == ["adina", "b", "adam", "a"]
    assert out["first_initial"].to_list() == ["a", "b", "a", "a"]


def test_an_address_written_last_first_is_read_in_the_order_the_record_names_show():
    # rogers.jacqueline@ for J. Rogers or Jeroen Verhoeven's verhoeven.jeroen@: the
    # record's names show the order (companies that write addresses surname first).
    # Where the given name is spelled otherwise (a slip: Jeron), a name and an address in
    # opposite orders say nothing about which is swapped, and first.last stays.
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d", "e", "f"],
            "first_name": ["J.", None, "Jeroen", "A.", "Jeron", "Jérôme"],
            "last_name": ["Rogers", "Verhoeven", "Verhoeven", "Hermann", "Verhoeven", "Van Dijk"],
            "email_canonical": [
                "rogers.jacqueline@x.com",
                "verhoeven.jeroen@x.com",
                "verhoeven.jeroen@x.com",
                "adina.hermann@x.com",
                "verhoeven.jeroen@x.com",
                "vandijk.jerome@x.com",
            ],
        }
    )
    spec = _leads_fingerprints(("email_first", "email_last", "first_lower"), "first_lower")
    out = add_fingerprints(frame, spec)
    assert out["first_lower"].to_list() == [
        "jacqueline", "jeroen", "jeroen", "adina", "jeron", "jerome"
    ]  # fmt: skip
    assert out["email_first"].to_list() == [
        "jacqueline", "jeroen", "jeroen", "adina", "verhoeven", "jerome"
    ]  # fmt: skip
    assert out["email_last"].to_list() == [
        "rogers", "verhoeven", "verhoeven", "hermann", "jeroen", "vandijk"
    ]  # fmt: skip


def test_an_address_is_read_against_unfolded_names_too():
    # The transform folds a source that is not folded already (a spec naming raw columns).
    frame = pl.DataFrame(
        {
            "email_canonical": ["vandijk.jerome@x.com", "vandijk.jerome@x.com"],
            "last_name": ["Van Dijk", "Van Dijk"],
            "first_name": ["Jérôme", "Jeroen"],
        }
    )
    names = _ordered_email_names(frame, ["email_canonical", "last_name", "first_name"])
    assert [s.to_list() for s in names] == [["jerome", "vandijk"], ["vandijk", "jerome"]]


def _name_order_spec() -> MatchSpec:
    return _leads_fingerprints(("first_lower", "last_lower"), "last_lower")


def test_a_surname_written_first_with_an_initial_is_read_in_order_where_the_table_says_so():
    # 'Weaver A.': Weaver is a surname in the other records, so A. Weaver. 'John S.': John
    # is a given name elsewhere, so it stays John S. 'Quorn Z.': nobody else uses Quorn,
    # nothing says which it is, and it stays as written. 'Power C.' twice does not vote
    # for its own reading: Power is a given name once elsewhere and a surname once.
    frame = pl.DataFrame(
        {
            "lead_id": [str(i) for i in range(10)],
            "first_name": ["Weaver", "Amber", "John", "John", "Quorn", "Power", "Power",
                           "Power", "Claire", "Maria"],
            "last_name": ["A.", "Weaver", "S.", "Smith", "Z", "C.", "C.", "Jones", "Power",
                          "Weaver"],
            "email_canonical": [None] * 10,
        }
    )  # fmt: skip
    out = add_fingerprints(frame, _name_order_spec())
    firsts = out["first_lower"].to_list()
    lasts = out["last_lower"].to_list()
    assert (firsts[0], lasts[0]) == ("a", "weaver")
    assert (firsts[2], lasts[2]) == ("john", "s")
    assert (firsts[4], lasts[4]) == ("quorn", "z")
    assert (firsts[5], lasts[5]) == (firsts[6], lasts[6]) == ("power", "c")
    assert firsts[1::2][:2] == ["amber", "john"]  # the others as written
    # Claire Power makes it two uses as a surname against one as a given name.
    more = pl.concat([frame, frame.tail(2).with_columns(pl.lit("x").alias("lead_id"))])
    out = add_fingerprints(more, _name_order_spec())
    assert (out["first_lower"][5], out["last_lower"][5]) == ("c", "power")


def test_a_name_written_surname_first_is_turned_round_only_where_both_words_say_so():
    # 'Weaver Amber': Weaver is a surname and Amber a given name in the other records, so
    # Amber Weaver. 'Thomas James': Thomas is nobody's surname here, so it stays. 'Lee
    # Morgan': Lee is a surname elsewhere, but Morgan is one too: nothing to turn. A pair of
    # words nobody else uses stays as written.
    frame = pl.DataFrame(
        {
            "lead_id": [str(i) for i in range(10)],
            "first_name": ["Weaver", "Amber", "Tom", "Thomas", "Thomas", "Lee", "Anna", "Ruth",
                           "Quorn", "Amber"],
            "last_name": ["Amber", "Weaver", "Weaver", "James", "Berg", "Morgan", "Lee",
                          "Morgan", "Zebedee", "Lee"],
            "email_canonical": [None] * 10,
        }
    )  # fmt: skip
    out = add_fingerprints(frame, _name_order_spec())
    names = list(zip(out["first_lower"], out["last_lower"], strict=True))
    assert names[0] == ("amber", "weaver")
    assert names[3] == ("thomas", "james")
    assert names[5] == ("lee", "morgan")
    assert names[8] == ("quorn", "zebedee")
    assert [n for i, n in enumerate(names) if i not in (0,)] == [
        (f.lower(), last.lower())
        for i, (f, last) in enumerate(zip(frame["first_name"], frame["last_name"], strict=True))
        if i != 0
    ]


def test_the_second_of_a_pair_made_by_one_computation_is_queued_last():
    # email_last waits for email_first's computation: at the head of the queue it held one
    # of the two workers idle. The name reading's pair likewise; the others keep their order.
    spec = load_spec("leads").fingerprints
    names = ["email_first", "email_last", "first_in_order", "last_in_order", "title_words"]
    assert _partners_last(names, spec) == [
        "email_first", "first_in_order", "title_words", "email_last", "last_in_order"
    ]  # fmt: skip


def test_a_batch_reads_its_names_with_the_records_resolved_before():
    # One 'Weaver A.' alone says nothing; against the stored records, where Weaver is a
    # surname, it is A. Weaver, as a full run over all of them reads it.
    spec = _name_order_spec()
    batch = pl.DataFrame(
        {"lead_id": ["n"], "first_name": ["Weaver"], "last_name": ["A."], "email_canonical": [None]}
    )
    stored = add_fingerprints(
        pl.DataFrame(
            {
                "lead_id": ["a", "b"],
                "first_name": ["Amber", "Tom"],
                "last_name": ["Weaver", "Weaver"],
                "email_canonical": [None, None],
            }
        ),
        spec,
    )
    alone = add_fingerprints(batch, spec)
    assert (alone["first_lower"][0], alone["last_lower"][0]) == ("weaver", "a")
    read = add_fingerprints(batch, spec, reference=stored)
    assert (read["first_lower"][0], read["last_lower"][0]) == ("a", "weaver")
    whole = add_fingerprints(pl.concat([stored.select(batch.columns), batch]), spec)
    assert whole.row(2, named=True)["last_lower"] == "weaver"


def test_names_in_order_take_the_given_name_and_the_surname():
    with pytest.raises(ValueError, match="takes the given-name and surname columns"):
        _leads_fingerprints((), "x", x={"source": ["first_name"], "transform": "given_in_order"})


def test_golden_names_in_order_need_the_reading_of_those_names():
    leads = load_spec("leads").model_dump()
    survivorship = leads["survivorship"]
    wrong = {**survivorship["names_in_order"], "turned": "first_in_order"}
    with pytest.raises(ValueError, match="transform 'written_surname_first'"):
        MatchSpec.model_validate(
            {**leads, "survivorship": {**survivorship, "names_in_order": wrong}}
        )
    other = {**survivorship["names_in_order"], "given": "last_name", "surname": "first_name"}
    with pytest.raises(ValueError, match="reads \\['first_name', 'last_name'\\]"):
        MatchSpec.model_validate(
            {**leads, "survivorship": {**survivorship, "names_in_order": other}}
        )


def test_golden_names_of_records_fingerprinted_before_the_reading_stay_as_written():
    # Stored records without the turned column (an older table): no reading to follow.
    spec = load_spec("leads")
    frame = pl.DataFrame(
        {
            "lead_id": ["a"],
            "first_name": ["Weaver"],
            "last_name": ["Ruth"],
            "full_name": ["Weaver Ruth"],
        }
    )
    golden = golden_records(frame, pl.DataFrame({"lead_id": ["a"], "entity_id": [0]}), spec)
    assert golden.select("first_name", "last_name", "full_name").row(0) == (
        "Weaver", "Ruth", "Weaver Ruth"
    )  # fmt: skip
    turned = golden_records(
        frame, pl.DataFrame({"lead_id": ["a"], "entity_id": [0]}), spec, pl.Series([True])
    )
    assert turned.select("first_name", "last_name", "full_name").row(0) == (
        "Ruth", "Weaver", "Ruth Weaver"
    )  # fmt: skip


def test_abbreviated_titles_streets_and_companies_take_the_leads_spec_one_form():
    # The same title, street and company as people write them; 'PM' (product or project
    # manager) stays as written, and Weiß / Weiss fold alike.
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d"],
            "job_title": ["Sr. Mktg Mgr", "Senior Marketing Manager", "VP Sales", "PM"],
            "address": [
                "391 Pine St.",
                "391 Pine Street",
                "Friedrichstr. 165",
                "Friedrich-Straße 165",
            ],
            "company_key": ["ka afinance", "kaa finance", "oa kfinance", "oak finance"],
            "last_name": ["Weiß", "Weiss", "Pine", "Pine"],
        }
    )
    spec = _leads_fingerprints(
        ("title_words", "address_lower", "company_joined"),
        "company_joined",
        golden="job_title",
        last_lower={"source": ["last_name"], "transform": "lower"},
    )
    out = add_fingerprints(frame, spec)
    assert out["title_words"].to_list() == [
        "senior marketing manager",
        "senior marketing manager",
        "vice president sales",
        "pm",
    ]
    assert out["address_lower"].to_list() == [
        "391 pine str",
        "391 pine str",
        "friedrich str 165",
        "friedrich str 165",
    ]
    assert out["company_joined"].to_list() == [
        "kaafinance",
        "kaafinance",
        "oakfinance",
        "oakfinance",
    ]
    assert out["last_lower"].to_list() == ["weiss", "weiss", "pine", "pine"]


def test_fingerprints_and_their_input_share_one_chunk_layout():
    # Added in other chunks, a column would make the next query rechunk (copy) every column.
    part = pl.DataFrame(
        {"lead_id": ["a", "b"], "first_name": ["Ann", "Bob"], "last_name": ["Lee", "Ng"]}
    )
    frame = pl.concat([part, part.with_columns(pl.col("lead_id") + "2")], rechunk=False)
    spec = MatchSpec.model_validate(
        {
            "name": "t",
            "fingerprints": {
                "first_lower": {"source": ["first_name"], "transform": "lower"},
                "last_metaphone": {"source": ["last_name"], "transform": "metaphone"},
            },
            "blocking": [{"name": "b", "keys": ["first_lower"]}],
            "comparisons": [
                {"name": "c", "column": "last_metaphone", "levels": [{"type": "exact"}]}
            ],
            "golden_fields": ["first_name"],
        }
    )
    out = add_fingerprints(frame, spec)
    lengths = {name: [c.len() for c in out[name].get_chunks()] for name in out.columns}
    assert len({tuple(v) for v in lengths.values()}) == 1, lengths
    assert out["first_lower"].to_list() == ["ann", "bob", "ann", "bob"]
    assert out["last_metaphone"].to_list() == ["L", "NK", "L", "NK"]


def test_added_columns_take_the_frames_chunk_lengths_not_only_their_number():
    # The lazy engine may cut a result where the frame has no chunk boundary (a 10k-row
    # single-chunk batch got two-chunk fingerprints); a frame whose columns are chunked
    # differently is rechunked by every query over it (incremental blocking 0.26 -> 0.7 s).
    cut = pl.concat([pl.Series("x", range(3)), pl.Series("x", range(3, 8))], rechunk=False)
    assert [c.len() for c in aligned(cut, [(0, 8)]).get_chunks()] == [8]
    realigned = aligned(cut, [(0, 5), (5, 3)])
    assert [c.len() for c in realigned.get_chunks()] == [5, 3]
    assert realigned.to_list() == list(range(8))
    assert aligned(cut, [(0, 3), (3, 5)]) is cut


def test_a_frame_in_morsels_keeps_its_rows_and_lazy_results_join_it_as_they_are():
    # From a parquet file's 125,000-row groups, each fingerprint the lazy engine returned
    # (in 100,000-row morsels) was copied once more to fit the frame's chunks.
    n = 300_000
    part = n // 12
    frame = pl.concat(
        [
            pl.DataFrame({"x": pl.int_range(o, o + part, eager=True)}).with_columns(
                s=pl.col("x").cast(pl.String)
            )
            for o in range(0, n, part)
        ],
        rechunk=False,
    )
    laid = in_morsels(frame)
    assert_frame_equal(laid, frame)
    expected = [length for _, length in morsel_layout(n)]
    assert sum(expected) == n
    assert len(expected) > 1  # polars cuts 300,000 rows into morsels, 4 on 2 threads
    assert [c.len() for c in laid["s"].get_chunks()] == expected
    assert laid.n_chunks("all") == [len(expected)] * 2
    computed = laid.lazy().select(pl.col("s").str.to_uppercase()).collect().to_series()
    assert aligned(computed, chunk_layout(laid)) is computed
    assert in_morsels(laid) is laid
    small = pl.DataFrame({"x": [1, 2]})
    assert in_morsels(small) is small
    assert in_morsels(small.clear()).height == 0


def test_pair_relations_are_kept_for_the_current_pairs_only_and_read_by_exact_levels():
    frame = pl.DataFrame({"e": ["a", "a", "b", None, "b", "c"]})
    left, right = np.array([0, 0, 2, 3, 1, 5]), np.array([1, 2, 4, 4, 4, 0])
    comparison = Comparison(name="e", column="e", levels=[Level(type="exact")])
    comparator = Comparator(frame)
    unkept = comparator.levels(comparison, left, right).tolist()
    comparator.use_pairs(left, right)
    # A small share of the pairs is worked out for those alone, and not kept.
    assert comparator.relation_at("e", left, right, np.array([3])).tolist() == [MISSING]
    assert comparator._relations == {}
    every = comparator.relation_at("e", left, right, np.arange(6))
    assert every.tolist() == [SAME, DIFFERENT, SAME, MISSING, DIFFERENT, DIFFERENT]
    assert "e" in comparator._relations
    assert comparator.relation_at("e", left, right, np.array([1, 2])).tolist() == [DIFFERENT, SAME]
    assert comparator.levels(comparison, left, right).tolist() == unkept == [0, 1, 0, -1, 1, 1]
    # Other pairs: the kept relations were of the pairs before.
    other_right = np.array([2, 1, 3, 4, 0, 5])
    comparator.use_pairs(left, other_right)
    assert comparator._relations == {}
    assert comparator.relation_at("e", left, other_right, np.arange(6)).tolist() == [
        DIFFERENT,
        SAME,
        MISSING,
        MISSING,
        SAME,
        SAME,
    ]


def test_counts_from_blocks_are_the_columns_and_combinations_own_counts():
    rows, _ = population(n_people=150)
    spec = load_spec("leads")
    work = add_fingerprints(normalized(rows), spec)
    counts = counts_from_blocks(spec, block_layouts(work, spec.blocking), work.height)
    assert {"email_canonical", "phone_e164", "mobile_e164", "first_lower+last_lower"} <= set(counts)
    counted = Comparator(work)
    for name, by_block in counts.items():
        columns = name.split("+")
        key = counted.joint_keys(columns) if len(columns) > 1 else name
        assert (counted.row_counts(key) == by_block).all(), name
    # Shared values are counted (people here have several records each; none a mobile).
    assert (counts["email_canonical"] > 1).any() and (counts["first_lower+last_lower"] > 1).any()


def test_levenshtein_and_token_set_levels():
    assert _levels(
        ["12345", "12345"], ["12354", "99999"], [Level(type="levenshtein", max_distance=2)]
    ) == [0, 1]
    assert _levels(
        ["acme widgets", "acme"], ["widgets acme", "beta"], [Level(type="token_set", threshold=0.9)]
    ) == [0, 1]


def test_osa_level_counts_a_transposition_as_one_edit():
    # 'aramirze' is one slip from 'aramirez' (Levenshtein says 2); a colleague's address at
    # the same domain is several edits away, however similar Jaro-Winkler finds the two.
    level = [Level(type="osa", max_distance=1)]
    assert _levels(
        ["aramirez@x.com", "rsharma@redwood.co.in", "tim@x.de"],
        ["aramirze@x.com", "rmishra@redwood.co.in", "tims@x.de"],
        level,
    ) == [0, 1, 0]


def test_date_transposition_and_numeric_tolerance():
    assert _levels(
        ["1980-04-09", "1980-04-09"], ["1980-09-04", "1980-04-10"], [Level(type="date_transposed")]
    ) == [0, 1]
    assert _levels(
        ["10.0", "10"], ["10.4", "12"], [Level(type="numeric_within", tolerance=0.5)]
    ) == [0, 1]


def test_level_can_compare_another_column():
    frame = pl.DataFrame({"first": ["bob", "robert"], "key": ["robert", "robert"]})
    comparison = Comparison(
        name="first",
        column="first",
        levels=[Level(type="exact"), Level(type="exact", column="key", label="nickname")],
    )
    assert Comparator(frame).levels(comparison, np.array([0]), np.array([1])).tolist() == [1]
    assert comparison.labels == ["exact", "nickname", "else"]


def test_blocking_unions_rules_and_deduplicates_pairs():
    frame = pl.DataFrame({"a": ["x", "x", "y", None], "b": ["p", "p", "p", "p"]})
    rules = [BlockingRule(name="a", keys=["a"]), BlockingRule(name="b", keys=["b"])]
    pairs, report = candidate_pairs(frame, rules)
    assert pairs.select("l", "r").rows() == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert pairs.filter((pl.col("l") == 0) & (pl.col("r") == 1))["rule"].item() == 0
    assert report.total_pairs == 6


def test_huge_block_is_capped_to_a_sorted_neighbourhood():
    n = 1000  # a switchboard number shared by a thousand records
    frame = pl.DataFrame({"phone": ["+15550100"] * n, "name": [f"n{i:04d}" for i in range(n)]})
    rule = BlockingRule(name="phone", keys=["phone"], max_block_size=50, window=3, sort_by=["name"])
    pairs, report = candidate_pairs(frame, [rule])
    assert report.capped_blocks == {"phone": 1}
    assert report.largest_block == {"phone": n}
    assert pairs.height == 3 * n - 6  # each record with its 3 nearest neighbours, not n^2 / 2
    assert pairs.filter((pl.col("r") - pl.col("l")) > 3).is_empty()


def test_blocks_from_a_sort_pair_exactly_the_rows_sharing_a_key():
    # Every pair within blocks up to the cap, none across blocks or with a missing key; a
    # larger block gives its sorted neighbourhood only: checked against brute force.
    rng = np.random.default_rng(5)
    keys = rng.choice(
        np.array(["a", "b", "c", "d", "e", None], dtype=object),
        300,
        p=[0.02, 0.03, 0.05, 0.2, 0.4, 0.3],
    )
    frame = pl.DataFrame(
        {"k": keys.tolist(), "s": rng.permutation(300).astype(str).tolist()},
        schema={"k": pl.String, "s": pl.String},
    )
    rule = BlockingRule(name="k", keys=["k"], max_block_size=20, window=2, sort_by=["s"])
    pairs, report = candidate_pairs(frame, [rule])
    found = set(pairs.select("l", "r").rows())
    members = {k: [i for i in range(300) if keys[i] == k] for k in "abcde"}
    small = {(i, j) for k in "abc" for i in members[k] for j in members[k] if i < j}
    assert small <= found
    for k in "de":  # capped: each member with its two nearest by `s`
        ranked = sorted(members[k], key=lambda i: frame["s"][i])
        near = {
            tuple(sorted((a, b))) for n in (1, 2) for a, b in zip(ranked, ranked[n:], strict=False)
        }
        assert {p for p in found if keys[p[0]] == k} == near
    assert all(keys[i] is not None and keys[i] == keys[j] for i, j in found)
    assert report.capped_blocks == {"k": 2}
    assert report.largest_block == {"k": len(members["e"])}
    assert report.pairs_per_rule == {"k": len(found)}


def test_em_trains_on_pairs_in_blocks_up_to_its_size_limit():
    frame = pl.DataFrame({"k": ["a", "a", "b", "b", "b", None, "c"]})
    layout = block_layouts(frame, [BlockingRule(name="k", keys=["k"])])[0]
    assert sorted(layout.sizes.tolist()) == [1, 2, 3]
    numbers = layout.blocks_up_to(frame.height, max_size=2)
    assert numbers[0] == numbers[1] != 0  # block 'a' (two rows)
    assert numbers[2:6].tolist() == [0, 0, 0, 0]  # 'b' is too large; no key
    assert numbers[6] not in (0, numbers[0])


def test_incremental_blocking_only_pairs_new_records():
    frame = pl.DataFrame({"k": ["a", "a", "a", "a"]})
    pairs, _ = candidate_pairs(
        frame, [BlockingRule(name="k", keys=["k"])], pl.Series([3], dtype=pl.UInt32)
    )
    assert sorted(pairs.select("l", "r").rows()) == [(0, 3), (1, 3), (2, 3)]


def test_blocks_on_two_keys_tell_their_order_and_incremental_pairs_match_a_full_run():
    # Keys hashed each on its own and combined: (x, y) and (y, x) are different blocks, a
    # missing key is no block, and the pairs with new rows are the full run's pairs with them.
    rng = np.random.default_rng(11)
    words = np.array(["ann", "bob", "cy", None], dtype=object)
    a = rng.choice(words, 400, p=[0.3, 0.3, 0.3, 0.1]).tolist()
    b = rng.choice(words, 400, p=[0.3, 0.3, 0.3, 0.1]).tolist()
    frame = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.String, "b": pl.String})
    rule = BlockingRule(name="ab", keys=["a", "b"], max_block_size=1000)
    pairs, _ = candidate_pairs(frame, [rule])
    found = set(pairs.select("l", "r").rows())
    truth = {
        (i, j)
        for i in range(400)
        for j in range(i + 1, 400)
        if a[i] is not None and b[i] is not None and (a[i], b[i]) == (a[j], b[j])
    }
    assert found == truth
    new = pl.Series(np.arange(350, 400), dtype=pl.UInt32)
    incremental, _ = candidate_pairs(frame, [rule], new)
    assert set(incremental.select("l", "r").rows()) == {p for p in truth if p[1] >= 350}


def test_term_frequencies_for_a_batch_are_the_whole_tables():
    # A batch looks its values' frequencies up over the whole table (counted by hash): the
    # same as the whole table's frequencies of those values.
    spec = load_spec("leads")
    columns = [comp.column for comp in spec.comparisons if comp.tf_adjustment]
    rng = np.random.default_rng(2)
    values = np.array(["alpha", "beta", "gamma", "delta", "Ünï", None], dtype=object)
    frame = pl.DataFrame(
        {c: rng.choice(values, 600, p=[0.4, 0.2, 0.1, 0.1, 0.1, 0.1]).tolist() for c in columns},
        schema={c: pl.String for c in columns},
    )
    batch = frame.tail(5)
    whole = tf_tables(frame, spec)
    looked_up = tf_tables(frame, spec, only=batch)
    assert set(looked_up) == set(whole) and looked_up
    for name, table in looked_up.items():
        column = next(c.column for c in spec.comparisons if c.name == name)
        expected = whole[name].filter(pl.col("value").is_in(batch[column].implode()))
        assert_frame_equal(table.sort("value"), expected.sort("value"), check_row_order=False)


def test_em_recovers_known_m_and_u_from_simulated_pairs():
    rng = np.random.default_rng(3)
    m_true = [np.array([0.85, 0.1, 0.05]), np.array([0.9, 0.1]), np.array([0.7, 0.2, 0.1])]
    u_true = [np.array([0.02, 0.08, 0.9]), np.array([0.05, 0.95]), np.array([0.05, 0.15, 0.8])]
    prior, n = 0.2, 200_000
    is_match = rng.random(n) < prior
    gamma = np.column_stack(
        [
            np.where(is_match, rng.choice(3, n, p=m_true[0]), rng.choice(3, n, p=u_true[0])),
            np.where(is_match, rng.choice(2, n, p=m_true[1]), rng.choice(2, n, p=u_true[1])),
            np.where(is_match, rng.choice(3, n, p=m_true[2]), rng.choice(3, n, p=u_true[2])),
        ]
    ).astype(np.int8)
    gamma[rng.random(n) < 0.1, 2] = NULL_LEVEL  # missing values are skipped, not a level
    m, u, est_prior, _, converged = fit_em(gamma, [3, 2, 3], max_iterations=500)
    assert converged
    assert est_prior == pytest.approx(prior, abs=0.01)
    for k in range(3):
        np.testing.assert_allclose(m[k], m_true[k], atol=0.02)
        np.testing.assert_allclose(u[k], u_true[k], atol=0.02)


def _golden_spec(**survivorship) -> MatchSpec:
    return MatchSpec(
        name="t",
        id_column="id",
        blocking=[BlockingRule(name="b", keys=["email"])],
        comparisons=[Comparison(name="e", column="email", levels=[Level(type="exact")])],
        survivorship={"recency_column": "created_at", **survivorship},
        golden_fields=["email", "title", "name", "source"],
    )


def _email_and_phone_spec(block_on: str) -> MatchSpec:
    """A spec of two exact comparisons, email and phone, blocking on one of them."""
    return MatchSpec.model_validate(
        {
            "name": "t",
            "blocking": [{"name": "b", "keys": [block_on]}],
            "comparisons": [
                {"name": "email", "column": "email", "levels": [{"type": "exact"}]},
                {"name": "phone", "column": "phone", "levels": [{"type": "exact"}]},
            ],
            "golden_fields": ["email"],
        }
    )


def test_chance_agreement_leaves_out_a_persons_own_duplicates():
    # Ann's address on three records (her matches, p = 1) and a switchboard number that
    # four colleagues share (no matches, p = 0): counted over records both look as common;
    # without the matches Ann's address is shared by chance with nobody.
    frame = pl.DataFrame(
        {
            "email": ["ann@x.com"] * 3 + [f"p{i}@y.com" for i in range(4)] + [None],
            "phone": [None, None, None, "+1555", "+1555", "+1555", "+1555", "+1666"],
        }
    )
    spec = _email_and_phone_spec(block_on="email")
    left, right = np.array([0, 0, 1, 3, 3, 4]), np.array([1, 2, 2, 4, 5, 6])
    comparator = Comparator(frame)
    gamma = comparator.gamma(spec.comparisons, left, right)
    prob = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    u = [np.array([0.2, 0.8]), np.array([0.2, 0.8])]
    corrected, frequencies = chance_agreement_without_matches(
        comparator, spec, u, gamma, left, right, prob
    )
    raw_email = comparator.row_frequencies("email")
    assert frequencies["email"][0] < raw_email[0] / 10  # a floor, not 3 of 7
    assert frequencies["email"][3] == pytest.approx(MIN_CHANCE_HOLDERS / 6)
    assert frequencies["phone"][3] == pytest.approx(3 / 4)  # the colleagues: all by chance
    assert frequencies["phone"][0] == 0.0  # no number
    assert corrected[0][0] < u[0][0] and corrected[0].sum() == pytest.approx(1.0)
    # Four of five share it (and the fifth its floor).
    assert corrected[1][0] == pytest.approx((4 * 3 + MIN_CHANCE_HOLDERS) / (5 * 4))


def test_gamma_and_pair_weights_are_column_major_and_equal_to_a_row_gather():
    # Everything after the comparison reads a comparison at a time; a row-major matrix made
    # each of those reads stride over the whole of it.
    frame = pl.DataFrame(
        {"email": ["a@x.com", "a@x.com", "b@x.com", None], "phone": ["+1", "+2", "+1", "+1"]}
    )
    spec = _email_and_phone_spec(block_on="phone")
    left, right = np.array([0, 0, 2, 1]), np.array([1, 2, 3, 3])
    gamma = Comparator(frame).gamma(spec.comparisons, left, right)
    assert gamma.flags.f_contiguous and gamma.dtype == np.int8
    assert gamma.tolist() == [[0, 1], [1, 0], [-1, 0], [-1, 1]]
    model = FSModel(
        comparisons=["email", "phone"],
        m=[np.array([0.9, 0.1]), np.array([0.8, 0.2])],
        u=[np.array([0.01, 0.99]), np.array([0.05, 0.95])],
        prior=0.1,
    )
    distinct, pattern_of_pair, _ = patterns(gamma)
    weights = pair_weights(distinct, model, pattern_of_pair)
    assert weights.flags.f_contiguous
    np.testing.assert_array_equal(weights, match_weights(distinct, model)[pattern_of_pair])
    np.testing.assert_array_equal(weights, match_weights(gamma, model))
    some = rows_of(gamma, np.array([3, 0]))
    assert some.flags.f_contiguous and some.tolist() == gamma[[3, 0]].tolist()


def test_patterns_are_the_distinct_rows_in_order_with_their_counts():
    # Each comparison's digit is as wide as its own levels (two levels here, six there).
    rng = np.random.default_rng(3)
    gamma = np.asfortranarray(
        np.column_stack([rng.integers(-1, 2, 5000), rng.integers(-1, 6, 5000)]).astype(np.int8)
    )
    distinct, inverse, counts = patterns(gamma)
    expected, expected_inverse, expected_counts = np.unique(
        gamma, axis=0, return_inverse=True, return_counts=True
    )
    assert distinct.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()
    assert counts.tolist() == expected_counts.tolist()


def test_pairs_table_rounds_each_weight_and_totals_the_weights_as_scored():
    from pipeline.dedupe.scoring import pairs_frame

    spec = load_spec("leads")
    k = len(spec.comparisons)
    gamma = np.zeros((2, k), dtype=np.int8, order="F")
    weights = np.full((2, k), 0.12345, dtype=np.float32, order="F")
    table = pairs_frame(
        pl.Series("lead_id", ["a", "b", "c"]),
        spec,
        np.array([0, 1]),
        np.array([1, 2]),
        gamma,
        weights,
        np.array([0.5, 0.9]),
        np.array([True, False]),
        np.array([0, 1], dtype=np.uint8),
    )
    assert table["lead_id_l"].to_list() == ["a", "b"]
    assert table["vetoed"].to_list() == [True, False]
    assert table["email_weight"].to_list() == pytest.approx([0.123, 0.123])
    assert table["match_weight"].to_list() == pytest.approx([0.12345 * k] * 2, rel=1e-6)
    assert table["blocking_rule"].to_list() == [spec.blocking[0].name, spec.blocking[1].name]


def test_an_identifier_rarer_than_one_in_a_million_keeps_its_weight():
    # At 1M rows the prior is ~2e-6 and a personal address's u ~1e-8: u read at 1e-6 capped
    # 'same email' at 19.7 bits, so a shared address alone scored 0.6 there.
    model = FSModel(
        comparisons=["email"], m=[np.array([0.8, 0.2])], u=[np.array([1e-8, 1.0])], prior=2e-6
    )
    assert model.weights()[0][0] == pytest.approx(np.log2(0.8 / 1e-8))
    assert probability(model.weights()[0][:1], model.prior)[0] > 0.95


def test_survivorship_rules_pick_values_and_remember_their_source():
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "email": ["old@x.com", "new@x.com", None],
            "title": ["CEO", "Chief Executive", "CEO"],
            "name": ["Bob Li", "Robert Li", None],
            "source": ["webform.csv", "hubspot_export.csv", "tradeshow.csv"],
            "created_at": [datetime(2024, 1, 1), datetime(2025, 1, 1), datetime(2026, 1, 1)],
        }
    )
    entities = pl.DataFrame({"id": ["a", "b", "c"], "entity_id": ["E1"] * 3})
    spec = _golden_spec(
        source_column="source",
        source_priority=["hubspot"],
        fields={
            "email": "most_recent",
            "title": "most_frequent",
            "name": "longest",
            "source": "source_priority",
        },
    )
    golden = golden_records(frame, entities, spec).row(0, named=True)
    assert (golden["email"], golden["email__source"]) == ("new@x.com", "b")  # c has no email
    assert (golden["title"], golden["title__source"]) == ("CEO", "c")  # 2 of 3; most recent
    assert (golden["name"], golden["name__source"]) == ("Robert Li", "b")
    assert (golden["source"], golden["source__source"]) == ("hubspot_export.csv", "b")
    assert golden["record_count"] == 3 and golden["member_ids"] == ["a", "b", "c"]


def test_most_recent_survivor_is_a_dated_record_not_one_without_a_date():
    # A record with no created_at used to sort first (polars puts nulls first) and so won
    # every most-recent field.
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "email": ["undated@x.com", "new@x.com", "old@x.com"],
            "title": ["x", "y", "z"],
            "name": ["A", "B", "C"],
            "source": ["s.csv"] * 3,
            "created_at": [None, datetime(2025, 1, 1), datetime(2024, 1, 1)],
        }
    )
    entities = pl.DataFrame({"id": ["a", "b", "c"], "entity_id": ["E1"] * 3})
    golden = golden_records(frame, entities, _golden_spec(fields={"email": "most_recent"}))
    assert golden.row(0, named=True)["email__source"] == "b"


def test_golden_records_keep_singletons_and_merged_entities_apart_and_complete():
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "email": ["a@x.com", None, "c@x.com", "d@x.com", "e@x.com"],
            "title": ["t1", "t2", "t3", "t3", None],
            "name": ["Al", "Bo", "Cy", "Di", "Ed"],
            "source": ["s.csv"] * 5,
            "created_at": [datetime(2024, 1, d) for d in range(1, 6)],
        }
    )
    # Labels as dedupe() passes them: integers in the frame's row order.
    entities = pl.DataFrame({"id": frame["id"], "entity_id": [7, 3, 7, 9, 9]})
    golden = golden_records(frame, entities, _golden_spec())
    rows = {r["entity_id"]: r for r in golden.iter_rows(named=True)}
    assert golden["entity_id"].to_list() == [3, 7, 9]  # singleton first, then by id
    assert rows[3]["member_ids"] == ["b"] and rows[3]["email__source"] is None
    assert rows[7]["member_ids"] == ["a", "c"] and rows[7]["record_count"] == 2
    assert rows[9]["title"] == "t3" and rows[9]["title__source"] == "d"  # e has no title
    assert rows[9]["email__source"] == "e"  # default most_frequent: a tie, the most recent


def test_golden_records_from_a_lazy_source_equal_those_from_memory(tmp_path):
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "email": ["a@x.com", None, "c@x.com", "d@x.com", "e@x.com"],
            "title": ["t1", "t2", "t3", "t3", None],
            "name": ["Al", "Bo", "Cy", "Di", "Ed"],
            "source": ["s.csv", "hubspot.csv", "s.csv", "s.csv", "s.csv"],
            "created_at": [datetime(2024, 1, d) for d in range(1, 6)],
        }
    )
    frame.write_parquet(tmp_path / "leads.parquet")
    lazy = pl.scan_parquet(tmp_path / "leads.parquet")
    spec = _golden_spec(source_column="source", fields={"name": "longest"})
    aligned = pl.DataFrame({"id": frame["id"], "entity_id": [7, 3, 7, 9, 9]})
    assert_frame_equal(golden_records(lazy, aligned, spec), golden_records(frame, aligned, spec))
    # Entities in another order than the source's rows: joined, with the same result.
    shuffled = aligned.reverse()
    assert_frame_equal(golden_records(lazy, shuffled, spec), golden_records(frame, shuffled, spec))


def test_compared_columns_are_what_matching_reads_after_blocking():
    spec = load_spec("leads")
    compared, matching = spec.compared_columns(), spec.matching_columns()
    assert compared < matching
    assert "first_initial" in matching - compared  # a blocking key only
    assert {"email_canonical", "person_tokens", "is_role_email"} <= compared
    assert matching - set(spec.fingerprints) <= spec.input_columns()


def test_fuzzy_columns_are_the_ones_the_comparator_encodes():
    spec = load_spec("leads")
    flags = {"is_role_email", "is_free_email"}
    columns = {c: ["x", "y"] for c in spec.input_columns() - flags}
    frame = add_fingerprints(pl.DataFrame({**columns, **{c: [False, False] for c in flags}}), spec)
    comparator = Comparator(frame, cutoffs=similarity_cutoffs(spec.comparisons, spec.vetoes))
    left, right = np.array([0]), np.array([1])
    for comparison in spec.comparisons:
        comparator.levels(comparison, left, right)
    vetoed_pairs(comparator, spec, left, right)
    # Edit distances (the email level) come from the pairs' strings, never an encoding.
    assert set(comparator._encoded) == set(spec.fuzzy_columns())
    assert "email_canonical" not in spec.fuzzy_columns()
    assert "name_tokens" in spec.fuzzy_columns()  # the name vetoes' swapped-names exception


def test_entity_ids_are_stable_and_merges_and_splits_are_recorded():
    ids = pl.Series("id", ["a", "b", "c", "d"])
    first, events = assign_entity_ids(ids, np.array([0, 0, 1, 2]))
    assert events.is_empty()
    before = dict(first.iter_rows())
    # Same clusters, different labels: same ids.
    again, _ = assign_entity_ids(ids, np.array([5, 5, 7, 9]), first)
    assert dict(again.iter_rows()) == before
    # c and d now one entity: a merge, the survivor keeps its id.
    merged, events = assign_entity_ids(ids, np.array([0, 0, 1, 1]), first)
    assert merged.filter(pl.col("id") == "d")["entity_id"].item() in (before["c"], before["d"])
    assert events.filter(pl.col("event") == "merge").height == 1
    # a and b split: the part holding the id keeps it, the other gets a new one.
    split, events = assign_entity_ids(ids, np.array([0, 3, 1, 2]), first)
    assert {split["entity_id"][0], split["entity_id"][1]} >= {before["a"]}
    assert split["entity_id"][0] != split["entity_id"][1]
    assert events.filter(pl.col("event") == "split")["other_entity_id"].to_list() == [before["a"]]


def test_entity_ids_are_the_same_whether_clustering_labels_are_dense_or_not():
    ids = pl.Series("id", ["a", "b", "c", "d", "e"])
    dense, _ = assign_entity_ids(ids, np.array([1, 0, 1, 2, 0]))  # gathered
    sparse, _ = assign_entity_ids(ids, np.array([70, 3, 70, 9, 3]))  # joined
    assert_frame_equal(dense, sparse)
    assert dense["id"].to_list() == ids.to_list()
    assert dense["entity_id"].to_list() == [
        new_entity_id("a"),
        new_entity_id("b"),
        new_entity_id("a"),
        new_entity_id("d"),
        new_entity_id("b"),
    ]
    assert all_distinct(pl.Series(["a", "b", None]))
    assert not all_distinct(pl.Series(["a", "b", "a"]))


def test_previous_entity_ids_are_read_the_same_by_position_or_by_id():
    ids = pl.Series("id", ["a", "b", "c", "d", "e", "f"])
    first, _ = assign_entity_ids(ids.head(5), np.array([0, 0, 1, 2, 3]))
    # f is new; a and b split, c and d merge.
    labels = np.array([0, 4, 1, 1, 3, 5])
    grown, grown_events = assign_entity_ids(ids, labels, first)  # previous = the first rows
    shuffled = first.sample(fraction=1.0, shuffle=True, seed=3)
    assert not shuffled["id"].equals(first["id"])
    joined, joined_events = assign_entity_ids(ids, labels, shuffled)
    assert_frame_equal(grown, joined)
    columns = ["event", "entity_id", "other_entity_id", "records"]
    assert_frame_equal(grown_events.select(columns), joined_events.select(columns))
    assert sorted(grown_events["event"]) == ["merge", "split"]
    # A record gone since (e) is left out of the previous mapping by the join too.
    fewer = ids.filter(ids != "e")
    without_e, _ = assign_entity_ids(fewer, np.array([0, 4, 1, 1, 5]), first)
    assert dict(without_e.iter_rows())["a"] == dict(first.iter_rows())["a"]
    # Nothing previous: an empty mapping is no mapping.
    empty = pl.DataFrame(schema={"id": pl.String, "entity_id": pl.String})
    assert_frame_equal(assign_entity_ids(ids, labels, empty)[0], assign_entity_ids(ids, labels)[0])


def test_a_split_part_seeded_by_the_record_that_named_the_old_entity_gets_a_salted_id():
    ids = pl.Series("id", ["a", "b", "c"])
    first, _ = assign_entity_ids(ids, np.array([0, 0, 0]))
    named_by_a = new_entity_id("a")
    assert set(first["entity_id"]) == {named_by_a}
    # a leaves; b and c (the larger part) keep the id, and a's new id, seeded by "a" again,
    # must not repeat it.
    split, _ = assign_entity_ids(ids, np.array([1, 0, 0]), first)
    by_id = dict(split.iter_rows())
    assert by_id["b"] == by_id["c"] == named_by_a
    assert by_id["a"] == new_entity_id("a#1")


def test_nickname_groups_meet_across_languages_and_chains():
    from pipeline.dedupe.nicknames import nickname_lookup

    lookup = nickname_lookup()
    assert lookup["kees"] == lookup["cornelis"]
    assert lookup["lola"] == lookup["dolores"]
    assert lookup["nikki"] == lookup["nicole"]
    # 'elisabeth' is a group's formal name and a variant of 'elizabeth': one key for all.
    assert lookup["elise"] == lookup["elisabeth"] == lookup["liz"] == "elizabeth"
    assert all(lookup[formal] == formal for formal in set(lookup.values()))


def test_crossed_level_finds_a_mobile_given_as_the_phone_in_either_direction():
    # Pairs (0, 1): A's phone is B's mobile; (2, 3): the other way round; (4, 5): the two
    # mobiles agree already (the mobile comparison's, not counted twice); (6, 7): phones
    # differ and no number crosses; (8, 9): B has no phone (missing, as for any level).
    frame = pl.DataFrame(
        {
            "phone": ["+3120", "+3199", "+3150", "+3161", "+3162", "+3130", "+3140", "+3141",
                      "+3163", None],
            "mobile": ["+3161", "+3120", "+3161", None, "+3162", "+3162", None, "+3164",
                       None, "+3163"],
        }
    )  # fmt: skip
    comparison = Comparison(
        name="phone",
        column="phone",
        levels=[Level(type="exact"), Level(type="crossed", column="mobile")],
    )
    left, right = np.array([0, 2, 4, 6, 8]), np.array([1, 3, 5, 7, 9])
    encoded = Comparator(frame)
    encoded.encoded("mobile")  # codes, as a fuzzy level would make them: not comparable across
    for comparator in (Comparator(frame), _hashes_only(frame), encoded):
        assert comparator.levels(comparison, left, right).tolist() == [1, 1, 2, 2, NULL_LEVEL]


def _hashes_only(frame: pl.DataFrame) -> Comparator:
    """As a full run hands equality-only columns over: their hashes, the strings dropped."""
    rows = frame.with_row_index("_").select("_")
    return Comparator(rows, _hashed=hashed_columns(frame, frame.columns))


def test_crossed_level_needs_the_column_to_look_in():
    with pytest.raises(ValueError, match="'crossed' needs 'column'"):
        Level(type="crossed")


def test_swapped_level_matches_first_and_last_crosswise_despite_a_slip():
    # record 0 vs 1 swapped: first 'murpy' / last 'james' against first 'james' / last 'murphy'
    frame = pl.DataFrame(
        {"last": ["murphy", "james", "murphy"], "first": ["james", "murpy", "sean"]}
    )
    comparison = Comparison(
        name="last",
        column="last",
        levels=[Level(type="exact"), Level(type="swapped", column="first", threshold=0.85)],
    )
    got = Comparator(frame).levels(comparison, np.array([0, 0]), np.array([1, 2]))
    assert got.tolist() == [1, 0]


def test_swapped_level_needs_the_other_column():
    with pytest.raises(ValueError, match="needs 'column'"):
        Level(type="swapped", threshold=0.85)


def test_folding_repairs_mis_decoded_accents():
    from pipeline.dedupe.fingerprints import _folded

    names = pl.Series(["JimÃ©nez", "KÃ¶hler", "Jiménez", "Müller"])
    assert pl.select(_folded(pl.lit(names))).to_series().to_list() == [
        "jimenez",
        "kohler",
        "jimenez",
        "muller",
    ]


def test_value_frequencies_agree_whether_a_column_is_hashed_or_encoded():
    frame = pl.DataFrame({"phone": ["+1555", None, "+1555", "+1666", "+1555", None]})
    hashed = Comparator(frame)
    encoded = Comparator(frame)
    encoded.encoded("phone")  # what a fuzzy level or veto on the column would do
    for comparator in (hashed, encoded):
        np.testing.assert_allclose(
            comparator.row_frequencies("phone"), [0.75, 0.0, 0.75, 0.25, 0.75, 0.0]
        )
        assert comparator.row_counts("phone").tolist() == [3, 0, 3, 1, 3, 0]
        # Two random phones agree with chance (3 * 2 + 1 * 0) / (4 * 3).
        assert comparator.agreement_chance("phone") == pytest.approx(0.5)
    assert "phone" not in hashed._encoded  # exact-only columns are never encoded


def test_hashes_made_for_several_columns_at_once_are_the_comparators_own():
    frame = pl.DataFrame({"phone": ["+1555", None, "+1555"], "domain": ["a.com", "b.com", None]})
    together = hashed_columns(frame, ["phone", "domain"])
    for column in ("phone", "domain"):
        for mine, its in zip(together[column], hashed_keys(frame[column]), strict=True):
            np.testing.assert_array_equal(mine, its)


def test_equality_columns_are_never_compared_by_similarity():
    spec = load_spec("leads")
    equal = spec.equality_columns()
    assert {"phone_e164", "email_base", "org_key", "phone_extension"} <= equal
    # Fuzzy levels, similarity vetoes, swapped names, cannot-link and flags need the strings.
    assert not {"email_canonical", "company_key", "first_key", "person_tokens"} & equal
    assert not {"is_role_email", "is_free_email", "lead_id"} & equal
    assert equal <= spec.compared_columns()


def test_golden_entity_codes_keep_dense_labels_and_rank_anything_else():
    assert _dense_codes(pl.Series([2, 0, 1, 0])).tolist() == [2, 0, 1, 0]
    assert _dense_codes(pl.Series([7, 3, 7, 9])).tolist() == [1, 0, 1, 2]  # a gap: ranked
    assert _dense_codes(pl.Series(["E2", "E1", "E2"])).tolist() == [1, 0, 1]


def test_vectorized_entity_ids_are_the_same_sha1_ids_as_one_at_a_time():
    # Ids already stored must keep matching what a new run derives from the same seed.
    seeds = ["lead-1", "L000042", "Jiménez-7", "名前", ""]
    expected = [new_entity_id(s) for s in seeds]
    assert new_entity_ids(pl.Series(seeds)).to_list() == expected
    many = pl.Series(seeds * (entities.VECTORIZED_IDS_FROM // len(seeds) + 1))  # in DuckDB
    assert new_entity_ids(many).head(len(seeds)).to_list() == expected


def test_a_lead_read_twice_counts_once_with_its_latest_row_and_unique_ids_are_not_copied():
    frame = pl.DataFrame({"lead_id": ["a", "b", "a"], "email": ["old@x", "b@x", "new@x"]})
    assert latest_per_id(frame, "lead_id").rows() == [("b", "b@x"), ("a", "new@x")]
    distinct = frame.head(2)
    assert latest_per_id(distinct, "lead_id") is distinct


@pytest.mark.parametrize(
    ("short", "formal"),
    [
        ("pat", "patrick"),
        ("pat", "patricia"),
        ("chris", "christopher"),
        ("chris", "christine"),
        ("sam", "samuel"),
        ("sam", "samantha"),
        ("al", "albert"),
        ("al", "alexander"),
        ("jon", "jonathan"),
        ("jon", "john"),
        ("fritz", "friedrich"),
        ("fritz", "frederick"),
        ("kees", "cornelis"),  # a project group the package lacks
        ("lola", "dolores"),
    ],
)
def test_a_nickname_links_to_every_name_it_is_short_for(short, formal):
    from pipeline.dedupe.nicknames import linked

    assert linked(pl.Series([short]), pl.Series([formal]))[0]
    assert linked(pl.Series([formal]), pl.Series([short]))[0]  # either order


def test_two_formal_names_sharing_a_nickname_are_not_linked_to_each_other():
    from pipeline.dedupe.nicknames import linked

    left = pl.Series(["patrick", "christopher", "samuel", "albert", "pat", None])
    right = pl.Series(["patricia", "christine", "samantha", "alexander", "pat", "pat"])
    # Not linked: different names, the same name (that is the exact level), a missing one.
    assert not linked(left, right).any()


def test_nickname_level_and_veto_exception_use_the_many_to_many_groups():
    frame = pl.DataFrame({"first": ["pat", "patricia", "patrick", "christine", "chris"]})
    comparison = Comparison(
        name="first", column="first", levels=[Level(type="exact"), Level(type="nickname")]
    )
    left, right = np.array([0, 0, 1, 3]), np.array([1, 2, 2, 4])
    levels = Comparator(frame).levels(comparison, left, right)
    # pat~patricia, pat~patrick: nickname; patricia~patrick: else; christine~chris: nickname.
    assert levels.tolist() == [1, 1, 2, 1]
    veto = Veto(column="first", below=0.6, unless_nickname="first")
    spec = load_spec("leads").model_copy(update={"vetoes": [veto]})
    fritz = pl.DataFrame({"first": ["fritz", "friedrich", "fritz", "gustav"]})
    vetoed = vetoed_pairs(Comparator(fritz), spec, np.array([0, 2]), np.array([1, 3]))
    assert vetoed.tolist() == [False, True]


def test_nicknames_per_pair_read_the_first_word_and_pass_over_missing_and_unknown_names():
    frame = pl.DataFrame({"first": ["bob ray", "robert", None, "zebulonx", "zebulony", "bob"]})
    left, right = np.array([0, 1, 2, 3, 5, 0]), np.array([1, 2, 1, 4, 0, 5])
    # bob ray~robert (its first word); a missing name; two names no group holds; bob~bob ray
    # (the same first word: no nickname, that is the exact level's).
    assert Comparator(frame).nicknames("first", left, right).tolist() == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_initial_level_holds_where_one_first_name_is_the_others_initial():
    frame = pl.DataFrame({"first": ["a", "alain", "b", "alain", "al"]})
    comparison = Comparison(
        name="first", column="first", levels=[Level(type="exact"), Level(type="initial")]
    )
    left, right = np.array([0, 2, 1, 0]), np.array([1, 1, 3, 4])
    # a~alain: initial; b~alain: else; alain~alain: exact; a~al: initial.
    assert Comparator(frame).levels(comparison, left, right).tolist() == [1, 2, 0, 1]


def test_cannot_link_and_the_alias_veto_forgive_an_initial():
    from pipeline.dedupe.cluster import CannotLinkChecker

    frame = pl.DataFrame(
        {
            "email": ["arocher@x.fr", "alfred.r@gmail.com", "alice@y.fr"],
            "first": ["a", "alfred", "alice"],
            "last": ["rocher", "rocher", "rocher"],
            "tokens": ["a rocher", "alfred rocher", "alice rocher"],
            "domain": ["x.fr", "x.fr", "x.fr"],
        }
    )
    rule = CannotLink(column="email", unless_similar="tokens", unless_initial_of=["first", "last"])
    checker = CannotLinkChecker(frame, [rule])
    assert not checker.conflict([0], [1])  # 'A. Rocher' may be Alfred Rocher
    assert checker.conflict([1], [2])  # Alfred and Alice Rocher are two people
    labels = np.array([0, 0, 0])
    flagged = checker.with_conflicts(labels, np.array([True]))
    assert flagged.tolist() == [True]  # 1 and 2 still conflict
    veto = Veto(column="email", type="differs", same="domain", unless_initial_of=["first", "last"])
    spec = load_spec("leads").model_copy(update={"vetoes": [veto]})
    vetoed = vetoed_pairs(Comparator(frame), spec, np.array([0, 1]), np.array([1, 2]))
    assert vetoed.tolist() == [False, True]


def test_a_capped_block_with_window_zero_yields_no_pair():
    frame = pl.DataFrame({"k": ["a"] * 5 + ["b"] * 2})
    rule = BlockingRule(name="rare", keys=["k"], max_block_size=3, window=0)
    pairs, report = candidate_pairs(frame, [rule])
    assert pairs.select("l", "r").rows() == [(5, 6)]
    assert report.capped_blocks == {"rare": 1}


def _full_name_spec(**joint: object) -> MatchSpec:
    return MatchSpec.model_validate(
        {
            "name": "t",
            "blocking": [{"name": "b", "keys": ["first", "last"]}],
            "comparisons": [
                {
                    "name": "first",
                    "column": "first",
                    "levels": [{"type": "exact"}],
                    "tf_adjustment": True,
                },
                {
                    "name": "last",
                    "column": "last",
                    "levels": [{"type": "exact"}],
                    "tf_adjustment": True,
                },
            ],
            "joint_frequencies": [
                {"name": "full_name", "comparisons": ["first", "last"], "max_holders": 5, **joint}
            ],
            "golden_fields": ["first"],
        }
    )


def _named(*groups: tuple[str, str, int]) -> pl.DataFrame:
    """Each (first, last, records), then 300 people of their own names (term frequencies
    need a table of some size)."""
    first = [f for f, _, k in groups for _ in range(k)] + [f"f{i}" for i in range(300)]
    last = [g for _, g, k in groups for _ in range(k)] + [f"l{i}" for i in range(300)]
    return pl.DataFrame({"id": [str(i) for i in range(len(first))], "first": first, "last": last})


def test_joint_frequency_names_comparisons_with_term_frequencies():
    with pytest.raises(ValueError, match="full_name: no comparison 'middle'"):
        _full_name_spec(comparisons=["first", "middle"])
    spec = _full_name_spec().model_dump()
    spec["comparisons"][1]["tf_adjustment"] = False
    with pytest.raises(ValueError, match="comparison 'last' needs tf_adjustment"):
        MatchSpec.model_validate(spec)


def test_a_full_name_namesakes_share_weighs_less_than_its_parts_say():
    # Zeb Quartermaine: one person's two records (their pair a match). Otto Vandersloot:
    # four people (no pair a match): by its rare parts as telling as Zeb's name, but three
    # other people hold it. John Smith: seven people, more than max_holders: left to the
    # parts' frequencies.
    frame = _named(("zeb", "quartermaine", 2), ("otto", "vandersloot", 4), ("john", "smith", 7))
    left = np.array([0, 2, 2, 2, 3, 3, 4, 6, 7])
    right = np.array([1, 3, 4, 5, 4, 5, 5, 7, 8])
    prob = np.array([1.0] + [0.0] * 8)
    model_of = {}
    for name, spec in (
        ("joint", _full_name_spec()),
        ("parts", _full_name_spec().model_copy(update={"joint_frequencies": []})),
    ):
        comparator = Comparator(frame)
        gamma = comparator.gamma(spec.comparisons, left, right)
        u = [np.array([0.01, 0.99]), np.array([0.01, 0.99])]
        u, frequencies = chance_agreement_without_matches(
            comparator, spec, u, gamma, left, right, prob
        )
        model = FSModel(
            comparisons=["first", "last"], m=[np.array([0.9, 0.1])] * 2, u=u, prior=0.01
        )
        model_of[name] = tf_adjustments(
            comparator, spec, model, None, gamma, left, right, frequencies
        ).sum(axis=1)
    joint, parts = model_of["joint"], model_of["parts"]
    assert joint[0] == pytest.approx(parts[0])  # nobody else is Zeb Quartermaine
    assert (joint[1:7] < parts[1:7] - 5).all()  # three namesakes
    # log2(u_first * u_last / (3 others of 312 other records)), shared by the two parts.
    n = frame.height
    assert joint[1] == pytest.approx(
        np.log2(model.u[0][0] * model.u[1][0] / (3 / (n - 1))), abs=1e-3
    )
    np.testing.assert_allclose(joint[7:], parts[7:])  # John Smith: too common to say


def test_incremental_joint_frequency_counts_other_entities_only():
    # Zeb's two known records and a new one: no namesake. Otto: two people known, one new
    # record: besides the pair, one other person holds the name. John Smith: too many.
    frame = _named(("zeb", "quartermaine", 3), ("otto", "vandersloot", 3), ("john", "smith", 7))
    entities = pl.DataFrame(
        {"id": ["0", "1", "3", "4"], "entity_id": ["E-zeb", "E-zeb", "E-otto1", "E-otto2"]}
    )
    rows = np.array([0, 2, 3, 5, 6, 7])  # new records 2 and 5
    left, right = np.array([1, 3, 4]), np.array([0, 2, 5])  # positions in rows
    spec = _full_name_spec().model_copy(update={"id_column": "id"})
    per_pair = joint_frequencies(frame, spec, entities, rows, left, right)["first+last"]
    assert per_pair[0] == 0.0  # Zeb's new record and a known one: nobody else
    assert per_pair[1] == pytest.approx(1 / (frame.height - 1))
    assert np.isnan(per_pair[2])
    # Record 1 is Zeb's though no pair holds it; the entities' order is not the frame's.
    reordered = joint_frequencies(frame, spec, entities.reverse(), rows, left, right)
    np.testing.assert_array_equal(reordered["first+last"], per_pair)


def _office_spec(**joint: object) -> MatchSpec:
    return MatchSpec.model_validate(
        {
            "name": "t",
            "blocking": [{"name": "b", "keys": ["phone"]}],
            "comparisons": [
                {
                    "name": "phone",
                    "column": "phone",
                    "levels": [{"type": "exact"}],
                    "tf_adjustment": True,
                },
                {
                    "name": "org",
                    "column": "org_key",
                    "levels": [
                        {"type": "exact"},
                        {"type": "exact", "column": "company", "label": "same company name"},
                    ],
                    "tf_adjustment": True,
                },
            ],
            "joint_frequencies": [
                {"name": "office_line", "comparisons": ["phone", "org"], **joint}
            ],
            "golden_fields": ["phone"],
        }
    )


def test_a_switchboard_at_one_company_counts_once_where_only_the_company_name_agrees():
    # Four colleagues give Acme's switchboard; two records carry the domain too (org_key
    # 'acme acme.com'), two do not ('acme'): those pairs agree on the company name only.
    # The switchboard and the company are one fact, which three other people share.
    fillers = 300
    frame = pl.DataFrame(
        {
            "phone": ["+1555"] * 4 + [f"+1{i:06d}" for i in range(fillers)],
            "company": ["acme"] * 4 + [f"co{i}" for i in range(fillers)],
            "org_key": ["acme acme.com", "acme acme.com", "acme", "acme"]
            + [f"co{i}" for i in range(fillers)],
        }
    )
    left, right = np.array([0, 0, 2]), np.array([1, 2, 3])  # exact, company name, exact
    prob = np.zeros(3)
    adjusted = {}
    for name, spec in (
        ("company name too", _office_spec(also_at={"org": "same company name"})),
        ("exact only", _office_spec()),
    ):
        comparator = Comparator(frame)
        gamma = comparator.gamma(spec.comparisons, left, right)
        assert gamma[:, 1].tolist() == [0, 1, 0]
        u = [np.array([0.001, 0.999]), np.array([0.001, 0.002, 0.997])]
        u, frequencies = chance_agreement_without_matches(
            comparator, spec, u, gamma, left, right, prob
        )
        model = FSModel(
            comparisons=["phone", "org"],
            m=[np.array([0.9, 0.1]), np.array([0.6, 0.3, 0.1])],
            u=u,
            prior=0.01,
        )
        adjusted[name] = tf_adjustments(
            comparator, spec, model, None, gamma, left, right, frequencies
        ).sum(axis=1)
    both, exact_only = adjusted["company name too"], adjusted["exact only"]
    assert both[1] < exact_only[1] - 1  # the company name only: now counted once too
    # log2(u_phone * u_org(same company name) / (3 other holders of 303 other records)).
    n = frame.height
    expected = np.log2(model.u[0][0] * model.u[1][1] / (3 / (n - 1)))
    assert both[1] == pytest.approx(expected, abs=1e-3)
    assert (both[[0, 2]] < exact_only[[0, 2]] + 1e-6).all()  # exact pairs: no less counted


def test_a_joint_frequency_counts_further_levels_only_where_they_are_exact_and_named():
    with pytest.raises(ValueError, match="'nope' one of that comparison's level labels"):
        _office_spec(also_at={"org": "nope"})
    with pytest.raises(ValueError, match="'title' needs to be one of its comparisons"):
        _office_spec(also_at={"title": "same company name"})


def test_cannot_link_without_names_rejects_a_part_by_part_name_exception():
    # Without `unless_similar` every difference conflicts: `unless_names_alike` would be
    # silently ignored, so the spec says so instead.
    from pipeline.dedupe.spec import CannotLink

    with pytest.raises(ValueError, match="needs unless_similar"):
        CannotLink(column="mobile_e164", unless_names_alike=["first_key", "last_lower"])
    assert CannotLink(column="mobile_e164", unless_within_edits=2).unless_similar is None
