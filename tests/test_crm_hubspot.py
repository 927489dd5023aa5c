"""The CRM sync against a stateful fake HubSpot (real HTTP through the official client):
creates, zero-write re-runs, exact diffs, 207 rejections, crash and re-run, merges, modes,
rate limits and manual edits arriving by webhook."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipeline.crm.changes import apply_hubspot_event
from pipeline.crm.hubspot import CrmAuthError, HubSpotCrm
from pipeline.crm.ledger import load_ledger, rejections
from pipeline.crm.mapping import MappingError, load_mapping
from pipeline.crm.sync import sync_contacts
from pipeline.store import audit
from tests.contracts.hubspot_contract import assert_conforms
from tests.crm_fixtures import NO_MERGES, merges, scored
from tests.fakes.hubspot_server import CONTACTS_UPSERT, HubSpotServer, HubSpotState

CUSTOM = ["lead_score", "lead_grade", "lead_score_reasons", "lead_source_file", "entity_id"]


@pytest.fixture
def hubspot():
    """The fake portal; when the test ends, every request the backend sent must conform to
    HubSpot's published contract (tests/contracts/hubspot)."""
    state = HubSpotState(extra_properties={"contacts": CUSTOM})
    with HubSpotServer(state) as server:
        yield server
    assert_conforms(state.requests)


def client(server, store, **kw) -> HubSpotCrm:
    return HubSpotCrm(
        server.state.access_token, server.url, engine=store, max_backoff_seconds=0.2, **kw
    )


def sync(server, store, frame, *, run_id="run", mode="upsert", events=NO_MERGES, **kw):
    mapping = load_mapping()
    mapping.contacts.mode = mode
    return sync_contacts(frame, events, mapping, client(server, store), store, run_id=run_id, **kw)


def upserted_inputs(state) -> list[dict]:
    return [i for s in state.requests if s.path == CONTACTS_UPSERT for i in s.body["inputs"]]


def test_first_sync_creates_contacts_companies_and_associations(hubspot, sqlite_store):
    state = hubspot.state
    report = sync(hubspot, sqlite_store, scored(250, domains=4))
    assert len(state.contacts) == 250 and len(state.companies) == 4
    assert report.created == 250 and report.batches == 3  # 100 + 100 + 50
    contact = state.contact_by_email("person7@company3.com")
    assert contact.properties["lead_score"] == "50"
    assert contact.properties["lead_score_reasons"] == "+25 VP-level title"
    [company_id] = state.contact_company_ids(contact.id)
    assert state.company(company_id).properties["domain"] == "company3.com"
    ledger = load_ledger(sqlite_store, "hubspot")
    assert ledger.filter(pl.col("crm_id").is_null()).is_empty()


def test_an_unchanged_rerun_makes_zero_write_calls(hubspot, sqlite_store):
    sync(hubspot, sqlite_store, scored(120))
    writes = hubspot.state.write_calls()
    report = sync(hubspot, sqlite_store, scored(120))
    assert hubspot.state.write_calls() == writes
    assert (report.sent, report.unchanged) == (0, 120)


def test_a_changed_score_sends_exactly_those_contacts(hubspot, sqlite_store):
    sync(hubspot, sqlite_store, scored(120))
    before = len(upserted_inputs(hubspot.state))
    changed = {"E00005", "E00077", "E00110"}
    frame = scored(120).with_columns(
        pl.when(pl.col("entity_id").is_in(list(changed)))
        .then(88)
        .otherwise(pl.col("lead_score"))
        .alias("lead_score")
    )
    report = sync(hubspot, sqlite_store, frame)
    sent = upserted_inputs(hubspot.state)[before:]
    assert sorted(i["properties"]["entity_id"] for i in sent) == sorted(changed)
    assert report.changed == 3 and report.created == 0
    assert hubspot.state.contact_by_email("person77@company2.com").properties["lead_score"] == "88"


def test_partial_failures_land_in_rejections_and_the_rest_is_synced(hubspot, sqlite_store):
    hubspot.state.poison_emails = {"person3@company0.com", "person4@company1.com"}
    report = sync(hubspot, sqlite_store, scored(10), run_id="run-207")
    assert report.rejected == 2 and report.sent == 10
    assert report.rejected_rate == pytest.approx(0.2)
    assert len(hubspot.state.contacts) == 8
    found = {r["id_value"]: r for r in rejections(sqlite_store, "run-207")}
    assert set(found) == {"person3@company0.com", "person4@company1.com"}
    assert found["person3@company0.com"]["category"] == "VALIDATION_ERROR"
    assert found["person3@company0.com"]["entity_id"] == "E00003"
    assert json.loads(found["person3@company0.com"]["input"])["email"] == "person3@company0.com"
    # Rejected records are not in the ledger, so the next run tries them again.
    hubspot.state.poison_emails = set()
    again = sync(hubspot, sqlite_store, scored(10))
    assert (again.sent, again.rejected) == (2, 0)


class Crash(Exception):
    pass


def test_a_crash_after_batch_k_and_a_rerun_give_every_contact_once(hubspot, store):
    def crash_after_second(batch: int) -> None:
        if batch == 2:
            raise Crash

    with pytest.raises(Crash):
        sync(hubspot, store, scored(450), after_batch=crash_after_second)
    assert len(hubspot.state.contacts) == 200
    report = sync(hubspot, store, scored(450))
    assert report.sent == 250 and report.unchanged == 200
    assert len(hubspot.state.contacts) == 450
    emails = [c.properties["email"] for c in hubspot.state.contacts.values()]
    assert len(set(emails)) == 450
    assert len(upserted_inputs(hubspot.state)) == 450  # nothing sent twice


