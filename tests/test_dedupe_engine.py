"""The dedupe core end to end: quality floor, the classic false merges, chaining,
incremental matching with stable ids, explanations and the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.__main__ import main
from pipeline.dedupe import dedupe, match_incremental
from pipeline.dedupe.cluster import CannotLinkChecker, cluster
from pipeline.dedupe.compare import Comparator
from pipeline.dedupe.explain import PairExplanation, explain_pair
from pipeline.dedupe.fingerprints import add_fingerprints
from pipeline.dedupe.golden import golden_records
from pipeline.dedupe.prepare import prepare_leads, read_table
from pipeline.dedupe.spec import BlockingRule, CannotLink, ThinBridges, Veto, load_spec
from pipeline.dedupe.vetoes import vetoed_pairs
from pipeline.failures import record_crash
from pipeline.schema import NORMALIZED_SCHEMA, empty_frame
from tests.people import normalized, population


def pair_f1(entities: pl.DataFrame, truth: dict[str, int]) -> float:
    """Cluster F1 over the pairs implied by predicted vs true entities."""
    frame = entities.with_columns(
        pl.col("lead_id").replace_strict(truth, return_dtype=pl.Int64).alias("truth")
    )

    def pairs(*cols: str) -> int:
        sizes = frame.group_by(*cols).len()["len"]
        return int((sizes * (sizes - 1) // 2).sum())

    tp, predicted, true = pairs("entity_id", "truth"), pairs("entity_id"), pairs("truth")
    precision, recall = tp / predicted, tp / true
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def people():
    rows, truth = population()
    return normalized(rows), truth


@pytest.fixture(scope="module")
def resolved(people):
    return dedupe(people[0])


def test_quality_floor_on_seeded_population(people, resolved):
    assert pair_f1(resolved.entities, people[1]) >= 0.99
    assert resolved.report["em_converged"]


def test_every_record_gets_exactly_one_entity(people, resolved):
    assert resolved.entities.height == people[0].height
    assert resolved.entities["lead_id"].n_unique() == people[0].height
    assert resolved.golden["record_count"].sum() == people[0].height


def test_entities_without_golden_records_are_the_same_entities(people, resolved):
    # The file CLI writes only the entities: golden records were 1.6-1.9 s of a 1M-row run.
    bare = dedupe(people[0], golden=False)
    assert_frame_equal(bare.entities, resolved.entities)
    assert_frame_equal(bare.events, resolved.events)
    assert bare.golden.is_empty() and not resolved.golden.is_empty()
    # Counted once, by the engine, however the entities were made.
    distinct = resolved.entities["entity_id"].n_unique()
    assert bare.report["entities"] == resolved.report["entities"] == distinct


def _with(frame: pl.DataFrame, extra: list[dict]) -> pl.DataFrame:
    rows = pl.DataFrame(extra)
    return pl.concat([frame, normalized(rows)], how="diagonal_relaxed")


def test_a_mobile_given_as_the_phone_in_another_file_pairs_and_compares_the_records(people):
    # Ines's work record has her mobile; a sign-up form has the same number as its phone, a
    # misspelt surname, a private address and no company. Nothing else pairs the two.
    ines = [
        {
            "lead_id": "ines-work",
            "first_name": "Ines",
            "last_name": "Kowalczyk",
            "email": "ines.kowalczyk@acme.com",
            "phone": "+1 415 555 0100",
            "mobile_phone": "+1 415 555 0199",
            "company": "Acme Inc.",
            "website": "acme.com",
            "country": "US",
        },
        {
            "lead_id": "ines-form",
            "first_name": "Ines",
            "last_name": "Kowalczik",
            "email": "ines.k.1990@gmail.com",
            "phone": "+1 (415) 555-0199",
            "country": "US",
        },
    ]
    result = dedupe(_with(people[0], ines))
    pair = result.pairs.filter(
        (pl.col("lead_id_l").str.starts_with("ines-"))
        & pl.col("lead_id_r").str.starts_with("ines-")
    )
    assert pair["blocking_rule"].to_list() == ["mobile_as_phone"]
    phone = [c.name for c in result.spec.comparisons].index("phone")
    assert result.spec.comparisons[phone].labels[pair["phone_level"][0]] == "the other's mobile"


def test_a_surname_written_first_with_an_initial_joins_the_person_not_her_colleague(people):
    # 'Weaver A.' from a trade-fair list is Amber Weaver of Parks-Black: nothing paired or
    # scored them while the surname read as the given name. Tom Weaver, her colleague,
    # stays apart.
    amber = {
        "first_name": "Amber",
        "last_name": "Weaver",
        "email": "amber.weaver@parksblack.com",
        "company": "Parks-Black",
        "website": "parksblack.com",
        "country": "US",
    }
    records = [
        {**amber, "lead_id": "aw-1", "phone": "+1 312 559 7735"},
        {**amber, "lead_id": "aw-2"},
        {"lead_id": "aw-3", "first_name": "Weaver", "last_name": "A.", "company": "Parks-Black",
         "phone": "+1 312 555 0142", "country": "US"},
        {"lead_id": "tw", "first_name": "Tom", "last_name": "Weaver", "company": "Parks-Black",
         "email": "tom.weaver@parksblack.com", "country": "US"},
    ]  # fmt: skip
    result = dedupe(_with(people[0], records), golden=False)
    entity = dict(
        result.entities.filter(pl.col("lead_id").is_in(["aw-1", "aw-2", "aw-3", "tw"])).iter_rows()
    )
    assert entity["aw-3"] == entity["aw-1"] == entity["aw-2"] != entity["tw"]


def _weavers() -> list[dict]:
    """Amber Weaver and Tom Weaver of Parks-Black; Amber and Ruth Lee, and two more Weavers,
    elsewhere: the table says Weaver is a surname, Amber and Ruth given names."""
    office = {"company": "Parks-Black", "website": "parksblack.com", "country": "US"}
    return [
        {"lead_id": "aw-1", "first_name": "Amber", "last_name": "Weaver",
         "email": "amber.weaver@parksblack.com", **office},
        {"lead_id": "tw", "first_name": "Tom", "last_name": "Weaver",
         "email": "tom.weaver@parksblack.com", **office},
        {"lead_id": "al", "first_name": "Amber", "last_name": "Lee",
         "email": "amber.lee@lee-partners.com", "company": "Lee Partners", "country": "US"},
        {"lead_id": "jw", "first_name": "Jo", "last_name": "Weaver", "company": "Jo's Bakery",
         "country": "US"},
        {"lead_id": "kw", "first_name": "Ken", "last_name": "Weaver", "company": "Weaver Farms",
         "country": "US"},
        {"lead_id": "rl", "first_name": "Ruth", "last_name": "Lee", "company": "Lee Partners",
         "country": "US"},
    ]  # fmt: skip


def test_golden_names_of_a_record_written_surname_first_are_read_in_order(people):
    # A lone trade-fair record 'WEAVER Ruth' (Ruth being a given name here too) must not
    # greet her as 'Weaver' in an outreach email; an entity of two records written surname
    # first and one in order takes the order too.
    records = [
        *_weavers(),
        {"lead_id": "rw", "first_name": "Weaver", "last_name": "Ruth", "company": "Acme Fair",
         "country": "US"},
        {"lead_id": "aw-2", "first_name": "Weaver", "last_name": "Amber",
         "email": "amber.weaver@parksblack.com", "company": "Parks-Black", "country": "US"},
        {"lead_id": "aw-3", "first_name": "Weaver", "last_name": "Amber",
         "email": "amber.weaver@parksblack.com", "company": "Parks-Black", "country": "US"},
    ]  # fmt: skip
    result = dedupe(_with(people[0], records))
    entity = dict(result.entities.iter_rows())
    assert entity["aw-1"] == entity["aw-2"] == entity["aw-3"]
    golden = result.golden.select("entity_id", "first_name", "last_name", "full_name").rows_by_key(
        "entity_id", unique=True
    )
    assert golden[entity["rw"]] == ("Ruth", "Weaver", "Ruth Weaver")
    assert golden[entity["aw-1"]] == ("Amber", "Weaver", "Amber Weaver")
    assert golden[entity["tw"]] == ("Tom", "Weaver", "Tom Weaver")  # as written


def test_an_incremental_batch_reads_golden_names_in_order_too(people):
    existing = _with(people[0], _weavers())
    resolved = dedupe(existing)
    batch = normalized(
        pl.DataFrame(
            [{"lead_id": "new-rw", "first_name": "Weaver", "last_name": "Ruth",
              "company": "Acme Fair", "country": "US"}]
        )
    )  # fmt: skip
    stored = existing.join(
        resolved.work.select("lead_id", *resolved.spec.fingerprints), on="lead_id"
    )
    result = match_incremental(stored, resolved.entities, batch, resolved.model)
    golden = result.golden.filter(pl.col("member_ids").list.contains("new-rw"))
    assert golden.select("first_name", "last_name", "full_name").row(0) == (
        "Ruth", "Weaver", "Ruth Weaver"
    )  # fmt: skip


def test_colleagues_sharing_surname_and_switchboard_are_not_merged(people):
    colleagues = [
        {
            "lead_id": f"col-{first}",
            "first_name": first,
            "last_name": "Okafor",
            "email": f"{first.lower()}.okafor@acme.com",
            "phone": "+1 415 555 0100",  # the company's main line
            "company": "Acme Inc.",
            "website": "acme.com",
            "country": "US",
        }
        for first in ("Alice", "Brian", "Chidi", "Dana")
    ]
    result = dedupe(_with(people[0], colleagues))
    ids = result.entities.filter(pl.col("lead_id").str.starts_with("col-"))["entity_id"]
    assert ids.n_unique() == 4


def test_chain_of_weak_links_cannot_join_two_different_people():
    frame = pl.DataFrame(
        {
            "email_canonical": ["ann.lee@acme.com", None, "tom.berg@acme.com"],
            "person_key": ["ann lee", "a berg", "tom berg"],
            "is_role_email": [False, False, False],
        }
    )
    checker = CannotLinkChecker(
        frame,
        [
            CannotLink(
                column="email_canonical",
                unless_similar="person_key",
                exclude_when_true="is_role_email",
            )
        ],
    )
    # ann -- a berg -- tom: each link strong enough on its own.
    labels, report = cluster(
        3, np.array([0, 1]), np.array([1, 2]), np.array([0.97, 0.95]), 0.9, 50, checker
    )
    assert labels[0] != labels[2]
    assert labels[0] == labels[1]  # the stronger link wins
    assert report.refused_merges == 1


def test_vetoed_pair_is_not_joined_through_a_chain():
    # Jon Smith -- J. Smith -- Joan Smith: each link strong, but Jon / Joan were vetoed
    # (different first names), so the chain must not make them one entity.
    left, right = np.array([0, 1]), np.array([1, 2])
    labels, report = cluster(
        3, left, right, np.array([0.99, 0.97]), 0.9, 50, apart=(np.array([0]), np.array([2]))
    )
    assert labels[0] == labels[1] != labels[2]  # the stronger link wins
    assert report.vetoed_merges == 1
    labels, _ = cluster(3, left, right, np.array([0.99, 0.97]), 0.9, 50)
    assert len(set(labels.tolist())) == 1  # without the veto: one entity


def _three_and_four(weak: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records 0-2 and 3-6, each group linked at 0.999, and `weak` links at 0.85 between."""
    strong = [(0, 1), (1, 2), (3, 4), (4, 5), (5, 6)]
    pairs = np.array(strong + weak)
    prob = np.array([0.999] * len(strong) + [0.85] * len(weak))
    return pairs[:, 0], pairs[:, 1], prob


