"""The CRM's contacts in the dedupe, and what the sync does with them: a lead already in the
CRM under another address updates that contact by id (never a second one, the values a person
keeps there left alone), a contact deleted in the CRM is not recreated, duplicates inside the
CRM are proposed for merging and merged only after approval, each merge once (a crash between
HubSpot's answer and recording it included), and a denied pair is never proposed again.

HubSpot is the fake portal over real HTTP through the official client; every request it
receives must conform to HubSpot's published contract."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest
from sqlalchemy import select

from pipeline.crm.mapping import load_mapping
from pipeline.crm.matches import entity_contacts
from pipeline.crm.merges import approve, deny, execute_approved, load_steps
from pipeline.crm.proposals import Scoring, build_proposals, denied_pairs, refresh, stored
from pipeline.crm.sync import merge_sender, sync_contacts
from pipeline.store import audit, pause
from pipeline.store.dedupe_labels import load_labels
from pipeline.store.tables import crm_merge_proposals, crm_merge_steps
from tests.contracts.hubspot_contract import assert_conforms
from tests.crm_fixtures import NO_MERGES
from tests.crm_source_helpers import (
    T0,
    client,
    entity_of,
    file_leads,
    read_portal,
    resolve_with_crm,
    scored_from,
)
from tests.fakes.hubspot_server import (
    CONTACTS_CREATE,
    CONTACTS_UPDATE,
    CONTACTS_UPSERT,
    HubSpotServer,
    HubSpotState,
)
from tests.test_crm_hubspot import CUSTOM

LEADS = [
    {  # Jennifer is in the portal under her personal address
        "first_name": "Jennifer",
        "last_name": "Walsh",
        "email": "jennifer.walsh@northwind-analytics.com",
        "phone": "+1 415 555 0142",
        "company": "Northwind Analytics",
        "job_title": "VP of Sales",
    },
    {"first_name": "Nina", "last_name": "Fresh", "email": "nina@fresh-start.io"},
    {  # Dmitri was deleted in the CRM
        "first_name": "Dmitri",
        "last_name": "Volkov",
        "email": "dmitri.volkov@outlook.com",
        "phone": "+44 20 7946 0555",
    },
]
MARIA = {
    "first_name": "Maria",
    "last_name": "Gonzalez",
    "email": "maria.gonzalez@acmefoods.com",
    "company": "Acme Foods",
}


def _seed(state: HubSpotState) -> dict[str, str]:
    ids = {}
    ids["jennifer"] = state.add_contact(
        {
            "email": "jen.walsh.sf@gmail.com",
            "firstname": "Jennifer",
            "lastname": "Walsh",
            "phone": "(415) 555-0142",
            "company": "Northwind Analytics",
            "jobtitle": "VP Sales",
        },
        created_at=T0,
    ).id
    # One person twice: the older record has no owner, the newer one has.
    ids["maria_old"] = state.add_contact(
        {
            "email": "maria.gonzalez@acmefoods.com",
            "firstname": "Maria",
            "lastname": "Gonzalez",
            "phone": "+1 305 555 0199",
            "company": "Acme Foods",
        },
        created_at=T0 - timedelta(days=900),
    ).id
    ids["maria_new"] = state.add_contact(
        {
            "email": "mgonzalez@gmail.com",
            "firstname": "Maria",
            "lastname": "Gonzalez",
            "phone": "(305) 555-0199",
            "company": "Acme Foods Inc",
            "hubspot_owner_id": "50001",
        },
        created_at=T0 - timedelta(days=30),
    ).id
    ids["olga"] = state.add_contact(
        {"email": "olga@baltic-amber.lv", "firstname": "Olga", "lastname": "Ivanova"},
        created_at=T0,
    ).id
    dmitri = state.add_contact(
        {"email": "dmitri.volkov@outlook.com", "firstname": "Dmitri", "lastname": "Volkov"},
        created_at=T0,
    )
    state.archive("contacts", dmitri.id)
    ids["dmitri"] = dmitri.id
    return ids


@pytest.fixture
def portal():
    state = HubSpotState(extra_properties={"contacts": CUSTOM})
    state.seeded = _seed(state)  # type: ignore[attr-defined]
    with HubSpotServer(state) as server:
        yield server
    assert_conforms(state.requests)


def _sync(server, store, leads, records, **kw):  # type: ignore[no-untyped-def]
    run, _, golden = resolve_with_crm(leads, records, labels=kw.pop("labels", None))
    scored = scored_from(golden)
    contacts = entity_contacts(scored.select("entity_id", "member_ids"), records,
                               load_steps(store, "hubspot"))  # fmt: skip
    report = sync_contacts(
        scored, NO_MERGES, load_mapping(), client(server, store), store, contacts=contacts, **kw
    )
    return report, run


def test_a_lead_already_in_the_crm_updates_that_contact_and_creates_no_other(portal, sqlite_store):
    state, ids = portal.state, portal.state.seeded
    records, _ = read_portal(portal)
    before = len(state.contacts)
    report, _ = _sync(portal, sqlite_store, file_leads(LEADS), records)
    assert report.updated_existing == 1 and report.deleted_in_crm == 1
    # Only Nina is new: Jennifer's lead went to her contact, Dmitri was deleted on purpose.
    assert len(state.contacts) == before + 1
    assert state.contact_by_email("nina@fresh-start.io") is not None
    assert state.contact_by_email("dmitri.volkov@outlook.com") is None
    updates = [i for s in state.requests if s.path == CONTACTS_UPDATE for i in s.body["inputs"]]
    assert [u["id"] for u in updates] == [ids["jennifer"]]
    jennifer = state.contact(ids["jennifer"]).properties
    # What a person keeps in HubSpot stays: her address, phone as typed, title; the pipeline's
    # own properties are written.
    assert jennifer["email"] == "jen.walsh.sf@gmail.com"
    assert jennifer["phone"] == "(415) 555-0142" and jennifer["jobtitle"] == "VP Sales"
    assert jennifer["lead_score"] == "60" and jennifer["entity_id"]
    assert "email" not in updates[0]["properties"] and "phone" not in updates[0]["properties"]
    assert report.preserved_crm_values >= 3
    # The CRM-only entities (Maria twice, Olga) are no leads: nothing is written to them.
    assert not [s for s in state.requests if s.path in (CONTACTS_CREATE,) and "olga" in str(s.body)]
    writes = state.write_calls()
    again, _ = _sync(portal, sqlite_store, file_leads(LEADS), records)
    assert state.write_calls() == writes and again.sent == 0


def test_an_entity_holding_two_crm_contacts_waits_for_the_merge_decision(portal, sqlite_store):
    state = portal.state
    records, _ = read_portal(portal)
    report, _ = _sync(portal, sqlite_store, file_leads([*LEADS, MARIA]), records)
    assert report.held_for_merge == 1
    maria_writes = [
        s
        for s in state.requests
        if s.path in (CONTACTS_UPDATE, CONTACTS_UPSERT, CONTACTS_CREATE)
        and "maria" in str(s.body).lower()
    ]
    assert maria_writes == [] and state.merges == []  # no merge without approval


def _proposals(portal, store, leads, rule=("oldest", "owner_set", "most_complete"),
               labels=None):  # type: ignore[no-untyped-def]  # fmt: skip
    records, _ = read_portal(portal)
    run, rows, _ = resolve_with_crm(leads, records, labels=labels)
    scoring = Scoring(
        spec_name="leads",
        model_json=json.loads(run.model["model_json"][0]),
        threshold=run.threshold,
        pairs=run.pairs,
        values=rows.join(run.fingerprints.drop([c for c in run.fingerprints.columns
                                                if c in rows.columns and c != "lead_id"]),
                         on="lead_id"),
    )  # fmt: skip
    proposals, kept_apart = build_proposals(
        run.entities,
        records,
        load_steps(store, "hubspot"),
        denied_pairs(load_labels(store)),
        rule,
        "hubspot",
        scoring,
    )
    return proposals, kept_apart, run, records


def test_duplicates_inside_the_crm_are_proposed_with_members_weight_and_reasons(
    portal, sqlite_store
):
    ids = portal.state.seeded
    proposals, _, _, _ = _proposals(portal, sqlite_store, file_leads(LEADS))
    assert proposals.height == 1
    row = proposals.row(0, named=True)
    assert row["member_ids"] == [ids["maria_old"], ids["maria_new"]]
    assert row["survivor_id"] == ids["maria_old"]  # the oldest
    assert row["match_weight"] > 10
    [why] = json.loads(row["explanation"])
    assert why["scored_in_run"] is True and why["other"] == ids["maria_new"]
    fields = {f["comparison"]: f for f in why["fields"]}
    assert fields["phone"]["level"] == "exact" and fields["phone"]["weight"] > 0
    assert fields["email"]["left"] == "maria.gonzalez@acmefoods.com"
    # The survivor rule is configurable: an owned record first.
    owned, _, _, _ = _proposals(portal, sqlite_store, file_leads(LEADS), ("owner_set", "oldest"))
    assert owned["survivor_id"][0] == ids["maria_new"]
    # An archived contact is never proposed: Dmitri's entity holds one live contact at most.
    assert all(ids["dmitri"] not in m for m in proposals["member_ids"].to_list())


def test_contacts_joined_only_through_a_lead_are_explained_by_comparing_them_now(sqlite_store):
    state = HubSpotState()
    # 'Xavi' on one contact: with the same full name on both the two would be paired
    # directly (dedupe's same_full_name rule pairs a name held by a few records).
    a = state.add_contact(
        {"email": "xq@gmail.com", "firstname": "Xavi", "lastname": "Quintero"}, created_at=T0
    ).id
    b = state.add_contact(
        {
            "email": "xavier@betacorp.com",
            "firstname": "Xavier",
            "lastname": "Quintero",
            "phone": "+1 617 555 0111",
            "company": "Beta Corp",
        },
        created_at=T0,
    ).id
    lead = {"first_name": "Xavier", "last_name": "Quintero", "email": "xq@gmail.com",
            "phone": "+1 617 555 0111"}  # fmt: skip
    with HubSpotServer(state) as server:
        proposals, _, run, _ = _proposals(server, sqlite_store, file_leads([lead]))
    assert proposals["member_ids"].to_list() == [[b, a]]  # same age, no owner: b is fuller
    [why] = json.loads(proposals["explanation"][0])
    assert why["scored_in_run"] is False and "fields" in why
    scored_pairs = set(zip(run.pairs["lead_id_l"], run.pairs["lead_id_r"], strict=True))
    assert (f"crm:{a}", f"crm:{b}") not in scored_pairs


class Crash(Exception):
    pass


def test_an_approved_merge_happens_once_though_the_run_dies_before_recording_it(portal, store):
    state, ids = portal.state, portal.state.seeded
    proposals, _, _, records = _proposals(portal, store, file_leads(LEADS))
    refresh(store, "hubspot", proposals)
    [pid] = proposals["id"].to_list()
    crm = client(portal, store)
    assert execute_approved(crm, store, send=merge_sender(store)).proposals == 0  # not yet
    assert state.merges == []
    assert approve(store, [pid], "ann@sales") == [pid]

    def crash(_member: str, _result: str) -> None:
        raise Crash

    with pytest.raises(Crash):
        execute_approved(crm, store, send=merge_sender(store), after_merge=crash)
    assert len(state.merges) == 1
    with store.connect() as conn:
        row = conn.execute(select(crm_merge_proposals).where(crm_merge_proposals.c.id == pid)).one()
        assert row.status == "approved" and row.claimed_at is None  # released for the next run
    report = execute_approved(crm, store, send=merge_sender(store), by="crm_sync")
    assert (report.merges_sent, report.merges_found, report.proposals) == (0, 1, 1)
    assert len(state.merges) == 1  # HubSpot merged once
    [merge] = state.merges
    assert (merge.primary_id, merge.merged_id) == (ids["maria_old"], ids["maria_new"])
    [done] = stored(store, "hubspot", ("merged",))
    assert done["result_id"] == merge.result_id
    with store.connect() as conn:
        steps = conn.execute(select(crm_merge_steps)).all()
    assert [(s.merged_id, s.how, s.result_id) for s in steps] == [
        (ids["maria_new"], "found", merge.result_id)
    ]
    actions = [e["action"] for e in audit.entries(store)]
    assert "crm.merge_approved" in actions and "hubspot.merge_recorded" in actions
    # Nothing left to do: a later run (the sync's) sends nothing.
    assert execute_approved(crm, store, send=merge_sender(store)).merges_sent == 0
    assert len(state.merges) == 1
    # The merged contacts now read as one: the next read records both old ids as merged.
    after, _ = read_portal(portal, records, store=store)
    merged = after.filter(pl.col("merged_into") == merge.result_id)["crm_id"].sort().to_list()
    assert merged == sorted([ids["maria_old"], ids["maria_new"]])


def test_the_ledger_follows_the_surviving_id(portal, sqlite_store):
    from pipeline.crm.ledger import load_ledger, record_synced

    ids = portal.state.seeded
    proposals, _, _, _ = _proposals(portal, sqlite_store, file_leads(LEADS))
    refresh(sqlite_store, "hubspot", proposals)
    with sqlite_store.begin() as conn:
        record_synced(
            conn,
            "hubspot",
            pl.DataFrame(
                {
                    "entity_id": ["E1"],
                    "id_value": ["mgonzalez@gmail.com"],
                    "crm_id": [ids["maria_new"]],
                    "properties": ["{}"],
                    "properties_hash": ["x"],
                    "associated_domain": [None],
                },
                schema_overrides={"associated_domain": pl.String},
            ),
            "run",
        )
    approve(sqlite_store, proposals["id"].to_list(), "ann")
    execute_approved(client(portal, sqlite_store), sqlite_store, send=merge_sender(sqlite_store))
    [merge] = portal.state.merges
    assert load_ledger(sqlite_store, "hubspot")["crm_id"].to_list() == [merge.result_id]


def test_the_kill_switch_stops_an_approved_merge_until_resumed(portal, sqlite_store):
    proposals, _, _, _ = _proposals(portal, sqlite_store, file_leads(LEADS))
    refresh(sqlite_store, "hubspot", proposals)
    approve(sqlite_store, proposals["id"].to_list(), "ann")
    pause.pause(sqlite_store, "ops", "checking an import")
    crm = client(portal, sqlite_store)
    with pytest.raises(pause.SideEffectsPaused, match="CRM merge batch of 1"):
        execute_approved(crm, sqlite_store, send=merge_sender(sqlite_store))
    assert portal.state.merges == []
    pause.resume(sqlite_store, "ops")
    assert execute_approved(crm, sqlite_store, send=merge_sender(sqlite_store)).proposals == 1
    assert len(portal.state.merges) == 1


def test_a_denied_pair_is_never_proposed_again(portal, sqlite_store):
    proposals, _, run, records = _proposals(portal, sqlite_store, file_leads(LEADS))
    refresh(sqlite_store, "hubspot", proposals)
    [pid] = proposals["id"].to_list()
    assert deny(sqlite_store, [pid], "ann", "two people sharing a desk") == [pid]
    labels = load_labels(sqlite_store)
    assert labels.select("label", "source").rows() == [("no_match", "crm_merge")]
    # Before the dedupe honours the label, the group is left out...
    again, kept_apart, _, _ = _proposals(portal, sqlite_store, file_leads(LEADS))
    assert again.is_empty() and kept_apart == 1
    # ...and once it has run (the label is a cannot-link), the two are two entities.
    rerun, _, _ = resolve_with_crm(
        file_leads(LEADS), records, labels=labels, previous=run.as_previous()
    )
    ids = portal.state.seeded
    assert entity_of(rerun.entities, f"crm:{ids['maria_old']}") != entity_of(
        rerun.entities, f"crm:{ids['maria_new']}"
    )
    refresh(sqlite_store, "hubspot", again)
    assert [r["status"] for r in stored(sqlite_store, "hubspot")] == ["denied"]
    assert portal.state.merges == []
