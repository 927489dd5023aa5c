"""The fake HubSpot server, driven through the official SDK: if the SDK parses every answer
(with client-side validation on, so a missing required field fails), the CRM sync built on
the fake talks to HubSpot's real shapes."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm import companies, contacts, properties
from hubspot.crm.associations import v4
from urllib3.exceptions import ProtocolError

from tests.fakes.hubspot_server import (
    ASSOCIATE_CONTACTS_COMPANIES,
    CONTACTS_UPSERT,
    Fault,
    HubSpotServer,
    HubSpotState,
)

LEAD_PROPERTIES = [
    "lead_score",
    "lead_grade",
    "lead_source_file",
    "lead_score_reasons",
    "entity_id",
]


class TickingClock:
    """Each reading is one second later, so `updatedAt` changes are visible without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def state() -> HubSpotState:
    return HubSpotState(
        extra_properties={"contacts": LEAD_PROPERTIES},
        poison_emails={"poison@example.com"},
        clock=TickingClock(),
    )


@pytest.fixture
def server(state: HubSpotState) -> Iterator[HubSpotServer]:
    with HubSpotServer(state) as running:
        yield running


@pytest.fixture
def client(server: HubSpotServer) -> HubSpot:
    # client_side_validation makes the SDK's models refuse answers that lack required fields.
    return HubSpot(access_token="test-token", host=server.url, client_side_validation=True)


def upsert_input(
    *rows: tuple[str, dict[str, Any]],
) -> contacts.BatchInputSimplePublicObjectBatchInputUpsert:
    return contacts.BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            contacts.SimplePublicObjectBatchInputUpsert(id_property="email", id=email, properties=p)
            for email, p in rows
        ]
    )


def test_upsert_creates_then_updates_and_only_real_changes_move_updated_at(
    client: HubSpot, state: HubSpotState
) -> None:
    batch = client.crm.contacts.batch_api
    first = batch.upsert(upsert_input(("Ada@Example.com", {"firstname": "Ada", "lead_score": 91})))
    assert isinstance(first, contacts.BatchResponseSimplePublicUpsertObject)
    assert first.status == "COMPLETE"
    (created,) = first.results
    assert created.new is True
    assert created.properties["email"] == "ada@example.com"
    assert created.properties["lead_score"] == "91"  # HubSpot stores strings

    same = batch.upsert(upsert_input(("ada@example.com", {"firstname": "Ada"}))).results[0]
    assert (same.new, same.id, same.updated_at) == (False, created.id, created.updated_at)

    changed = batch.upsert(upsert_input(("ada@example.com", {"firstname": "Ada L."}))).results[0]
    assert changed.new is False and changed.updated_at > created.updated_at
    record = state.contact_by_email("ADA@example.com")
    assert record is not None and record.id == created.id
    assert record.properties["firstname"] == "Ada L."
    assert int(created.id) > 0 and state.contact(created.id) is record
    assert state.write_calls() == 3


def test_upsert_partial_failure_is_207_with_per_record_errors(
    client: HubSpot, state: HubSpotState
) -> None:
    answer, status, _headers = client.crm.contacts.batch_api.upsert_with_http_info(
        upsert_input(
            ("good@example.com", {"lead_grade": "A"}),
            ("not-an-email", {}),
            ("other@example.com", {"favourite_colour": "blue"}),
            ("poison@example.com", {}),
            ("stage@example.com", {"lifecyclestage": "hot"}),
        )
    )
    assert status == 207
    assert isinstance(answer, contacts.BatchResponseSimplePublicUpsertObjectWithErrors)
    assert [r.properties["email"] for r in answer.results] == ["good@example.com"]
    assert answer.num_errors == 4
    by_id = {e.context["ids"][0]: e for e in answer.errors}
    assert set(by_id) == {
        "not-an-email",
        "other@example.com",
        "poison@example.com",
        "stage@example.com",
    }
    assert all(e.status == "error" and e.category == "VALIDATION_ERROR" for e in answer.errors)
    assert by_id["not-an-email"].errors[0].code == "INVALID_EMAIL"
    assert "PROPERTY_DOESNT_EXIST" in by_id["other@example.com"].message
    assert by_id["poison@example.com"].errors[0].code == "INVALID_EMAIL"
    assert by_id["stage@example.com"].errors[0].code == "INVALID_OPTION"
    assert set(state.contact_by_email(e) for e in by_id) == {None}


def test_oversized_or_duplicated_batches_fail_whole(client: HubSpot, state: HubSpotState) -> None:
    batch = client.crm.contacts.batch_api
    rows = [(f"p{i}@example.com", {}) for i in range(101)]
    with pytest.raises(contacts.ApiException) as too_many:
        batch.upsert(upsert_input(*rows))
    assert too_many.value.status == 400
    body = json.loads(too_many.value.body)
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"] and "100" in body["message"]

    with pytest.raises(contacts.ApiException) as dupes:
        batch.upsert(upsert_input(("a@example.com", {}), ("A@example.com", {})))
    assert dupes.value.status == 400 and "Duplicate IDs" in json.loads(dupes.value.body)["message"]

    assert batch.upsert(upsert_input(*rows[:100])).results[99].new is True
    assert len(state.contacts) == 100