THIN = ThinBridges(strong=0.99, min_share=0.1, min_group=2)


def test_two_people_chained_by_one_weaker_link_are_two_entities():
    # One namesake's link at 0.85 between two people's records: 1 of their 12 pairs.
    left, right, prob = _three_and_four([(2, 3)])
    labels, report = cluster(7, left, right, prob, 0.8, 50, thin=THIN)
    assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5] == labels[6]
    assert report.thin_bridges_cut == 1 and report.components == 2
    labels, _ = cluster(7, left, right, prob, 0.8, 50)
    assert len(set(labels.tolist())) == 1  # without the rule: one entity


def test_groups_joined_by_enough_weaker_links_or_too_small_to_split_stay_one():
    left, right, prob = _three_and_four([(2, 3), (0, 5)])  # 2 of 12 pairs: one person
    labels, report = cluster(7, left, right, prob, 0.8, 50, thin=THIN)
    assert len(set(labels.tolist())) == 1 and report.thin_bridges_cut == 0
    # A lone record (a group of one) joined to a group by one weaker link stays with it.
    labels, _ = cluster(
        4, np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([0.999, 0.999, 0.85]), 0.8, 50,
        thin=THIN,
    )  # fmt: skip
    assert len(set(labels.tolist())) == 1


def test_a_must_link_holds_two_groups_together_like_a_strong_link():
    left, right, prob = _three_and_four([(2, 3)])
    must = (np.array([0]), np.array([5]))
    labels, _ = cluster(7, left, right, prob, 0.8, 50, must=must, thin=THIN)
    assert len(set(labels.tolist())) == 1


def test_incremental_veto_refuses_the_new_link_not_the_existing_entity():
    # 0 and 1 are one existing entity (fixed link, above any probability); new record 2
    # links strongly to 0 but a veto rules it out with 1: 2 stays out, the entity stays whole.
    labels, report = cluster(
        3,
        np.array([0, 0]),
        np.array([2, 1]),
        np.array([0.999, 2.0]),
        0.9,
        10**9,
        apart=(np.array([2]), np.array([1])),
    )
    assert labels[0] == labels[1] != labels[2]
    assert report.vetoed_merges == 1


def test_same_person_with_two_emails_still_merges():
    frame = pl.DataFrame(
        {
            "email_canonical": ["ann.lee@acme.com", None, "annlee@gmail.com"],
            "person_key": ["ann lee", "ann lee", "ann lee"],
            "is_role_email": [False, False, False],
        }
    )
    checker = CannotLinkChecker(
        frame, [CannotLink(column="email_canonical", unless_similar="person_key")]
    )
    labels, _ = cluster(
        3, np.array([0, 1]), np.array([1, 2]), np.array([0.97, 0.95]), 0.9, 50, checker
    )
    assert len(set(labels.tolist())) == 1