def test_dedupe_merges_merge_the_hubspot_contacts_and_keep_the_survivor(hubspot, sqlite_store):
    sync(hubspot, sqlite_store, scored(3))
    first = hubspot.state.contact_by_email("person0@company0.com").id
    second = hubspot.state.contact_by_email("person1@company1.com").id
    events = merges([("E00000", "E00001")])
    remaining = scored(3).filter(pl.col("entity_id") != "E00001")
    report = sync(hubspot, sqlite_store, remaining, events=events)
    assert report.merges == 1
    [merge] = hubspot.state.merges
    assert (merge.primary_id, merge.merged_id) == (first, second)
    ledger = {r["entity_id"]: r for r in load_ledger(sqlite_store, "hubspot").iter_rows(named=True)}
    assert ledger["E00001"]["status"] == "merged"
    assert ledger["E00000"]["crm_id"] == merge.result_id
    assert any(e["action"] == "hubspot.merge_contacts" for e in audit.entries(sqlite_store))
    again = sync(hubspot, sqlite_store, remaining, events=events)
    assert again.merges == 0 and len(hubspot.state.merges) == 1


def test_update_only_and_create_only(hubspot, sqlite_store):
    sync(hubspot, sqlite_store, scored(3), mode="create_only")
    frame = scored(5, score=77)
    update = sync(hubspot, sqlite_store, frame, mode="update_only")
    assert (update.sent, update.skipped_by_mode) == (3, 2)
    assert len(hubspot.state.contacts) == 3
    assert hubspot.state.contact_by_email("person2@company2.com").properties["lead_score"] == "77"
    create = sync(hubspot, sqlite_store, frame, mode="create_only")
    assert create.sent == 2 and len(hubspot.state.contacts) == 5


def test_a_manual_edit_arriving_by_webhook_is_not_overwritten(hubspot, sqlite_store):
    sync(hubspot, sqlite_store, scored(2))
    contact = hubspot.state.contact_by_email("person1@company1.com")
    contact.properties["jobtitle"] = "Chief Revenue Officer"  # a salesperson's edit
    for prop, value in (("jobtitle", "Chief Revenue Officer"), ("lead_score", "99")):
        apply_hubspot_event(
            sqlite_store,
            f"fp-{prop}",
            {
                "subscriptionType": "contact.propertyChange",
                "objectId": int(contact.id),
                "propertyName": prop,
                "propertyValue": value,
                "changeSource": "CRM_UI",
                "occurredAt": 1_764_400_000_000,
            },
        )
    frame = scored(2, score=61).with_columns(pl.lit("Head of Sales").alias("job_title"))
    report = sync(hubspot, sqlite_store, frame)
    props = hubspot.state.contact_by_email("person1@company1.com").properties
    assert props["jobtitle"] == "Chief Revenue Officer"  # not owned: kept
    assert props["lead_score"] == "61"  # owned by the pipeline: overwritten
    other = hubspot.state.contact_by_email("person0@company0.com").properties
    assert other["jobtitle"] == "Head of Sales"
    assert report.preserved_manual_edits == 1


def test_the_client_side_limiter_avoids_429_and_429s_are_retried(hubspot, sqlite_store):
    hubspot.state.max_per_10s = 12
    mapping = load_mapping()
    crm = client(hubspot, sqlite_store, requests_per_10s=12)
    sync_contacts(scored(30), NO_MERGES, mapping, crm, sqlite_store, batch_size=10)
    assert hubspot.state.count(status=429) == 0
    hubspot.state.max_per_10s = None
    hubspot.state.force(429, 502)
    crm = client(hubspot, sqlite_store)
    report = sync_contacts(scored(31), NO_MERGES, mapping, crm, sqlite_store)
    assert report.sent == 1 and crm.retries == 2


def test_unknown_mapped_properties_are_a_clear_error(hubspot, sqlite_store):
    state = HubSpotState()  # a portal without the custom properties
    with HubSpotServer(state) as bare, pytest.raises(MappingError, match="lead_score"):
        sync(bare, sqlite_store, scored(1))


def test_a_refused_token_is_an_auth_error_without_the_token(hubspot, sqlite_store):
    crm = HubSpotCrm("pat-wrong-token", hubspot.url, engine=sqlite_store)
    with pytest.raises(CrmAuthError) as caught:
        sync_contacts(scored(1), NO_MERGES, load_mapping(), crm, sqlite_store)
    assert "pat-wrong-token" not in str(caught.value)
    with pytest.raises(CrmAuthError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotCrm("", hubspot.url)


def test_companies_are_searched_100_domains_at_a_time_and_existing_ones_reused(
    hubspot, sqlite_store
):
    from tests.fakes.hubspot_server import COMPANIES_SEARCH

    existing = hubspot.state.add_company({"domain": "company7.com", "name": "Seven"})
    sync(hubspot, sqlite_store, scored(250, domains=250))
    assert hubspot.state.count(path=COMPANIES_SEARCH) == 3
    assert len(hubspot.state.companies) == 250
    seven = hubspot.state.contact_by_email("person7@company7.com")
    assert hubspot.state.contact_company_ids(seven.id) == {existing.id}