def test_reject_whole_batch_mode_writes_nothing(server: HubSpotServer, state: HubSpotState) -> None:
    state.reject_whole_batch = True
    batch = server.sdk().crm.contacts.batch_api
    with pytest.raises(contacts.ApiException) as failed:
        batch.upsert(upsert_input(("ok@example.com", {}), ("broken", {})))
    assert failed.value.status == 400
    assert json.loads(failed.value.body)["context"] == {"ids": ["broken"]}
    assert state.contacts == {}


def test_batch_create_update_read_and_get(client: HubSpot, state: HubSpotState) -> None:
    existing = state.add_contact({"email": "taken@example.com", "firstname": "Tess"})
    batch = client.crm.contacts.batch_api
    created, status, _ = batch.create_with_http_info(
        contacts.BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                contacts.SimplePublicObjectInputForCreate(properties={"email": "new@example.com"}),
                contacts.SimplePublicObjectInputForCreate(
                    properties={"email": "taken@example.com"}
                ),
            ]
        )
    )
    assert status == 207 and len(created.results) == 1
    (conflict,) = created.errors
    assert conflict.category == "CONFLICT"
    assert conflict.message == f"Contact already exists. Existing ID: {existing.id}"

    updated = batch.update(
        contacts.BatchInputSimplePublicObjectBatchInput(
            inputs=[
                contacts.SimplePublicObjectBatchInput(id=existing.id, properties={"city": "Oslo"})
            ]
        )
    )
    assert updated.results[0].properties["city"] == "Oslo"

    read, status, _ = batch.read_with_http_info(
        contacts.BatchReadInputSimplePublicObjectId(
            inputs=[contacts.SimplePublicObjectId(id=existing.id), {"id": "999999"}],
            properties=["email", "city"],
            properties_with_history=[],
        )
    )
    assert status == 207 and read.errors[0].context == {"ids": ["999999"]}
    assert read.results[0].properties["city"] == "Oslo"

    basic = client.crm.contacts.basic_api
    fetched = basic.get_by_id(existing.id, properties=["firstname", "lead_score"])
    assert fetched.properties["firstname"] == "Tess" and fetched.properties["lead_score"] is None
    assert basic.get_by_id("taken@example.com", id_property="email").id == existing.id
    with pytest.raises(contacts.ApiException) as missing:
        basic.get_by_id("424242")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_properties_list_includes_custom_ones(client: HubSpot) -> None:
    answer = client.crm.properties.core_api.get_all("contacts")
    assert isinstance(answer, properties.CollectionResponsePropertyNoPaging)
    names = {p.name for p in answer.results}
    assert {"email", "firstname", "hs_lead_status", *LEAD_PROPERTIES} <= names
    stage = next(p for p in answer.results if p.name == "lifecyclestage")
    assert stage.type == "enumeration" and "lead" in {o.value for o in stage.options}
    company_names = {p.name for p in client.crm.properties.core_api.get_all("companies").results}
    assert {"name", "domain", "industry", "numberofemployees"} <= company_names


def search_domain(
    client: HubSpot, domain: str
) -> companies.CollectionResponseWithTotalSimplePublicObjectForwardPaging:
    request = companies.PublicObjectSearchRequest(
        filter_groups=[
            companies.FilterGroup(
                filters=[companies.Filter(property_name="domain", operator="EQ", value=domain)]
            )
        ],
        properties=["name", "domain"],
        limit=10,
    )
    return client.crm.companies.search_api.do_search(request)


def test_company_search_and_create(client: HubSpot, state: HubSpotState) -> None:
    assert search_domain(client, "acme.io").total == 0
    created, status, _ = client.crm.companies.batch_api.create_with_http_info(
        companies.BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                companies.SimplePublicObjectInputForCreate(
                    properties={"name": "Acme", "domain": "acme.io", "industry": "INTERNET"}
                )
            ]
        )
    )
    assert status == 201 and isinstance(created, companies.BatchResponseSimplePublicObject)
    company_id = created.results[0].id
    found = search_domain(client, "ACME.io")
    assert found.total == 1 and found.results[0].id == company_id
    assert found.results[0].properties["name"] == "Acme"
    assert client.crm.companies.basic_api.get_by_id(company_id).properties["domain"] == "acme.io"
    assert [c.id for c in state.companies_by_domain("acme.io")] == [company_id]

    state.search_lag = 3600  # HubSpot's search index trails writes
    state.add_company({"name": "Fresh", "domain": "fresh.io"})
    assert search_domain(client, "fresh.io").total == 0