def test_cannot_link_ignores_records_without_a_name():
    # 'tfischer1985@web.de' with no name, linked by phone and company to Thomas Fischer's
    # work address: two personal emails, but nothing says the names differ.
    frame = _with(
        empty_frame(NORMALIZED_SCHEMA),
        [
            {"lead_id": "a", "email": "tfischer1985@web.de", "country": "DE"},
            {
                "lead_id": "b",
                "email": "thomas.fischer@cedarlabs.com",
                "first_name": "Thomas",
                "last_name": "Fischer",
                "country": "DE",
            },
        ],
    )
    work = add_fingerprints(frame, load_spec("leads"))
    assert work["person_tokens"].to_list() == [None, "fischer thomas"]
    checker = CannotLinkChecker(work, load_spec("leads").cannot_link)
    labels, report = cluster(2, np.array([0]), np.array([1]), np.array([0.99]), 0.9, 50, checker)
    assert labels[0] == labels[1]
    assert report.refused_merges == 0


@pytest.mark.parametrize(
    ("second_mobile", "second_email", "one_person"),
    [
        ("+31 6 2222 3333", None, False),  # another person's mobile: never one entity
        ("+31 6 1111 2223", None, True),  # a typo in one digit
        ("+31 6 2222 3333", "anna.visser@lumant.nl", True),  # one email: a changed number
    ],
)
def test_two_mobiles_are_two_people_whatever_the_chain(second_mobile, second_email, one_person):
    # Two Anna Vissers at one company, each with her mobile, and a record with the name and
    # the company only: each link strong on its own, the chain would make them one.
    office = {"first_name": "Anna", "last_name": "Visser", "company": "Lumant BV"}
    records = [
        {
            "lead_id": "a",
            **office,
            "mobile_phone": "+31 6 1111 2222",
            "email": "anna.visser@lumant.nl",
        },
        {"lead_id": "b", **office},
        {"lead_id": "c", **office, "mobile_phone": second_mobile, "email": second_email},
    ]
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), load_spec("leads"))
    assert work["mobile_e164"].to_list()[0] == "+31611112222"
    checker = CannotLinkChecker(work, load_spec("leads").cannot_link)
    labels, report = cluster(
        3, np.array([0, 1]), np.array([1, 2]), np.array([0.99, 0.98]), 0.9, 50, checker
    )
    assert bool(labels[0] == labels[2]) is one_person
    assert report.refused_merges == (0 if one_person else 1)
    # The greedy rebuild's check, one pair at a time, says the same as the batch check.
    assert checker.conflict([0], [2]) is not one_person


def test_cannot_link_without_names_conflicts_on_any_difference():
    frame = pl.DataFrame({"mobile_e164": ["+31611112222", None, "+31622223333"]})
    checker = CannotLinkChecker(frame, [CannotLink(column="mobile_e164")])
    labels, report = cluster(
        3, np.array([0, 1]), np.array([1, 2]), np.array([0.99, 0.98]), 0.9, 50, checker
    )
    assert labels[0] == labels[1] != labels[2]
    assert report.refused_merges == 1


@pytest.mark.parametrize("size", [150, 250])  # checked in full in a batch / merge by merge
def test_cannot_link_splits_a_chain_whatever_the_component_size(size):
    # Two mobiles at the ends of a chain of records without one: the batch check covers
    # components of up to 200 records; a larger one asks the rules at each merge.
    mobiles = [None] * size
    mobiles[0], mobiles[-1] = "+31611112222", "+31622223333"
    frame = pl.DataFrame({"mobile_e164": mobiles}, schema={"mobile_e164": pl.String})
    checker = CannotLinkChecker(frame, [CannotLink(column="mobile_e164")])
    left = np.arange(size - 1)
    prob = np.full(size - 1, 0.99)
    prob[size // 2] = 0.95  # the weakest link, where the chain should part
    labels, report = cluster(size, left, left + 1, prob, 0.9, 10_000, checker)
    assert labels[0] != labels[-1]
    assert (labels[: size // 2 + 1] == labels[0]).all()
    assert (labels[size // 2 + 1 :] == labels[-1]).all()
    assert report.refused_merges == 1 and report.vetoed_merges == 0


def _vetoed(records: list[dict]) -> list[bool]:
    """Whether the leads spec's vetoes rule out records[0] with each later record."""
    spec = load_spec("leads")
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), spec)
    right = np.arange(1, len(records))
    return vetoed_pairs(Comparator(work), spec, np.zeros_like(right), right).tolist()


def test_same_first_name_at_one_domain_is_vetoed_unless_the_surname_agrees_too():
    # 'fleur de haan' / 'fleur de graaf' are 0.9 similar joined: the shared first name alone.
    fleur = {"first_name": "Fleur", "last_name": "de Haan", "email": "fleur.dehaan@matrix.nl"}
    assert _vetoed(
        [
            {"lead_id": "a", **fleur},
            {
                "lead_id": "b",
                "first_name": "Fleur",
                "last_name": "de Graaf",
                "email": "fleur.degraaf@matrix.nl",
            },
            {
                "lead_id": "c",
                "first_name": "Fleur",
                "last_name": "de Haan",
                "email": "fleur@matrix.nl",
            },
        ]
    ) == [True, False]


def test_pairs_table_says_which_pairs_a_veto_ruled_out():
    # Two Fleurs at one office: vetoed (probability 0, marked so in the pairs table); the
    # same Fleur at another address of the domain is not.
    office = {"company": "Matrix Solutions BV", "job_title": "Account Manager", "country": "NL"}
    records = [
        {"lead_id": "a", "first_name": "Fleur", "last_name": "de Haan",
         "email": "fleur.dehaan@matrix.nl", **office},
        {"lead_id": "b", "first_name": "Fleur", "last_name": "de Graaf",
         "email": "fleur.degraaf@matrix.nl", **office},
        {"lead_id": "c", "first_name": "Fleur", "last_name": "de Haan",
         "email": "fleur@matrix.nl", **office},
    ]  # fmt: skip
    pairs = dedupe(_with(empty_frame(NORMALIZED_SCHEMA), records), golden=False).pairs
    verdicts = {
        tuple(sorted((left, right))): (vetoed, probability)
        for left, right, vetoed, probability in pairs.select(
            "lead_id_l", "lead_id_r", "vetoed", "match_probability"
        ).rows()
    }
    assert verdicts[("a", "b")] == (True, 0.0)
    assert verdicts[("a", "c")][0] is False and verdicts[("a", "c")][1] > 0.5


def test_name_vetoes_yield_to_a_shared_personal_email_but_not_a_role_address():
    william = {"first_name": "William", "last_name": "O'Connor", "email": "william.oconnor@cr.ca"}
    garbled = {"first_name": "Biloy", "last_name": "O'Connor", "email": "william.oconnor@cr.ca"}
    assert _vetoed([{"lead_id": "a", **william}, {"lead_id": "b", **garbled}]) == [False]
    info = {"first_name": "Ann", "last_name": "Lee", "email": "info@acme.com"}
    other = {"first_name": "Tom", "last_name": "Berg", "email": "info@acme.com"}
    assert _vetoed([{"lead_id": "a", **info}, {"lead_id": "b", **other}]) == [True]


def test_a_shared_city_is_not_a_matching_address():
    spec = load_spec("leads")
    records = [
        {"lead_id": "a", "first_name": "Isabelle", "last_name": "Antoine", "city": "Toronto"},
        {
            "lead_id": "b",
            "first_name": "Isabelle",
            "last_name": "Antoine",
            "city": "Toronto",
            "address": "35 Pine Road",
        },
    ]
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), spec)
    address = next(c for c in spec.comparisons if c.name == "address")
    assert Comparator(work).levels(address, np.array([0]), np.array([1])).tolist() == [-1]


def test_cannot_link_reads_swapped_names_as_the_same_name():
    # First and last name swapped in one record (the spec's 'first and last swapped' level),
    # work and personal address: not two people.
    records = [
        {
            "lead_id": "a",
            "first_name": "Nicole",
            "last_name": "White",
            "email": "nicole.white@oakworks.io",
        },
        {"lead_id": "b", "first_name": "White", "last_name": "Nicole", "email": "nwhite@gmail.com"},
    ]
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), load_spec("leads"))
    checker = CannotLinkChecker(work, load_spec("leads").cannot_link)
    labels, report = cluster(2, np.array([0]), np.array([1]), np.array([0.99]), 0.9, 50, checker)
    assert labels[0] == labels[1]
    assert report.refused_merges == 0


