"""The sync against HubSpot when things go wrong, through the official client and the fake
portal on loopback: partial failures (207) and whole-batch conflicts (409) on each batch kind,
the token refused mid-run, the daily quota spent mid-run, another app spending the shared
rate window; and the gaps closed with them: HubSpot's batch limits held by every method,
associations batched across contact batches and recorded, a never-synced survivor adopting
the merged entity's contact, free-text industries mapped onto HubSpot's options."""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from pipeline.crm.client import OutboxCrm
from pipeline.crm.hubspot import CrmAuthError, DailyQuotaReached, HubSpotCrm
from pipeline.crm.ledger import load_ledger, rejections
from pipeline.crm.mapping import load_mapping
from pipeline.crm.sync import sync_contacts
from pipeline.store import audit
from tests.contracts.hubspot_contract import assert_conforms
from tests.crm_fixtures import NO_MERGES, merges, scored
from tests.fakes.hubspot_server import (
    ASSOCIATE_CONTACTS_COMPANIES,
    COMPANIES_CREATE,
    CONTACTS_CREATE,
    CONTACTS_UPDATE,
    CONTACTS_UPSERT,
    Fault,
    HubSpotServer,
    HubSpotState,
    error_body,
)
from tests.test_crm_hubspot import CUSTOM


@pytest.fixture
def hubspot():
    state = HubSpotState(extra_properties={"contacts": CUSTOM})
    with HubSpotServer(state) as server:
        yield server
    assert_conforms(state.requests)


def client(server, store, **kw) -> HubSpotCrm:
    kw.setdefault("max_backoff_seconds", 0.2)
    return HubSpotCrm(server.state.access_token, server.url, engine=store, **kw)


def sync(server, store, frame, *, run_id="run", mode="upsert", events=NO_MERGES, crm=None, **kw):
    mapping = load_mapping()
    mapping.contacts.mode = mode
    crm = crm or client(server, store)
    return sync_contacts(frame, events, mapping, crm, store, run_id=run_id, **kw)


def found(store, run_id: str) -> dict[str, dict]:
    return {r["id_value"]: r for r in rejections(store, run_id)}


def associated(state: HubSpotState) -> int:
    return sum(1 for c in state.contacts.values() if state.contact_company_ids(c.id))


# --- 207: some records refused, the rest written ----------------------------------------


def test_create_207_rejects_the_existing_and_the_invalid_and_creates_the_rest(
    hubspot, sqlite_store
):
    state = hubspot.state
    taken = state.add_contact({"email": "person2@company2.com"})
    state.poison_emails = {"person3@company0.com"}
    report = sync(hubspot, sqlite_store, scored(6), mode="create_only", run_id="c207")
    assert (report.sent, report.rejected, report.created) == (6, 2, 4)
    refused = found(sqlite_store, "c207")
    assert refused["person2@company2.com"]["category"] == "CONFLICT"
    assert taken.id in refused["person2@company2.com"]["message"]
    assert refused["person3@company0.com"]["category"] == "VALIDATION_ERROR"
    assert len(state.contacts) == 5  # the seeded one and four created
    assert set(load_ledger(sqlite_store, "hubspot")["entity_id"]) == {
        "E00000",
        "E00001",
        "E00004",
        "E00005",
    }


def test_update_207_for_a_contact_deleted_in_hubspot(hubspot, sqlite_store):
    state = hubspot.state
    sync(hubspot, sqlite_store, scored(4))
    gone = state.contact_by_email("person1@company1.com")
    with state.lock:
        del state.contacts[gone.id]
    report = sync(hubspot, sqlite_store, scored(4, score=90), mode="update_only", run_id="u207")
    assert (report.sent, report.rejected) == (4, 1)
    assert found(sqlite_store, "u207")["person1@company1.com"]["category"] == "OBJECT_NOT_FOUND"
    assert state.contact_by_email("person0@company0.com").properties["lead_score"] == "90"


def test_company_207_leaves_contacts_synced_and_a_later_run_links_them(hubspot, sqlite_store):
    state = hubspot.state
    state.add_property("companies", "country", read_only=True)  # every company is refused
    report = sync(hubspot, sqlite_store, scored(6), run_id="co207")
    assert (report.sent, report.rejected, report.companies_rejected) == (6, 0, 3)
    assert len(state.contacts) == 6 and not state.companies and associated(state) == 0
    refused = found(sqlite_store, "co207")
    assert refused["company0.com"]["category"] == "VALIDATION_ERROR"
    assert "READ_ONLY_VALUE" in refused["company0.com"]["message"]
    state.add_property("companies", "country")  # fixed in the portal
    again = sync(hubspot, sqlite_store, scored(6), run_id="co-fixed")
    assert (again.sent, again.companies, again.associations) == (0, 3, 6)
    assert associated(state) == 6