def test_default_associations_batch_and_single(client: HubSpot, state: HubSpotState) -> None:
    ada = state.add_contact({"email": "ada@example.com"})
    bob = state.add_contact({"email": "bob@example.com"})
    acme = state.add_company({"name": "Acme", "domain": "acme.io"})
    beta = state.add_company({"name": "Beta", "domain": "beta.io"})
    answer = client.crm.associations.v4.batch_api.create_default(
        "contacts",
        "companies",
        v4.BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                v4.PublicDefaultAssociationMultiPost(
                    _from=v4.PublicObjectId(id=ada.id), to=v4.PublicObjectId(id=acme.id)
                )
            ]
        ),
    )
    assert isinstance(answer, v4.BatchResponsePublicDefaultAssociation)
    (link,) = answer.results
    assert (link._from.id, link.to.id) == (ada.id, acme.id)
    assert link.association_spec.association_type_id == 279
    assert link.association_spec.association_category == "HUBSPOT_DEFINED"

    single = client.crm.associations.v4.basic_api.create_default(
        "contacts", bob.id, "companies", beta.id
    )
    assert single.results[0].to.id == beta.id
    page = client.crm.associations.v4.basic_api.get_page("contacts", ada.id, "companies")
    assert [r.to_object_id for r in page.results] == [acme.id]
    assert state.contact_company_ids(ada.id) == {acme.id}
    assert state.associated_ids("companies", beta.id, "contacts") == {bob.id}
    assert state.count(path=ASSOCIATE_CONTACTS_COMPANIES, status=200) == 1

    # A missing record is a per-input error (207). The SDK maps only 200 for this endpoint, so
    # it returns no body at all: a sync must use *_with_http_info and check the status.
    partial, status, _ = client.crm.associations.v4.batch_api.create_default_with_http_info(
        "contacts",
        "companies",
        v4.BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                v4.PublicDefaultAssociationMultiPost(
                    _from=v4.PublicObjectId(id=bob.id), to=v4.PublicObjectId(id="123")
                )
            ]
        ),
    )
    assert (partial, status) == (None, 207)
    assert state.contact_company_ids(bob.id) == {beta.id}


def test_merge_makes_a_new_record_and_old_ids_follow(client: HubSpot, state: HubSpotState) -> None:
    primary = state.add_contact({"email": "ada@example.com", "firstname": "Ada"})
    secondary = state.add_contact({"email": "ada.l@example.com", "city": "London"})
    acme = state.add_company({"name": "Acme"})
    state.associate("contacts", secondary.id, "companies", acme.id)

    merged = client.crm.contacts.basic_api.merge(
        contacts.PublicMergeInput(primary_object_id=primary.id, object_id_to_merge=secondary.id)
    )
    assert isinstance(merged, contacts.SimplePublicObject)
    assert merged.id not in (primary.id, secondary.id)
    assert merged.properties["email"] == "ada@example.com"
    assert merged.properties["city"] == "London"
    assert merged.properties["hs_additional_emails"] == "ada.l@example.com"
    assert set(state.contacts) == {merged.id}
    assert [(m.primary_id, m.merged_id, m.result_id) for m in state.merges] == [
        (primary.id, secondary.id, merged.id)
    ]
    basic = client.crm.contacts.basic_api
    assert basic.get_by_id(secondary.id).id == merged.id
    assert state.contact_company_ids(merged.id) == {acme.id}

    again = client.crm.contacts.batch_api.upsert(
        upsert_input(("ada.l@example.com", {"city": "Oslo"}))
    )
    assert (again.results[0].new, again.results[0].id) == (False, merged.id)
    assert state.contacts[merged.id].properties["email"] == "ada@example.com"


def test_wrong_token_is_401_with_hubspot_body(server: HubSpotServer, state: HubSpotState) -> None:
    intruder = HubSpot(access_token="nope", host=server.url)
    with pytest.raises(contacts.ApiException) as denied:
        intruder.crm.contacts.batch_api.upsert(upsert_input(("a@example.com", {})))
    assert denied.value.status == 401
    body = json.loads(denied.value.body)
    assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error"
    assert body["message"].startswith("Authentication credentials not found")
    assert body["correlationId"]
    assert state.contacts == {} and state.count(status=401) == 1