@pytest.mark.parametrize(
    ("first", "last", "same_person"),
    [
        ("Apul", "Cook", True),  # a typo that sorts the surname first: 'apul cook' / 'cook paul'
        ("P.", "Cook", True),  # an initial
        ("Paul", "Cook-Bryant", True),  # a hyphenated married name
        ("Cook", "Paull", True),  # swapped and misspelt
        ("Pauline", "Crook", True),  # each part similar
        ("Paula", "Brandt", False),  # another surname: a colleague, not a typo
        ("Mark", "Crook", False),  # another first name, the surname alike
    ],
)
def test_cannot_link_compares_names_part_by_part(first, last, same_person):
    records = [
        {"lead_id": "a", "first_name": "Paul", "last_name": "Cook", "email": "paul@cookco.com"},
        {"lead_id": "b", "first_name": first, "last_name": last, "email": "pc1970@gmail.com"},
    ]
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), load_spec("leads"))
    checker = CannotLinkChecker(work, load_spec("leads").cannot_link)
    labels, _ = cluster(2, np.array([0]), np.array([1]), np.array([0.99]), 0.9, 50, checker)
    assert bool(labels[0] == labels[1]) is same_person
    # The greedy rebuild's check, one pair at a time, says the same as the batch check.
    assert checker.conflict([0], [1]) is not same_person


def test_same_letters_at_a_free_mail_provider_is_another_account():
    robert = {"first_name": "Robert", "last_name": "Barton"}
    assert _vetoed(
        [
            {"lead_id": "a", **robert, "email": "robertbarton@outlook.com"},
            {"lead_id": "b", **robert, "email": "robert.barton@outlook.com"},
            # At a company a moved dot is a slip, not a second mailbox.
            {"lead_id": "c", **robert, "email": "robertbarton@acme.com"},
        ]
    ) == [True, False]


def test_different_extensions_on_one_switchboard_are_vetoed():
    line = {"last_name": "Okafor", "company": "Acme Inc.", "country": "US"}
    records = [
        {"lead_id": "a", "first_name": "Ann", "phone": "+1 415 555 0100 x12", **line},
        {"lead_id": "b", "first_name": "Ann", "phone": "+1 415 555 0100 x31", **line},
        {"lead_id": "c", "first_name": "Ann", "phone": "+1 415 555 0100", **line},
    ]
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), load_spec("leads"))
    assert work["phone_extension"].to_list() == ["12", "31", None]
    assert _vetoed(records) == [True, False]


def test_name_vetoes_yield_to_swapped_and_misspelt_names():
    assert _vetoed(
        [
            {"lead_id": "a", "first_name": "James", "last_name": "Murphy"},
            {"lead_id": "b", "first_name": "Murpy", "last_name": "James"},  # swapped, a slip
            {"lead_id": "c", "first_name": "Sean", "last_name": "Murphy"},  # somebody else
        ]
    ) == [False, True]


@pytest.mark.parametrize(
    ("named", "other", "spelled", "own_address"),
    [
        # A married name: Natalia Argento still writes from natalia.cousin@.
        (("Natalia", "Cousin"), ("Natalia", "Argento"), "natalia.cousin@martinelli.it",
         "natalia.argento@martinelli.it"),
        # One who goes by her second name: Carmen López at maria.lopez@.
        (("María", "López"), ("Carmen", "López"), "maria.lopez@vallejo.es",
         "carmen.lopez@vallejo.es"),
    ],
)  # fmt: skip
def test_a_name_the_other_records_address_spells_is_not_ruled_out(
    named: tuple[str, str], other: tuple[str, str], spelled: str, own_address: str
):
    # The record whose address spells the first one's name is no other person; the same
    # record at an address of its own name is (different names stay apart).
    first, last = other
    assert _vetoed(
        [
            {"lead_id": "a", "first_name": named[0], "last_name": named[1]},
            {"lead_id": "b", "first_name": first, "last_name": last, "email": spelled},
            {"lead_id": "c", "first_name": first, "last_name": last, "email": own_address},
        ]
    ) == [False, True]


def test_addresses_spelling_out_different_names_are_vetoed():
    wilma = {"first_name": "Wilma", "last_name": "Jansen", "email": "wilma.jansen@royal.com"}
    assert _vetoed(
        [
            {"lead_id": "a", **wilma},
            # her colleague: the address spells the other surname too
            {
                "lead_id": "b",
                "first_name": "Wilma",
                "last_name": "Janssen",
                "email": "wilma.janssen@royal.com",
            },
            # a slip in the name only: the address still says Jansen
            {
                "lead_id": "c",
                "first_name": "Wilma",
                "last_name": "Janssen",
                "email": "wilma.jansen@gmail.com",
            },
            # the address written surname first, names swapped to match
            {
                "lead_id": "d",
                "first_name": "Jansen",
                "last_name": "Wilma",
                "email": "jansen.wilma@gmail.com",
            },
        ]
    ) == [True, False, False]


def test_two_addresses_at_one_domain_with_swapped_names_are_not_vetoed():
    assert _vetoed(
        [
            {
                "lead_id": "a",
                "first_name": "Sara",
                "last_name": "Davis",
                "email": "sara.davis@tucker.com",
            },
            {
                "lead_id": "b",
                "first_name": "Davis",
                "last_name": "Sara",
                "email": "sarad.avis@tucker.com",
            },
        ]
    ) == [False]


def test_rerun_keeps_entity_ids(people, resolved):
    again = dedupe(people[0], previous_entities=resolved.entities)
    assert again.entities.sort("lead_id").equals(resolved.entities.sort("lead_id"))
    assert again.events.is_empty()