def test_association_207_for_a_company_deleted_in_hubspot(hubspot, sqlite_store):
    state = hubspot.state
    sync(hubspot, sqlite_store, scored(3, domains=1))
    [company] = state.companies_by_domain("company0.com")
    with state.lock:
        del state.companies[company.id]  # our crm_companies still remembers its id
    report = sync(hubspot, sqlite_store, scored(5, domains=1), run_id="a207")
    assert (report.sent, report.associations, report.associations_rejected) == (2, 0, 2)
    refused = found(sqlite_store, "a207")
    assert refused["person3@company0.com"]["category"] == "OBJECT_NOT_FOUND"
    assert refused["person3@company0.com"]["message"].startswith("association with company0.com")
    assert len(state.contacts) == 5


# --- 409: the whole batch refused, the guilty records set apart -------------------------


def test_create_409_for_the_whole_batch_rejects_only_the_conflicting_contact(hubspot, sqlite_store):
    state = hubspot.state
    state.reject_whole_batch = True
    state.add_contact({"email": "person1@company1.com"})
    report = sync(hubspot, sqlite_store, scored(5), mode="create_only", run_id="c409")
    assert state.count(path=CONTACTS_CREATE, status=409) == 1
    assert (report.created, report.rejected) == (4, 1)
    assert found(sqlite_store, "c409")["person1@company1.com"]["category"] == "CONFLICT"


def test_upsert_409_naming_a_contact_resends_the_others(hubspot, sqlite_store):
    state = hubspot.state
    body = error_body(
        "Conflicting concurrent write", "CONFLICT", context={"ids": ["person2@company2.com"]}
    )
    state.force(Fault(409, body=body, path=CONTACTS_UPSERT))
    report = sync(hubspot, sqlite_store, scored(5), run_id="up409")
    assert (report.sent, report.rejected) == (5, 1)
    assert state.count(path=CONTACTS_UPSERT) == 2
    assert found(sqlite_store, "up409")["person2@company2.com"]["category"] == "CONFLICT"
    assert state.contact_by_email("person2@company2.com") is None
    assert sync(hubspot, sqlite_store, scored(5)).sent == 1  # retried on the next run


def test_update_409_for_an_email_another_contact_holds(hubspot, sqlite_store):
    state = hubspot.state
    sync(hubspot, sqlite_store, scored(3))
    state.reject_whole_batch = True
    frame = scored(3).with_columns(
        pl.when(pl.col("entity_id") == "E00000")
        .then(pl.lit("person1@company1.com"))
        .otherwise(pl.col("email"))
        .alias("email")
    )
    # E00000 now claims E00001's address: sent by id (an upsert would create a contact).
    report = sync(hubspot, sqlite_store, frame, run_id="u409")
    assert state.count(path=CONTACTS_UPDATE, status=409) == 1
    assert report.rejected == 1 and report.errors_by_category == {"CONFLICT": 1}
    assert len(state.contacts) == 3


def test_company_and_association_409s_are_retried_in_halves(hubspot, sqlite_store):
    state = hubspot.state
    state.force(Fault(409, path=COMPANIES_CREATE), Fault(409, path=ASSOCIATE_CONTACTS_COMPANIES))
    report = sync(hubspot, sqlite_store, scored(8, domains=4))
    assert state.count(path=COMPANIES_CREATE, status=409) == 1
    assert state.count(path=ASSOCIATE_CONTACTS_COMPANIES, status=409) == 1
    assert (report.companies, report.associations, report.rejected) == (4, 8, 0)
    assert len(state.companies) == 4 and associated(state) == 8


# --- the run stopped midway: token refused, daily quota spent ---------------------------


def test_a_token_revoked_mid_run_stops_it_and_a_rerun_finishes_without_duplicates(
    hubspot, sqlite_store
):
    state = hubspot.state

    def revoke_after_second(batch: int) -> None:
        if batch == 2:
            state.access_token = "rotated-token"

    with pytest.raises(CrmAuthError, match="401"):
        sync(hubspot, sqlite_store, scored(450), after_batch=revoke_after_second)
    ledger = load_ledger(sqlite_store, "hubspot")
    assert ledger.height == 200 and ledger["associated_domain"].null_count() == 200
    report = sync(hubspot, sqlite_store, scored(450))  # client() reads the new token
    assert (report.sent, report.unchanged, report.associations) == (250, 200, 450)
    assert len(state.contacts) == 450 and associated(state) == 450
    upserted = [
        i["id"]
        for s in state.requests
        if s.path == CONTACTS_UPSERT and s.status == 200
        for i in s.body["inputs"]
    ]
    assert len(upserted) == len(set(upserted)) == 450


