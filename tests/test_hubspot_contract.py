"""HubSpot's published request contract, held by every request the HubSpot backend sends.

The schemas in tests/contracts/hubspot were written from HubSpot's documentation (CRM objects
v3, associations v4, properties v3). The fake portal records every request it receives; after
a scenario that exercises each operation the backend has (syncs in every mode with companies,
a paged company search, associations, merges, an adopted record, the property checks, and
each batch method called directly with more inputs than HubSpot takes in one call), every
recorded body is validated; so are those of the CRM read as a source (list and search reads,
merges of proposals, updates by id), query strings included. A request that matches no
documented operation fails too.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from types import SimpleNamespace

import polars as pl
import pytest

from pipeline.crm.hubspot import HubSpotCrm
from pipeline.crm.mapping import load_mapping
from pipeline.crm.sync import sync_contacts
from tests.contracts.hubspot_contract import assert_conforms, violations
from tests.crm_fixtures import NO_MERGES, merges, scored
from tests.fakes.hubspot_server import (
    ASSOCIATE_CONTACTS_COMPANIES,
    COMPANIES_CREATE,
    COMPANIES_SEARCH,
    CONTACTS_CREATE,
    CONTACTS_MERGE,
    CONTACTS_UPDATE,
    CONTACTS_UPSERT,
    HubSpotServer,
    HubSpotState,
)
from tests.test_crm_hubspot import CUSTOM

NOW_LATER = datetime(2026, 11, 3, 12, 0)  # an incremental read two days after the first


def request(method: str, path: str, body: object) -> SimpleNamespace:
    return SimpleNamespace(method=method, path=path, body=body)


def test_the_schemas_catch_what_the_outside_check_found():
    search = {
        "limit": 200,
        "properties": ["domain", "name"],
        "filterGroups": [
            {"filters": [{"propertyName": "domain", "operator": "IN", "values": ["a.io"]}]}
        ],
    }
    found = violations([request("POST", COMPANIES_SEARCH, search)])
    assert len(found) == 2 and all("required property" in f for f in found)
    assert any("'after'" in f for f in found) and any("'sorts'" in f for f in found)
    conforming = search | {"sorts": ["hs_object_id"], "after": "0"}
    assert violations([request("POST", COMPANIES_SEARCH, conforming)]) == []

    create = {"inputs": [{"properties": {"email": "a@b.io"}}]}
    [missing] = violations([request("POST", CONTACTS_CREATE, create)])
    assert "'associations' is a required property" in missing
    create["inputs"][0]["associations"] = []
    assert violations([request("POST", CONTACTS_CREATE, create)]) == []


def test_the_schemas_hold_limits_types_and_unknown_operations():
    too_many = {"inputs": [{"id": f"p{i}@x.io", "properties": {}} for i in range(101)]}
    assert violations([request("POST", CONTACTS_UPSERT, too_many)])
    not_a_string = {"inputs": [{"id": "a@x.io", "properties": {"lead_score": 50}}]}
    assert (
        "50 is not of type 'string'"
        in violations([request("POST", CONTACTS_UPSERT, not_a_string)])[0]
    )
    pairs = {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}}] * 2001}
    assert violations([request("POST", ASSOCIATE_CONTACTS_COMPANIES, pairs)])
    assert violations([request("POST", CONTACTS_MERGE, {"primaryObjectId": "1"})])
    assert violations([request("GET", "/crm/v3/properties/contacts", {"x": 1})])
    assert violations([request("DELETE", "/crm/v3/objects/contacts/1", None)]) == [
        "#1 DELETE /crm/v3/objects/contacts/1: no documented operation"
    ]


@pytest.fixture
def portal():
    state = HubSpotState(extra_properties={"contacts": CUSTOM})
    with HubSpotServer(state) as server:
        yield server


def backend(server: HubSpotServer, store) -> HubSpotCrm:
    return HubSpotCrm(server.state.access_token, server.url, engine=store, max_backoff_seconds=0.2)


def run(server, store, frame, *, mode="upsert", events=NO_MERGES):
    mapping = load_mapping()
    mapping.contacts.mode = mode
    return sync_contacts(frame, events, mapping, backend(server, store), store, run_id=mode)


def test_every_request_the_backend_sends_conforms_to_hubspots_contract(portal, sqlite_store):
    state = portal.state
    # 210 companies share a domain the sync looks up: its search answer takes two pages.
    for i in range(210):
        state.add_company({"domain": "company0.com", "name": f"Duplicate {i}"})
    run(portal, sqlite_store, scored(250, domains=120))  # upserts, searches, creates, links
    run(portal, sqlite_store, scored(30, start=1000, domains=7), mode="create_only")
    run(portal, sqlite_store, scored(250, score=71, domains=120), mode="update_only")
    survivors = scored(250, score=71, domains=120).filter(pl.col("entity_id") != "E00001")
    run(portal, sqlite_store, survivors, events=merges([("E00000", "E00001")]))  # a merge
    # A survivor never synced adopts the record of the entity merged into it.
    adopted = pl.concat([survivors, scored(1, start=5000)]).filter(pl.col("entity_id") != "E00002")
    run(portal, sqlite_store, adopted, events=merges([("E05000", "E00002")]))

    crm = backend(portal, sqlite_store)
    many = pl.DataFrame(
        {
            "id_value": [f"direct{i}@contract.io" for i in range(250)],
            "payload": [f'{{"email":"direct{i}@contract.io"}}' for i in range(250)],
        }
    )
    assert len(crm.upsert_contacts(many).ids) == 250
    assert (
        len(
            crm.create_contacts(
                many.with_columns(
                    pl.col("id_value").str.replace("direct", "new"),
                    pl.col("payload").str.replace("direct", "new"),
                )
            ).ids
        )
        == 250
    )
    ids = crm.upsert_contacts(many).ids
    updates = many.with_columns(
        pl.Series("crm_ref", [ids[e] for e in many["id_value"]]),
        pl.lit('{"city":"Oslo"}').alias("payload"),
    )
    assert len(crm.update_contacts(updates).ids) == 250
    domains = pl.DataFrame(
        {
            "domain": [f"direct{i}.io" for i in range(150)],
            "payload": ['{"name":"Direct"}'] * 150,
        }
    )
    companies = crm.ensure_companies(domains).ids
    assert len(companies) == 150
    pairs = pl.DataFrame(
        {
            "id_value": [f"pair{i}" for i in range(2500)],
            "contact_id": [ids[f"direct{i % 250}@contract.io"] for i in range(2500)],
            "domain": [f"direct{i % 150}.io" for i in range(2500)],
            "company_id": [companies[f"direct{i % 150}.io"] for i in range(2500)],
        }
    )
    assert len(crm.associate(pairs).ids) == 2500

    calls = Counter(s.path for s in state.requests)
    for path in (
        CONTACTS_UPSERT,
        CONTACTS_CREATE,
        CONTACTS_UPDATE,
        CONTACTS_MERGE,
        COMPANIES_SEARCH,
        COMPANIES_CREATE,
        ASSOCIATE_CONTACTS_COMPANIES,
        "/crm/v3/properties/contacts",
        "/crm/v3/properties/companies",
    ):
        assert calls[path] > 0, f"the scenario never called {path}"
    paged = [s.body for s in state.requests if s.path == COMPANIES_SEARCH]
    assert any(body["after"] != "0" for body in paged), "no second search page was asked for"
    assert all(s.status < 400 for s in state.requests), "the scenario should not fail a call"
    assert_conforms(state.requests)


def test_the_schemas_hold_the_reading_limits():
    listing = "/crm/v3/objects/contacts"

    def get(path: str, query: dict) -> SimpleNamespace:
        return SimpleNamespace(method="GET", path=path, body=None, query=query)

    assert violations([get(listing, {"limit": "100", "after": "1100", "archived": "true"})]) == []
    assert violations([get(listing, {"limit": "101"})])  # pages of 100 at most
    assert violations([get(listing, {"archived": "True"})])  # the SDK's spelling of a bool
    assert violations([get(listing, {"properties": "email,first name"})])
    assert violations([get("/crm/v3/objects/contacts/12", {"properties": "hs_object_id"})]) == []
    search = {
        "limit": 200,
        "after": "9800",
        "properties": ["lastmodifieddate"],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1"}]}
        ],
    }
    assert violations([request("POST", "/crm/v3/objects/contacts/search", search)]) == []
    beyond = search | {"after": "10000"}  # past the 10,000-result ceiling: HubSpot's 400
    assert violations([request("POST", "/crm/v3/objects/contacts/search", beyond)])
    two_sorts = search | {"sorts": ["createdate", "hs_object_id"]}
    assert violations([request("POST", "/crm/v3/objects/contacts/search", two_sorts)])


def test_every_request_reading_the_crm_and_merging_its_duplicates_conforms(sqlite_store):
    """The CRM as a source: a full read and an incremental one, merge proposals approved and
    merged (the current ids read first), and the sync updating a contact by id. (The search
    ceiling's restarts and the reads by id of a bulk change are held to the contract in
    tests/test_crm_import.py.)"""
    from pipeline.crm.merges import approve, execute_approved
    from pipeline.crm.proposals import refresh
    from pipeline.crm.sync import merge_sender
    from tests.crm_source_helpers import client, file_leads, read_portal
    from tests.test_crm_source_sync import LEADS, _proposals, _seed, _sync

    state = HubSpotState(extra_properties={"contacts": CUSTOM})
    _seed(state)
    with HubSpotServer(state) as server:
        records, _ = read_portal(server)  # lists every record
        _sync(server, sqlite_store, file_leads(LEADS), records)  # an update by id
        proposals, _, _, _ = _proposals(server, sqlite_store, file_leads(LEADS))
        refresh(sqlite_store, "hubspot", proposals)
        approve(sqlite_store, proposals["id"].to_list(), "ann")
        crm = client(server, sqlite_store)
        execute_approved(crm, sqlite_store, send=merge_sender(sqlite_store))
        _, read = read_portal(server, records, now=NOW_LATER)  # an incremental read
        assert read.mode["contact"] == "incremental"
    paths = Counter((s.method, s.path) for s in state.requests)
    for call in (
        ("GET", "/crm/v3/objects/contacts"),
        ("GET", "/crm/v3/objects/companies"),
        ("POST", "/crm/v3/objects/contacts/search"),
        ("POST", "/crm/v3/objects/companies/search"),
        ("POST", CONTACTS_MERGE),
        ("POST", CONTACTS_UPDATE),
    ):
        assert paths[call] > 0, f"the scenario never called {call}"
    assert any(m == "GET" and p.startswith("/crm/v3/objects/contacts/") for m, p in paths)
    assert any(s.query.get("archived") == "true" for s in state.requests)
    assert all(s.status < 400 for s in state.requests), "the scenario should not fail a call"
    assert_conforms(state.requests)