def test_incremental_batch_joins_existing_entities_without_rescoring_history(people, resolved):
    existing = people[0]
    known = existing.row(0, named=True)
    batch = normalized(
        pl.DataFrame(
            [
                {  # a new sighting of a known person, formatted differently
                    "lead_id": "new-1",
                    "first_name": known["first_name"].upper(),
                    "last_name": known["last_name"],
                    "email": known["email"].upper(),
                    "company": known["company"],
                },
                {  # somebody new
                    "lead_id": "new-2",
                    "first_name": "Zebedee",
                    "last_name": "Quorn",
                    "email": "zq@newco.io",
                },
            ]
        )
    )
    result = match_incremental(existing, resolved.entities, batch, resolved.model)
    entity = dict(result.entities.iter_rows())
    old = dict(resolved.entities.iter_rows())
    assert entity["new-1"] == old[known["lead_id"]]
    assert entity["new-2"] not in set(old.values())
    assert {k: entity[k] for k in old} == old  # nobody else moved
    assert result.report["involved_records"] < existing.height // 10
    golden = result.golden.filter(pl.col("entity_id") == entity["new-1"])
    assert "new-1" in golden["member_ids"][0]


def test_incremental_batch_is_the_same_whatever_the_stored_tables_chunks(people, resolved):
    """The stored leads come from parquet row groups and a join with the fingerprints: each
    column in its own chunks. Columns are picked by name there, not selected (an eager
    select rechunks misaligned columns): the result must not depend on the layout."""
    existing = people[0]
    fingerprints = resolved.work.select("lead_id", *resolved.spec.fingerprints)
    stored = existing.join(fingerprints, on="lead_id")
    half = stored.height // 2
    raw = pl.concat([existing[:half], existing[half:]], rechunk=False)  # two chunks
    third = stored.height // 3
    fp = pl.concat(  # three chunks, cut elsewhere
        [fingerprints[:third], fingerprints[third : 2 * third], fingerprints[2 * third :]],
        rechunk=False,
    ).drop("lead_id")
    misaligned = pl.concat(
        [raw, fp.drop(c for c in fp.columns if c in raw.columns)], how="horizontal"
    )
    assert len(set(misaligned.n_chunks("all"))) > 1  # columns cut at different rows
    known = existing.row(3, named=True)
    batch = normalized(
        pl.DataFrame(
            [
                {"lead_id": "new-1", "first_name": known["first_name"],
                 "last_name": known["last_name"], "email": known["email"]},
                {"lead_id": "new-2", "first_name": "Zebedee", "last_name": "Quorn",
                 "email": "zq@newco.io"},
            ]
        )
    )  # fmt: skip
    stored = misaligned.rechunk()
    one = match_incremental(
        stored, resolved.entities, batch, resolved.model, existing_fingerprinted=True
    )
    many = match_incremental(
        misaligned, resolved.entities, batch, resolved.model, existing_fingerprinted=True
    )
    assert many.entities.equals(one.entities)
    assert many.golden.equals(one.golden)
    assert many.pairs.equals(one.pairs)
    assert (
        dict(many.entities.iter_rows())["new-1"]
        == dict(resolved.entities.iter_rows())[known["lead_id"]]
    )


def _bridged(people, resolved, orphans: list[str]):
    """(existing, the entities with `orphans` filed as somebody else ('Eorphan'), a new
    record bridging p0-0 and them, p0-0's entity id)."""
    existing = people[0]
    a = existing.filter(pl.col("lead_id") == "p0-0").row(0, named=True)
    survivor = resolved.entities.filter(pl.col("lead_id") == "p0-0")["entity_id"].item()
    entities = resolved.entities.with_columns(
        pl.when(pl.col("lead_id").is_in(orphans))
        .then(pl.lit("Eorphan"))
        .otherwise(pl.col("entity_id"))
        .alias("entity_id")
    )
    bridge = {k: a[k] for k in ("first_name", "last_name", "email", "company")}
    bridge |= {"lead_id": "bridge", "phone": a["phone_e164"]}
    return existing, entities, normalized(pl.DataFrame([bridge])), survivor


def test_incremental_bridge_merges_two_entities_and_records_it(people, resolved):
    assert people[0].filter(pl.col("lead_id") == "p0-1").height == 1
    # Suppose an earlier run had filed p0-1 as somebody else.
    existing, entities, bridge, survivor = _bridged(people, resolved, ["p0-1"])
    result = match_incremental(existing, entities, bridge, resolved.model)
    merged = dict(result.entities.iter_rows())
    assert merged["p0-1"] == merged["p0-0"] == merged["bridge"] == survivor
    merges = result.events.filter(pl.col("event") == "merge")
    assert merges.select("entity_id", "other_entity_id").rows() == [(survivor, "Eorphan")]


def test_a_merge_renames_members_the_batch_never_paired_and_keeps_the_stored_order(
    people, resolved
):
    # An entity merged by a bridge moves whole, its members the batch did not pair included;
    # every other record keeps its entity, in the stored order, with the batch after them.
    far = resolved.entities.filter(~pl.col("lead_id").str.starts_with("p0-"))["lead_id"][-1]
    existing, entities, bridge, survivor = _bridged(people, resolved, ["p0-1", far])
    result = match_incremental(existing, entities, bridge, resolved.model)
    assert result.report["involved_records"] < existing.height // 10
    merged = dict(result.entities.iter_rows())
    assert merged[far] == merged["p0-1"] == merged["bridge"] == survivor
    assert result.entities["lead_id"].to_list() == [*entities["lead_id"], "bridge"]
    others = entities.filter(~pl.col("lead_id").is_in(["p0-1", far]))
    assert {k: merged[k] for k in others["lead_id"]} == dict(others.iter_rows())
    golden = result.golden.filter(pl.col("entity_id") == survivor)
    assert far in golden["member_ids"][0]


def test_incremental_golden_records_are_those_of_every_column_of_the_members(people, resolved):
    # The batch's golden records read only the columns survivorship uses
    # (`MatchSpec.golden_columns`); given all the columns, they come out the same.
    existing, known = people[0], people[0].row(3, named=True)
    batch = normalized(
        pl.DataFrame(
            [
                {
                    "lead_id": "again",
                    "first_name": known["first_name"],
                    "last_name": known["last_name"],
                    "email": known["email"],
                    "company": known["company"],
                    "job_title": "Head of Everything",
                }
            ]
        )
    )
    result = match_incremental(existing, resolved.entities, batch, resolved.model)
    members = result.golden["member_ids"].explode().implode()
    rows = pl.concat([existing, batch], how="diagonal_relaxed").filter(
        pl.col("lead_id").is_in(members)
    )
    whole = golden_records(
        rows, result.entities.filter(pl.col("lead_id").is_in(members)), result.spec
    )
    assert_frame_equal(result.golden.sort("entity_id"), whole.sort("entity_id"))
    assert result.golden.filter(pl.col("member_ids").list.contains("again")).height == 1
    # And over the whole population, whose rules rank by date, validity and source.
    narrow = existing.select(c for c in existing.columns if c in result.spec.golden_columns())
    assert narrow.width < existing.width
    assert_frame_equal(
        golden_records(narrow, resolved.entities, result.spec),
        golden_records(existing, resolved.entities, result.spec),
    )