def test_the_daily_quota_reached_mid_run_and_the_next_day_finishes(hubspot, sqlite_store):
    state = hubspot.state
    # 2 property checks + 1 search + 1 company create + 2 contact batches, then HubSpot's 429.
    state.daily_limit = 6
    with pytest.raises(DailyQuotaReached, match="daily limit"):
        sync(hubspot, sqlite_store, scored(450))
    assert state.count(status=429) == 1
    assert json.loads(state.requests[-1].body and json.dumps(state.requests[-1].body))["inputs"]
    assert load_ledger(sqlite_store, "hubspot").height == 200
    state.daily_limit = None
    state.reset_rate_limits()  # the next day
    report = sync(hubspot, sqlite_store, scored(450))
    assert (report.sent, report.associations) == (250, 450)
    assert len(state.contacts) == 450 and associated(state) == 450


def test_our_own_daily_budget_stops_before_sending(hubspot, sqlite_store):
    crm = client(hubspot, sqlite_store, daily_limit=5)
    with pytest.raises(DailyQuotaReached, match="budget"):
        sync(hubspot, sqlite_store, scored(450), crm=crm)
    assert hubspot.state.count(status=429) == 0 and len(hubspot.state.contacts) == 100


# --- 429 from another app: wait what HubSpot's headers say ------------------------------


def test_a_window_spent_by_another_app_waits_only_until_a_slot_frees(hubspot, sqlite_store):
    state = hubspot.state
    state.max_per_10s = 50
    state.other_app_requests(50, seconds_ago=9.4)  # their slots free up in 0.6 s
    crm = client(hubspot, sqlite_store)
    started = time.monotonic()
    report = sync(hubspot, sqlite_store, scored(20), crm=crm, run_id="shared")
    elapsed = time.monotonic() - started
    assert report.sent == 20 and state.count(status=429) >= 1
    # 10 s / 50 = 0.2 s, doubling: 0.2 + 0.4 (+ 0.8); never the whole 10-second window.
    assert 0.5 < elapsed < 4.0, elapsed
    assert 0.5 < crm.rate_limit_wait_seconds < 4.0


def test_retry_after_is_honoured(hubspot, sqlite_store):
    hubspot.state.force(Fault(429, headers={"Retry-After": "1"}, path=CONTACTS_UPSERT))
    started = time.monotonic()
    assert sync(hubspot, sqlite_store, scored(3)).sent == 3
    assert time.monotonic() - started >= 1.0


# --- HubSpot's batch limits, whoever calls ---------------------------------------------


def test_every_batch_method_splits_at_hubspots_limits(hubspot, sqlite_store):
    state = hubspot.state
    crm = client(hubspot, sqlite_store)
    contacts = pl.DataFrame(
        {
            "id_value": [f"p{i}@limit.io" for i in range(250)],
            "payload": [f'{{"email":"p{i}@limit.io"}}' for i in range(250)],
        }
    )
    ids = crm.upsert_contacts(contacts).ids
    assert len(ids) == 250 and state.count(path=CONTACTS_UPSERT) == 3
    domains = pl.DataFrame(
        {"domain": [f"d{i}.io" for i in range(250)], "payload": ['{"name":"D"}'] * 250}
    )
    companies = crm.ensure_companies(domains).ids  # 3 searches (100 values each), 3 creates
    assert len(companies) == 250 and state.count(path=COMPANIES_CREATE) == 3
    pairs = pl.DataFrame(
        {
            "id_value": [f"p{i % 250}@limit.io" for i in range(2100)],
            "contact_id": [ids[f"p{i % 250}@limit.io"] for i in range(2100)],
            "domain": [f"d{i % 250}.io" for i in range(2100)],
            "company_id": [companies[f"d{i % 250}.io"] for i in range(2100)],
        }
    )
    crm.associate(pairs)
    sizes = [
        len(s.body["inputs"]) for s in state.requests if s.path == ASSOCIATE_CONTACTS_COMPANIES
    ]
    assert sizes == [2000, 100]
    batches = [s.body for s in state.requests if s.path in (CONTACTS_UPSERT, COMPANIES_CREATE)]
    assert max(len(b["inputs"]) for b in batches) == 100