def test_ten_secondly_limit_counts_down_then_429(
    server: HubSpotServer, state: HubSpotState
) -> None:
    state.max_per_10s = 2
    core = server.sdk().crm.properties.core_api
    remaining = []
    for _ in range(2):
        _answer, status, headers = core.get_all_with_http_info("contacts")
        assert status == 200
        assert headers["X-HubSpot-RateLimit-Max"] == "2"
        assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        remaining.append(headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["1", "0"]
    with pytest.raises(properties.ApiException) as limited:
        core.get_all("contacts")
    error = limited.value
    assert error.status == 429
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert error.headers.get("Retry-After") is None
    body = json.loads(error.body)
    assert body == {
        **body,
        "status": "error",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
        "message": "You have reached your ten_secondly_rolling limit.",
    }
    assert body["correlationId"]


def test_daily_quota(server: HubSpotServer, state: HubSpotState) -> None:
    state.daily_limit = 1
    core = server.sdk().crm.properties.core_api
    _answer, _status, headers = core.get_all_with_http_info("contacts")
    assert (
        headers["X-HubSpot-RateLimit-Daily"],
        headers["X-HubSpot-RateLimit-Daily-Remaining"],
    ) == (
        "1",
        "0",
    )
    with pytest.raises(properties.ApiException) as limited:
        core.get_all("contacts")
    assert limited.value.status == 429
    assert json.loads(limited.value.body)["policyName"] == "DAILY"


def test_scripted_faults_then_normal_service(server: HubSpotServer, state: HubSpotState) -> None:
    batch = server.sdk().crm.contacts.batch_api
    state.force(
        429, 502, Fault(503, body={"status": "error", "message": "custom"}), Fault(drop=True)
    )
    with pytest.raises(contacts.ApiException) as first:
        batch.upsert(upsert_input(("a@example.com", {})))
    assert first.value.status == 429 and json.loads(first.value.body)["errorType"] == "RATE_LIMIT"
    with pytest.raises(contacts.exceptions.ServiceException) as second:
        batch.upsert(upsert_input(("a@example.com", {})))
    assert second.value.status == 502 and second.value.body.startswith("<html>")
    with pytest.raises(contacts.ApiException) as third:
        batch.upsert(upsert_input(("a@example.com", {})))
    assert json.loads(third.value.body)["message"] == "custom"
    with pytest.raises(ProtocolError):  # urllib3 does not retry a POST whose answer never came
        batch.upsert(upsert_input(("a@example.com", {})))
    assert batch.upsert(upsert_input(("a@example.com", {}))).results[0].new is True
    assert state.count(path=CONTACTS_UPSERT) == 5
    assert state.write_calls() == 5 and state.write_calls(successful_only=True) == 1


def test_concurrent_upserts_and_keep_alive(server: HubSpotServer, state: HubSpotState) -> None:
    state.latency = 0.2
    batch = server.sdk().crm.contacts.batch_api
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            batch.upsert(upsert_input(*[(f"w{n}-{i}@example.com", {}) for i in range(10)]))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(state.contacts) == 40 and len({c.id for c in state.contacts.values()}) == 40
    assert time.monotonic() - started < 0.2 * 3  # the latencies overlap: requests run in parallel

    state.latency = 0.0
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port))
    for _ in range(2):  # two requests down one connection
        connection.request(
            "GET", "/crm/v3/properties/companies", headers={"Authorization": "Bearer test-token"}
        )
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["results"]
    connection.close()


def test_list_pages_every_record_and_search_stops_at_its_ceiling(
    client: HubSpot, state: HubSpotState
) -> None:
    """The list endpoint pages by id through live (or archived) records, as the SDK's
    models parse them; a search pages by offset and refuses to go past 10,000 results."""
    from tests.fakes.hubspot_server import SEARCH_RESULT_CEILING

    for i in range(230):
        state.add_contact({"email": f"p{i}@x.com", "firstname": f"P{i}"})
    state.archive("contacts", "1005")
    basic = client.crm.contacts.basic_api
    seen, after = [], None
    while True:
        page = basic.get_page(limit=100, after=after, properties=["email", "firstname"])
        assert isinstance(
            page, contacts.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging
        )
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == 229 and "1005" not in seen and seen == sorted(seen, key=int)
    archived = basic.get_page(limit=100, archived="true")
    assert [r.id for r in archived.results] == ["1005"] and archived.results[0].archived
    assert archived.results[0].archived_at is not None
    with pytest.raises(contacts.ApiException) as refused:
        basic.get_page(limit=101)
    assert refused.value.status == 400
    search = client.crm.contacts.search_api
    request = contacts.PublicObjectSearchRequest(
        filter_groups=[
            contacts.FilterGroup(
                filters=[
                    contacts.Filter(property_name="hs_object_id", operator="GTE", value="1100")
                ]
            )
        ],
        sorts=[{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
        properties=["email"],
        limit=10,
        after="0",
    )
    found = search.do_search(public_object_search_request=request)
    assert found.total == 131 and found.results[0].id == "1230"  # ids 1100..1230
    request.after = str(SEARCH_RESULT_CEILING)
    with pytest.raises(contacts.ApiException) as beyond:
        search.do_search(public_object_search_request=request)
    assert beyond.value.status == 400 and "10000" in beyond.value.body