def test_explain_gives_per_field_levels_weights_and_probability(people, resolved):
    matched = resolved.pairs.filter(pl.col("match_probability") > 0.99).row(0, named=True)
    explanation = explain_pair(resolved, matched["lead_id_l"], matched["lead_id_r"])
    assert explanation.same_entity
    assert explanation.match_probability == pytest.approx(matched["match_probability"], rel=1e-6)
    assert {f.comparison for f in explanation.fields} >= {"email", "first_name", "phone"}
    text = explanation.render()
    assert "merged" in text and "email" in text
    other = explain_pair(resolved, "p0-0", "p5-0")
    assert not other.same_entity and other.match_probability < 0.5
    with pytest.raises(KeyError, match="no record"):
        explain_pair(resolved, "p0-0", "nope")


@pytest.mark.parametrize(
    ("probability", "same_entity", "note"),
    [
        (0.95, False, "the clustering keeps them apart"),
        (0.30, True, "merged through other records"),
        (0.95, True, None),
        (0.30, False, None),
    ],
)
def test_explain_says_why_a_verdict_differs_from_the_pairs_own_probability(
    probability, same_entity, note
):
    explanation = PairExplanation("a", "b", [], -10.0, 1.0, probability, 0.8, same_entity)
    text = explanation.render()
    for other in ("the clustering keeps them apart", "merged through other records"):
        assert (other in text) == (other == note)


def test_cli_dedupes_a_csv_end_to_end(tmp_path, capsys):
    rows, truth = population(n_people=150, seed=9)
    source = tmp_path / "leads.csv"
    rows.rename({"email": "E-mail Address", "company": "Company Name"}).write_csv(source)
    out = tmp_path / "entities.parquet"
    assert main(["dedupe", str(source), "--out", str(out), "--id-column", "lead_id",
                 "--explain", "p0-0", "p1-0"]) == 0  # fmt: skip
    entities = pl.read_parquet(out)
    assert entities.columns == ["lead_id", "entity_id"]
    assert entities.height == rows.height
    assert pair_f1(entities, truth) >= 0.95
    captured = capsys.readouterr()
    count = entities["entity_id"].n_unique()
    merged = rows.height - count
    assert f"-> {count:,} entities ({merged:,} duplicates merged)" in captured.err
    assert "p0-0 vs p1-0" in captured.out


def test_a_raw_table_normalizes_in_batches_as_it_does_whole(tmp_path):
    # Batches keep the normalizing of a 1M-row file to a quarter of its memory.
    rows, _ = population(n_people=40, seed=3)
    source = tmp_path / "leads.csv"
    rows.rename({"email": "E-mail Address"}).write_csv(source)
    spec = load_spec("leads")
    whole, id_col = prepare_leads(read_table(source), spec, "lead_id", rows_per_batch=10**6)
    batched, _ = prepare_leads(read_table(source), spec, "lead_id", rows_per_batch=7)
    assert id_col == "lead_id" and whole.height == rows.height > 7
    assert set(batched.columns) == spec.input_columns()
    assert_frame_equal(batched, whole)


def test_a_spec_reading_the_creation_date_gets_the_whole_files_day_month_order(tmp_path):
    # '03/04/2024' alone reads as March 4th; beside '25/04/2024' the file is day-first.
    source = tmp_path / "leads.csv"
    source.write_text(
        "lead_id,first_name,last_name,email,created_at\n"
        "1,Ann,Lee,ann@lee.com,03/04/2024\n2,Bo,Kim,bo@kim.com,04/04/2024\n"
        "3,Cy,Orr,cy@orr.com,25/04/2024\n"
    )
    spec = load_spec("leads")
    dated = spec.model_copy(
        update={"blocking": [*spec.blocking, BlockingRule(name="same_day", keys=["created_at"])]}
    )
    frame, _ = prepare_leads(read_table(source), dated, "lead_id", rows_per_batch=2)
    assert frame["created_at"].dt.month().to_list() == [4, 4, 4]
    assert frame["created_at"].dt.day().to_list() == [3, 4, 25]


def test_cli_dedupe_on_a_file_imports_no_other_command(tmp_path):
    # The store, the marts and the outreach layer were 0.45 s of every run of the core.
    source = tmp_path / "leads.csv"
    source.write_text("lead_id,first_name,last_name,email\n1,Ann,Lee,a@x.com\n2,Ann,Lee,a@x.com\n")
    script = (
        "import sys\n"
        "from pipeline.__main__ import main\n"
        f"assert main(['dedupe', {str(source)!r}, '--out', {str(tmp_path / 'e.parquet')!r}]) == 0\n"
        "heavy = ('pipeline.store', 'pipeline.marts.cli', 'pipeline.outreach.cli',\n"
        "         'pipeline.crm.cli', 'pipeline.summary', 'sqlalchemy', 'dagster')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "e.parquet").exists()


def test_cli_scans_a_normalized_parquet_file_and_still_explains(people, resolved, tmp_path, capsys):
    source = tmp_path / "normalized.parquet"
    people[0].write_parquet(source)
    out = tmp_path / "entities.parquet"
    assert main(["dedupe", str(source), "--out", str(out)]) == 0
    assert_frame_equal(pl.read_parquet(out), resolved.entities.select("lead_id", "entity_id"))
    assert main(["dedupe", str(source), "--out", str(out), "--explain", "p0-0", "p1-0"]) == 0
    assert "p0-0 vs p1-0" in capsys.readouterr().out


def test_cli_dedupes_a_normalized_table_exported_as_csv_as_it_does_the_table(
    people, resolved, tmp_path
):
    # Read back from text, 'false' flags (role addresses, free mail) must not count as true:
    # they were strings, and a veto's exception crashed on them.
    source = tmp_path / "normalized.csv"
    people[0].write_csv(source)
    out = tmp_path / "entities.parquet"
    assert main(["dedupe", str(source), "--out", str(out)]) == 0
    assert_frame_equal(pl.read_parquet(out), resolved.entities.select("lead_id", "entity_id"))


def test_cli_names_the_row_and_column_of_a_flag_that_is_not_true_or_false(people, tmp_path, capsys):
    source = tmp_path / "normalized.csv"
    frame = people[0].with_columns(pl.col("is_role_email").cast(pl.String))
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("maybe")).otherwise("is_role_email")
        .alias("is_role_email")
    ).write_csv(source)  # fmt: skip
    assert main(["dedupe", str(source), "--out", str(tmp_path / "o.parquet")]) == 2
    err = capsys.readouterr().err
    assert "normalized.csv: row 6, column 'is_role_email': 'maybe'" in err


