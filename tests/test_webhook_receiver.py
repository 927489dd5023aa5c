"""The receiver end to end (ASGI, in process) on SQLite and Postgres: what is stored for each
kind of request, and what is answered."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from pipeline.store.inbox import InboxEvent, receipt_counts
from pipeline.store.tables import webhook_inbox
from pipeline.webhooks.app import create_app
from pipeline.webhooks.config import WebhookConfig
from pipeline.webhooks.signatures import email_signature, hubspot_v1, hubspot_v3

HUBSPOT_SECRET = "hs-client-secret-do-not-log"
DRIVE_TOKEN = "drive-token-do-not-log"
EMAIL_SECRET = "email-secret-do-not-log"
HUBSPOT_URL = "http://testserver/webhooks/hubspot"


def hubspot_body(*object_ids: int, occurred: int = 1_764_400_000_000) -> bytes:
    return json.dumps(
        [
            {
                "eventId": 100 + oid,
                "subscriptionId": 7,
                "portalId": 62515,
                "appId": 1,
                "occurredAt": occurred,
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": oid,
                "propertyName": "lifecyclestage",
                "propertyValue": "lead",
                "changeSource": "CRM",
            }
            for oid in object_ids
        ]
    ).encode()


def signed(body: bytes, secret: str = HUBSPOT_SECRET, url: str = HUBSPOT_URL) -> dict:
    ts = str(int(time.time() * 1000))
    return {
        "X-HubSpot-Signature-v3": hubspot_v3(secret, "POST", url, body, ts),
        "X-HubSpot-Request-Timestamp": ts,
        "Content-Type": "application/json",
    }


def config(url: str, **overrides) -> WebhookConfig:
    values = {
        "database_url": url,
        "hubspot_client_secret": HUBSPOT_SECRET,
        "drive_channel_token": DRIVE_TOKEN,
        "email_events_secret": EMAIL_SECRET,
        "max_body_bytes": 10_000,
    }
    return WebhookConfig(**{**values, **overrides})


@pytest.fixture
def client(store_url):
    with TestClient(create_app(config(store_url))) as test_client:
        yield test_client


def inbox_rows(store) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one()


def outcomes(store) -> dict[tuple[str, str], int]:
    return {(r["source"], r["outcome"]): r["count"] for r in receipt_counts(store)}


def test_signed_hubspot_events_are_committed_before_the_answer(client, store):
    body = hubspot_body(1, 2, 3)
    response = client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 0}
    assert inbox_rows(store) == 3


def test_a_redelivered_event_answers_2xx_without_a_second_row(client, store):
    body = hubspot_body(1, 2)
    client.post("/webhooks/hubspot", content=body, headers=signed(body))
    # HubSpot retries with a new attemptNumber: still the same event.
    retried = body.replace(b'"attemptNumber": 0', b'"attemptNumber": 3')
    response = client.post("/webhooks/hubspot", content=retried, headers=signed(retried))
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 2}
    assert inbox_rows(store) == 2
    assert outcomes(store)[("hubspot", "duplicate")] == 2


def test_same_event_id_on_another_object_is_not_a_duplicate(client, store):
    first = hubspot_body(1)
    other = first.replace(b'"objectId": 1', b'"objectId": 99')
    client.post("/webhooks/hubspot", content=first, headers=signed(first))
    response = client.post("/webhooks/hubspot", content=other, headers=signed(other))
    assert response.json() == {"accepted": 1, "duplicates": 0}


@pytest.mark.parametrize(
    "headers",
    [
        lambda body: signed(body, secret="wrong"),
        lambda body: signed(body + b" "),
        lambda body: {**signed(body), "X-HubSpot-Request-Timestamp": "1000"},
        lambda body: {},
    ],
    ids=["wrong secret", "tampered", "stale", "unsigned"],
)
def test_bad_signatures_get_401_and_store_nothing(client, store, headers):
    body = hubspot_body(1)
    response = client.post("/webhooks/hubspot", content=body, headers=headers(body))
    assert response.status_code == 401
    assert inbox_rows(store) == 0
    assert outcomes(store) == {("hubspot", "bad_signature"): 1}


def test_legacy_v1_signature_is_accepted_only_when_configured(store_url, store):
    body = hubspot_body(5)
    legacy = {"X-HubSpot-Signature": hubspot_v1(HUBSPOT_SECRET, body)}
    with TestClient(create_app(config(store_url))) as strict:
        assert strict.post("/webhooks/hubspot", content=body, headers=legacy).status_code == 401
    with TestClient(create_app(config(store_url, hubspot_accept_legacy=True))) as lenient:
        assert lenient.post("/webhooks/hubspot", content=body, headers=legacy).status_code == 200
    assert inbox_rows(store) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"{}", "non-empty JSON array"),
        (b'[{"eventId": 1}]', "event [0]: field 'subscriptionType'"),
    ],
)
def test_malformed_bodies_get_400_with_the_reason(client, store, body, reason):
    response = client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert inbox_rows(store) == 0


def test_an_oversized_body_is_refused_with_413_before_it_is_read(client, store):
    body = hubspot_body(*range(500))
    assert len(body) > 10_000
    response = client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert response.status_code == 413
    # Streamed without a Content-Length, the limit still holds.
    response = client.post(
        "/webhooks/hubspot", content=iter([body[:6000], body[6000:]]), headers=signed(body)
    )
    assert response.status_code == 413
    assert inbox_rows(store) == 0


def test_an_endpoint_without_its_secret_answers_503_and_says_which_variable(store_url, store):
    with TestClient(create_app(config(store_url, hubspot_client_secret=None))) as client:
        body = hubspot_body(1)
        response = client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert response.status_code == 503
    assert "HUBSPOT_CLIENT_SECRET" in response.json()["error"]
    assert inbox_rows(store) == 0


def drive_headers(state: str, number: int, token: str = DRIVE_TOKEN) -> dict[str, str]:
    return {
        "X-Goog-Channel-Token": token,
        "X-Goog-Channel-Id": "channel-1",
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": str(number),
        "X-Goog-Resource-Id": "res-1",
    }


def test_drive_sync_is_acknowledged_and_changes_are_stored_once(client, store):
    assert client.post("/webhooks/drive", headers=drive_headers("sync", 1)).json()["sync"]
    assert inbox_rows(store) == 0
    for _ in range(2):
        response = client.post("/webhooks/drive", headers=drive_headers("change", 2))
        assert response.status_code == 200
    assert inbox_rows(store) == 1
    bad = client.post("/webhooks/drive", headers=drive_headers("change", 3, token="x"))
    assert bad.status_code == 401
    assert inbox_rows(store) == 1


def email_request(events: list[dict], secret: str = EMAIL_SECRET) -> tuple[bytes, dict]:
    body = json.dumps(events).encode()
    return body, {"X-Email-Signature": email_signature(secret, body, int(time.time()))}


def test_email_events_are_verified_parsed_and_stored(client, store):
    events = [
        {"id": "ev-1", "type": "unsubscribe", "email": "A@x.com", "occurred_at": "2026-11-29"},
        {"id": "ev-2", "type": "bounce", "email": "b@x.com", "occurred_at": "2026-11-29T10:00Z"},
    ]
    body, headers = email_request(events)
    assert client.post("/webhooks/email-events", content=body, headers=headers).json() == {
        "accepted": 2,
        "duplicates": 0,
    }
    body, headers = email_request([{**events[0], "type": "opened"}])
    response = client.post("/webhooks/email-events", content=body, headers=headers)
    assert response.status_code == 400 and "field 'type'" in response.json()["error"]
    body, headers = email_request(events, secret="wrong")
    assert client.post("/webhooks/email-events", content=body, headers=headers).status_code == 401
    assert inbox_rows(store) == 2


def test_healthz_reports_the_store_and_enabled_endpoints(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["endpoints"] == {
        "hubspot": True,
        "drive": True,
        "email": True,
        "forms": True,  # the prospecting agent's form submissions, signed like HubSpot's
    }


def test_secrets_never_appear_in_responses_or_logs(store_url, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    with TestClient(create_app(config(store_url))) as client:
        body = hubspot_body(1)
        for headers in (signed(body), signed(body, secret="wrong"), {}):
            texts.append(client.post("/webhooks/hubspot", content=body, headers=headers).text)
        texts.append(client.post("/webhooks/drive", headers=drive_headers("x", 1, "t")).text)
        texts.append(client.get("/healthz").text)
    everything = "\n".join(texts) + caplog.text + repr(config(store_url))
    for secret in (HUBSPOT_SECRET, DRIVE_TOKEN, EMAIL_SECRET):
        assert secret not in everything


def test_two_deliveries_of_one_event_in_one_group_commit_answer_accepted_once():
    from pipeline.webhooks.writer import _Work, claim_new

    def work(*fingerprints: str) -> _Work:
        return _Work(
            [InboxEvent("hubspot", f, "contact.creation", "{}") for f in fingerprints], Counter()
        )

    first, second, third = work("a", "b"), work("a"), work("c", "c")
    shares = claim_new([first, second, third], inserted={"a", "b", "c"})
    assert shares == [{"a", "b"}, set(), {"c"}]


def test_an_event_repeated_inside_one_request_is_accepted_once(client, store):
    body = hubspot_body(1, 1)
    response = client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert response.json() == {"accepted": 1, "duplicates": 1}
    assert inbox_rows(store) == 1
