"""Records of two sources in one resolution (pipeline.dedupe.provenance): survivorship that
prefers a provenance, links a source vouches for (a CRM contact's additional addresses), which
the engine honours without learning from, and the golden records downstream stages get."""

from __future__ import annotations

import polars as pl

from pipeline.dedupe import dedupe, load_spec
from pipeline.dedupe.golden import golden_records
from pipeline.dedupe.labels import ordered
from pipeline.dedupe.provenance import (
    address_links,
    combined,
    lead_entities_only,
    with_links,
)
from tests.crm_source_helpers import file_leads
from tests.people import normalized, population

SPEC = load_spec("leads")


def _entity(rows: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.DataFrame(rows)
    for flag in ("email_valid", "phone_valid"):
        if flag not in frame.columns:
            frame = frame.with_columns(pl.lit(False).alias(flag))
    for column in SPEC.golden_fields:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    entities = pl.DataFrame({"lead_id": frame["lead_id"], "entity_id": ["E1"] * frame.height})
    return frame, entities


def test_the_crm_values_win_where_the_spec_prefers_the_crm_and_the_contact_has_one():
    frame, entities = _entity(
        [
            {"lead_id": "f1", "provenance": "file", "first_name": "Jenny", "job_title": "CEO",
             "phone_e164": "+14155550100", "phone_valid": True, "email": "j@new.io",
             "email_valid": True, "city": "Oakland", "source_file": "a.csv"},
            {"lead_id": "f2", "provenance": "file", "first_name": "Jenny", "job_title": "CEO",
             "phone_e164": "+14155550100", "phone_valid": True, "email": "j@new.io",
             "email_valid": True, "city": "Oakland", "source_file": "b.csv"},
            {"lead_id": "crm:7", "provenance": "crm", "first_name": "Jennifer",
             "job_title": "VP Sales", "phone_e164": None, "phone_valid": False,
             "email": "jen@old.io", "email_valid": True, "city": None, "source_file": "crm:x"},
        ]
    )  # fmt: skip
    golden = golden_records(frame, entities, SPEC).row(0, named=True)
    # Most frequent / most recent would have said Jenny, CEO: the CRM's values win...
    assert golden["first_name"] == "Jennifer" and golden["first_name__source"] == "crm:7"
    assert golden["job_title"] == "VP Sales" and golden["email"] == "jen@old.io"
    # ...where the contact has one.
    assert golden["phone_e164"] == "+14155550100" and golden["city"] == "Oakland"


def test_a_valid_address_still_beats_the_crms_invalid_one():
    frame, entities = _entity(
        [
            {"lead_id": "f1", "provenance": "file", "email": "ann@acme.io", "email_valid": True},
            {"lead_id": "crm:1", "provenance": "crm", "email": "ann@@acme", "email_valid": False},
        ]
    )
    assert golden_records(frame, entities, SPEC)["email"][0] == "ann@acme.io"


def test_without_a_provenance_column_survivorship_is_unchanged():
    rows = [
        {"lead_id": "a", "first_name": "Jenny", "provenance": "file"},
        {"lead_id": "b", "first_name": "Jenny", "provenance": "file"},
        {"lead_id": "c", "first_name": "Jennifer", "provenance": "crm"},
    ]
    frame, entities = _entity(rows)
    plain = golden_records(frame.drop("provenance"), entities, SPEC)
    assert plain["first_name"][0] == "Jenny"  # the most frequent, as before


def test_a_crm_contacts_additional_address_links_the_leads_that_use_it():
    leads = file_leads(
        [
            {"first_name": "Hannah", "last_name": "Schultz", "email": "hannah@northwind.io"},
            {"first_name": "Info", "email": "info@northwind.io"},
        ]
        + [{"first_name": f"P{i}", "email": "team@shared.io"} for i in range(4)]
    )
    crm = file_leads(
        [
            {
                "first_name": "Hannah",
                "last_name": "Schultz",
                "email": "hannah@home.net",
                # three addresses: one a lead's, one a role address, one shared by four
            }
        ],
        source_file="crm",
    ).with_columns(
        pl.lit("crm:8").alias("lead_id"),
        pl.lit("crm").alias("provenance"),
        pl.lit(["hannah@northwind.io", "info@northwind.io", "team@shared.io"]).alias(
            "additional_emails"
        ),
    )
    rows = combined(leads, crm)
    links = address_links(rows)
    assert links.rows() == [("crm:8", "tradeshow.csv-0", "match", False)]
    # A person's verdict on the same pair wins over the source's link.
    verdict = pl.DataFrame(
        {"left_id": ["tradeshow.csv-0"], "right_id": ["crm:8"], "label": ["no_match"]}
    )
    assert ordered(with_links(verdict, links))["label"].to_list() == ["no_match"]


def test_links_are_honoured_but_not_learned_from():
    raw, _truth = population(300)
    frame = normalized(raw)
    ids = frame["lead_id"].to_list()
    pairs = {"left_id": ids[0:40:2], "right_id": ids[1:41:2], "label": ["match"] * 20}

    def run(learn: bool):  # type: ignore[no-untyped-def]
        labels = pl.DataFrame({**pairs, "learn": [learn] * 20})
        return dedupe(frame, labels=labels)

    linked = run(learn=False)
    report = linked.report["labels"]
    assert report["must_link"] == 20  # the links bind...
    assert "learned" not in report  # ...and teach nothing
    entity = dict(linked.entities.select("lead_id", "entity_id").iter_rows())
    assert all(entity[a] == entity[b] for a, b in zip(pairs["left_id"], pairs["right_id"],
                                                      strict=True))  # fmt: skip
    # The same pairs as a person's labels are training data.
    assert run(learn=True).report["labels"]["learned"]["labelled_pairs"] > 0


def test_downstream_stages_get_the_entities_holding_a_lead_from_a_file():
    golden = pl.DataFrame({"entity_id": ["E1", "E2", "E3"], "record_count": [2, 1, 2]})
    entities = pl.DataFrame(
        {
            "lead_id": ["f1", "crm:1", "crm:2", "crm:3", "crm:4"],
            "entity_id": ["E1", "E1", "E2", "E3", "E3"],
        }
    )
    leads = pl.DataFrame({"lead_id": ["f1"]})
    assert lead_entities_only(golden, entities, leads)["entity_id"].to_list() == ["E1"]