def test_cli_names_the_file_and_rows_of_a_repeated_id(tmp_path, capsys):
    source = tmp_path / "export.csv"
    source.write_text(
        "id,First Name,Last Name,E-mail Address\n"
        "1,Anna,Visser,anna@acme.nl\n3,Bob,Smith,bob@example.com\n3,Bob,Smith,bob@example.com\n"
    )
    out = tmp_path / "o.parquet"
    assert main(["dedupe", str(source), "--out", str(out), "--id-column", "id"]) == 2
    assert "export.csv: id column 'id' has 1 duplicated value(s): '3' at data rows 2, 3" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_cli_skips_blank_rows_and_names_the_row_with_extra_fields(tmp_path, capsys):
    # A blank row became a record with no id ("id column 'id' has 1 empty value"), and
    # the values past the header's fields were left out without a word.
    source = tmp_path / "export.csv"
    source.write_bytes(
        b"id;Vorname;Nachname;E-Mail\r\n1;J\xc3\xbcrgen;Gro\xc3\x9f;j@x.de\r\n\r\n"
        b"2;J\xc3\xbcrgen;Gross;j@x.de;+49 30 1234567\r\n"
    )
    out = tmp_path / "o.parquet"
    assert main(["dedupe", str(source), "--out", str(out), "--id-column", "id"]) == 0
    err = capsys.readouterr().err
    assert "export.csv: skipped 1 blank row(s) (row 3)" in err
    assert "warning: export.csv: row 4: row has 5 fields but the header has 4" in err
    entities = pl.read_parquet(out)
    assert entities["id"].to_list() == ["1", "2"] and entities["entity_id"].n_unique() == 1


def test_a_crash_log_is_written_when_the_command_names_a_path(tmp_path):
    # It was named after the command, slashes and all: the crash report itself crashed.
    failure = record_crash(RuntimeError("boom"), "dedupe /data/in/leads.csv", tmp_path / "logs")
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1 and logs[0].name.startswith("dedupe-data-in-leads.csv-")
    assert "RuntimeError: boom" in logs[0].read_text()
    assert Path(failure.traceback_at) == logs[0]


def test_cli_reports_bad_input_clearly(tmp_path, capsys):
    assert (
        main(["dedupe", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.parquet")]) == 2
    )
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "people.parquet"
    pl.DataFrame({"rec_id": ["1"], "given_name": ["a"]}).write_parquet(bad)
    assert main(["dedupe", str(bad), "--out", str(tmp_path / "o.parquet"), "--spec", "person"]) == 2
    assert "lacks column(s)" in capsys.readouterr().err


def test_empty_input_gives_empty_results():
    result = dedupe(empty_frame(NORMALIZED_SCHEMA))
    assert result.entities.is_empty() and result.golden.is_empty()


def test_column_with_no_values_at_all_does_not_break_clustering(people):
    # Regression: an all-null guarded column became a numpy object array, which polars
    # could not group (a panic in the cannot-link check).
    frame = people[0].with_columns(pl.lit(None, pl.String).alias("email_canonical"))
    result = dedupe(frame)
    assert result.entities.height == frame.height


def test_lazy_source_without_work_gives_the_same_resolution(people, resolved, tmp_path):
    people[0].write_parquet(tmp_path / "leads.parquet")
    lazy = dedupe(pl.scan_parquet(tmp_path / "leads.parquet"), keep_work=False)
    assert_frame_equal(lazy.entities, resolved.entities)
    assert_frame_equal(lazy.pairs, resolved.pairs)
    assert_frame_equal(lazy.golden, resolved.golden)
    assert lazy.work.is_empty() and not resolved.work.is_empty()
    columns = people[0].columns
    in_memory = dedupe(people[0], keep_work=False)
    assert_frame_equal(in_memory.golden, resolved.golden)
    assert people[0].columns == columns  # the caller's table is left whole


def test_lazy_source_without_an_id_column_names_its_columns(people, tmp_path):
    people[0].drop("lead_id").write_parquet(tmp_path / "leads.parquet")
    with pytest.raises(ValueError, match=r"no id column 'lead_id' \(columns: .*job_title"):
        dedupe(pl.scan_parquet(tmp_path / "leads.parquet"))


def test_duplicated_or_missing_ids_are_refused_with_the_column_named(people):
    frame = people[0].head(50)
    twice = pl.concat([frame, frame.head(2)])
    first, second = frame["lead_id"].head(2).to_list()
    with pytest.raises(ValueError, match=r"id column 'lead_id' has 2 duplicated value") as err:
        dedupe(twice)
    # Each repeated id is named with the rows that hold it, so a person can find them.
    assert f"{first!r} at data rows 1, 51; {second!r} at data rows 2, 52" in str(err.value)
    blank = frame.with_columns(pl.lit(None, pl.String).alias("lead_id"))
    with pytest.raises(
        ValueError, match=r"has 50 empty value\(s\), at data row\(s\) 1, 2, 3, 4, 5 and 45"
    ):
        dedupe(blank)


def test_a_rare_full_name_is_paired_on_the_name_alone_a_common_one_is_not(people):
    # Zebulon Quartermaine changed job and wrote from home: nothing but the name in common,
    # which no other rule pairs on. Six records of Grace Hopper are paired on the name;
    # seven of Ada Lovelace, a name that common, are not (blocks of at most six).
    moved = [
        {
            "lead_id": f"zq-{where}",
            "first_name": "Zebulon",
            "last_name": "Quartermaine",
            "email": email,
            "company": f"{company.title()} Inc.",
            "website": f"{company}.com",
            "country": "US",
        }
        for where, email, company in (
            ("work", "zebulon.quartermaine@acme.com", "acme"),
            ("home", "zq1977@gmail.com", "hooli"),
        )
    ]
    companies = ("globex", "initech", "umbrella", "wonka", "stark", "wayne", "tyrell")
    namesakes = [
        {
            "lead_id": f"{key}-{company}",
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}@{company}.com",
            "company": f"{company.title()} Inc.",
            "website": f"{company}.com",
            "country": "US",
        }
        for key, first, last, count in (("gh", "Grace", "Hopper", 6), ("al", "Ada", "Lovelace", 7))
        for company in companies[:count]
    ]
    result = dedupe(_with(people[0], moved + namesakes))
    by_rule = result.pairs.filter(pl.col("blocking_rule") == "same_full_name")
    named = {
        tuple(sorted(pair[:2])): pair[2]
        for pair in by_rule.select("lead_id_l", "lead_id_r", "blocking_rule").rows()
    }
    assert ("zq-home", "zq-work") in named
    assert sum(key[0].startswith("gh-") for key in named) == 15  # every pair of six
    assert not any(key[0].startswith("al-") for key in named)


def test_levels_scored_on_undecided_pairs_only_equal_levels_scored_on_every_pair(people, resolved):
    # The levels compute a similarity only for the pairs no earlier level decided, unless
    # a veto reads it for every pair (`Comparator.whole`): the same levels either way.
    spec = load_spec("leads")
    work = add_fingerprints(people[0], spec)
    pairs = resolved.pairs.select("lead_id_l", "lead_id_r")
    index = {lead: i for i, lead in enumerate(work["lead_id"].to_list())}
    left = np.array([index[x] for x in pairs["lead_id_l"].to_list()])
    right = np.array([index[x] for x in pairs["lead_id_r"].to_list()])
    every = {(level.column or c.column, level.type) for c in spec.comparisons for level in c.levels}
    partial = Comparator(work).gamma(spec.comparisons, left, right)
    whole = Comparator(work, whole=frozenset(every)).gamma(spec.comparisons, left, right)
    assert len(left) > 500
    np.testing.assert_array_equal(partial, whole)


def test_vetoes_shared_with_a_busy_worker_rule_out_what_each_veto_does_alone():
    # The scoring's worker takes vetoes from the back of the list once the model is fitted:
    # however the vetoes fall between the two threads, the pairs ruled out are the same.
    people = [
        ("Fleur", "de Haan", "fleur.dehaan@matrix.nl"),
        ("Fleur", "de Graaf", "fleur.degraaf@matrix.nl"),
        ("Fleur", "de Haan", "fleur@matrix.nl"),
        ("William", "O'Connor", "william.oconnor@cr.ca"),
        ("Biloy", "O'Connor", "william.oconnor@cr.ca"),
        ("Ann", "Lee", "info@acme.com"),
        ("Tom", "Berg", "info@acme.com"),
        ("Tom", "Berg", "tom.berg2@acme.com"),
        ("Tom", "Berg", "tom.berg@acme.com"),
    ]
    records = [
        {"lead_id": str(i), "first_name": first, "last_name": last, "email": email}
        for i, (first, last, email) in enumerate(people)
    ]
    spec = load_spec("leads")
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), spec)
    left, right = np.triu_indices(len(records), k=1)
    alone = np.zeros(len(left), dtype=bool)
    for veto in spec.vetoes:
        single = spec.model_copy(update={"vetoes": [veto]})
        alone |= vetoed_pairs(Comparator(work), single, left, right)
    assert alone.any() and not alone.all()
    with ThreadPoolExecutor(max_workers=1) as busy:
        busy.submit(time.sleep, 0.2)
        shared = vetoed_pairs(Comparator(work), spec, left, right, helper=busy)
    assert shared.tolist() == alone.tolist()
    assert vetoed_pairs(Comparator(work), spec, left, right).tolist() == alone.tolist()
    # A helper free at once is handed its part before this thread starts on its own, so it
    # takes vetoes from the back of the list (here: all of them, as it runs at submit).
    at_once = _AtOnce()
    assert vetoed_pairs(Comparator(work), spec, left, right, helper=at_once).tolist() == (
        alone.tolist()
    )
    assert at_once.results[0].tolist() == alone.tolist()