def test_associations_go_out_across_contact_batches_and_survive_a_crash(hubspot, sqlite_store):
    state = hubspot.state

    def crash_after_third(batch: int) -> None:
        if batch == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        sync(hubspot, sqlite_store, scored(450), after_batch=crash_after_third)
    assert state.count(path=ASSOCIATE_CONTACTS_COMPANIES) == 0  # still collecting
    assert load_ledger(sqlite_store, "hubspot")["associated_domain"].null_count() == 300
    report = sync(hubspot, sqlite_store, scored(450))
    assert (report.sent, report.associations, report.association_batches) == (150, 450, 1)
    assert state.count(path=ASSOCIATE_CONTACTS_COMPANIES) == 1  # 450 pairs, one call
    assert associated(state) == 450
    ledger = load_ledger(sqlite_store, "hubspot")
    assert ledger["associated_domain"].null_count() == 0
    assert sync(hubspot, sqlite_store, scored(450)).association_batches == 0


# --- merges: the survivor adopts the merged entity's contact -----------------------------


def test_a_never_synced_survivor_adopts_the_merged_entitys_contact(hubspot, sqlite_store):
    state = hubspot.state
    sync(hubspot, sqlite_store, scored(3))
    contact = state.contact_by_email("person1@company1.com")
    # The dedupe core merged E00001 into E09000, an entity never synced (another address).
    survivor = scored(1, start=9000).with_columns(pl.lit("E09000").alias("entity_id"))
    frame = pl.concat([scored(3).filter(pl.col("entity_id") != "E00001"), survivor])
    report = sync(hubspot, sqlite_store, frame, events=merges([("E09000", "E00001")]))
    assert (report.adopted, report.merges, report.created) == (1, 0, 0)
    assert len(state.contacts) == 3  # updated by id, not a new contact
    assert state.contact(contact.id).properties["email"] == "person9000@company0.com"
    assert state.contact(contact.id).properties["entity_id"] == "E09000"
    ledger = {r["entity_id"]: r for r in load_ledger(sqlite_store, "hubspot").iter_rows(named=True)}
    assert ledger["E09000"]["crm_id"] == contact.id and ledger["E00001"]["status"] == "merged"
    assert any(e["action"] == "hubspot.adopt_contact" for e in audit.entries(sqlite_store))
    again = sync(hubspot, sqlite_store, frame, events=merges([("E09000", "E00001")]))
    assert (again.adopted, again.sent) == (0, 0)


def test_adoption_in_the_outbox_updates_the_merged_entitys_planned_contact(store):
    mapping = load_mapping()
    sync_contacts(scored(2), NO_MERGES, mapping, OutboxCrm(store, "r1"), store, run_id="r1")
    survivor = scored(1, start=7).with_columns(pl.lit("E07777").alias("entity_id"))
    frame = pl.concat([scored(2).filter(pl.col("entity_id") != "E00001"), survivor])
    report = sync_contacts(
        frame, merges([("E07777", "E00001")]), mapping, OutboxCrm(store, "r2"), store, run_id="r2"
    )
    assert (report.adopted, report.sent) == (1, 1)
    ledger = {r["entity_id"]: r for r in load_ledger(store, "outbox").iter_rows(named=True)}
    assert ledger["E07777"]["crm_id"] == "entity:E00001"
    assert ledger["E07777"]["id_value"] == "person7@company1.com"


# --- industry: free text onto HubSpot's options -----------------------------------------


def test_free_text_industries_are_mapped_onto_the_portals_options(hubspot, sqlite_store):
    state = hubspot.state
    frame = scored(5, domains=5).with_columns(
        pl.Series(
            "industry",
            ["Computer Software", "Hospital & Health Care", "Insurence", "SaaS", "Basket weaving"],
        )
    )
    report = sync(hubspot, sqlite_store, frame)
    industries = {
        c.properties["domain"]: c.properties.get("industry") for c in state.companies.values()
    }
    assert industries == {
        "company0.com": "COMPUTER_SOFTWARE",  # exact (label)
        "company1.com": "HOSPITAL_HEALTH_CARE",  # exact, "&" aside
        "company2.com": "INSURANCE",  # fuzzy
        "company3.com": "COMPUTER_SOFTWARE",  # alias in mapping.yaml
        "company4.com": None,  # unmapped: not sent
    }
    assert report.companies_rejected == 0
    assert report.enumerations["companies.industry"] == {
        "exact": 2,
        "fuzzy": 1,
        "alias": 1,
        "unmapped": 1,
    }
    assert report.unmapped["companies.industry"] == {"Basket weaving": 1}