def test_vetoed_pairs_skip_fuzzy_levels_and_the_other_pairs_read_as_before():
    # The scoring settles the vetoed pairs before comparing: their fuzzy levels are not
    # worked out (they read 'else'), their exact ones are, and every other pair reads
    # exactly as a full comparison has it.
    people = [
        ("Fleur", "de Haan", "fleur.dehaan@matrix.nl", "+31 20 555 0100", "12"),
        ("Fleur", "de Graaf", "fleur.degraaf@matrix.nl", "+31 20 555 0100", "14"),
        ("F.", "de Haan", "f.dehaan@matrix.nl", None, None),
        ("Frank", "de Haan", None, "+31 20 555 0100", "12"),
        ("William", "O'Connor", "william.oconnor@cr.ca", None, None),
        ("Biloy", "O'Connor", "william.oconnor@cr.ca", "+1 416 555 0199", None),
        ("Tom", "Berg", "tom.berg2@acme.com", "+1 416 555 0199", "7"),
        ("Tom", "Berg", "tom.berg@acme.com", "+1 416 555 0199", "8"),
        ("Tom", "Berg", None, None, None),
        ("Ann", None, "info@acme.com", None, None),
    ]
    records = [
        {
            "lead_id": str(i),
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone,
            "phone_extension": extension,
            "country": "NL",
            "company": "Matrix Solutions BV",
        }
        for i, (first, last, email, phone, extension) in enumerate(people)
    ]
    spec = load_spec("leads")
    work = add_fingerprints(_with(empty_frame(NORMALIZED_SCHEMA), records), spec)
    left, right = np.triu_indices(len(records), k=1)
    full = Comparator(work).gamma(spec.comparisons, left, right)
    comparator = Comparator(work)
    comparator.use_pairs(left, right)
    vetoed = vetoed_pairs(comparator, spec, left, right)
    assert vetoed.any() and not vetoed.all()
    comparator.settled = vetoed
    settled = comparator.gamma(spec.comparisons, left, right)
    assert settled[~vetoed].tolist() == full[~vetoed].tolist()
    fuzzy_met = False
    for k, comparison in enumerate(spec.comparisons):
        els = len(comparison.levels)
        for was, now in zip(full[vetoed, k], settled[vetoed, k], strict=True):
            kind = comparison.levels[was].type if 0 <= was < els else None
            if kind in ("jaro_winkler", "token_set", "osa", "swapped") and now != was:
                assert now == els  # a fuzzy level not worked out reads 'else'
                fuzzy_met = True
            else:
                assert now == was
    assert fuzzy_met  # the data has vetoed pairs with a fuzzy level (de Haan / de Graaf)
    # And a bare "another email, another person", where a missing email must not count as
    # another one.
    bare = Veto(column="email_canonical", type="differs", label="another email")
    rules = spec.model_copy(update={"vetoes": [bare]})
    another = vetoed_pairs(Comparator(work), rules, left, right)
    email = work["email_canonical"].to_numpy()
    expected = [
        a is not None and b is not None and a != b
        for a, b in zip(email[left], email[right], strict=True)
    ]
    assert another.tolist() == expected


class _AtOnce(Executor):
    """Runs each task when it is submitted, and keeps what it returned."""

    def __init__(self) -> None:
        self.results: list[np.ndarray] = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self.results.append(fn(*args, **kwargs))
        future.set_result(self.results[-1])
        return future


def test_explain_names_the_guard_that_keeps_a_likely_pair_apart(people):
    # Two Anna Vissers at one office, each with her own mobile: every field but the mobile
    # agrees, so the pair scores above the threshold, and the mobiles' cannot-link keeps
    # the two apart. The explanation names it, not a list of what it might be.
    office = {
        "first_name": "Anna",
        "last_name": "Visser",
        "company": "Lumant BV",
        "website": "lumant.nl",
        "phone": "+31 20 555 0100",
        "address": "Keizersgracht 12",
        "city": "Amsterdam",
        "job_title": "Buyer",
    }
    records = [
        {"lead_id": "anna-1", **office, "mobile_phone": "+31 6 1111 2222"},
        {"lead_id": "anna-2", **office, "mobile_phone": "+31 6 2222 3333"},
    ]
    result = dedupe(_with(people[0], records))
    explanation = explain_pair(result, "anna-1", "anna-2")
    assert explanation.match_probability >= result.threshold
    assert not explanation.same_entity
    assert explanation.kept_apart_by == ("a cannot-link on mobile_e164 between their records",)
    assert "keeps them apart: a cannot-link on mobile_e164" in explanation.render()


def test_explain_names_the_size_guard():
    explanation = PairExplanation(
        "a", "b", [], -10.0, 1.0, 0.95, 0.8, False,
        kept_apart_by=("the size guard (60 records together, at most 50)",),
    )  # fmt: skip
    assert "keeps them apart: the size guard (60 records together" in explanation.render()
