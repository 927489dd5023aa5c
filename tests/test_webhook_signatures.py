"""Signature checks against HubSpot's documented algorithm and examples."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from pipeline.webhooks.signatures import (
    SignatureError,
    email_signature,
    hubspot_v1,
    hubspot_v2,
    hubspot_v3,
    verify_drive,
    verify_email,
    verify_hubspot,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
DOC_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
NOW = 1_764_400_000.0
TS = str(int(NOW * 1000))
URI = "https://hooks.example.com/webhooks/hubspot?portal=62515"


def test_v1_matches_hubspots_documented_example():
    expected = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert hubspot_v1(SECRET, DOC_BODY) == expected


def test_v2_matches_hubspots_documented_get_example():
    expected = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert hubspot_v2(SECRET, "GET", "https://www.example.com/webhook_uri", b"") == expected


def test_v3_is_base64_hmac_sha256_of_method_uri_body_timestamp():
    message = b"POST" + URI.encode() + DOC_BODY + TS.encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    assert hubspot_v3(SECRET, "POST", URI, DOC_BODY, TS) == expected.decode()


def test_v3_decodes_the_documented_escapes_in_the_uri_before_signing():
    escaped = "https://hooks.example.com/webhooks/hubspot?next=%2Fa%3Ab%40c%2Cd"
    plain = "https://hooks.example.com/webhooks/hubspot?next=/a:b@c,d"
    assert hubspot_v3(SECRET, "POST", escaped, b"", TS) == hubspot_v3(
        SECRET, "POST", plain, b"", TS
    )


def v3_headers(signature: str, ts: str = TS) -> dict[str, str]:
    return {"x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": ts}


def test_a_valid_v3_request_passes():
    sig = hubspot_v3(SECRET, "POST", URI, DOC_BODY, TS)
    assert verify_hubspot(SECRET, "POST", URI, DOC_BODY, v3_headers(sig), now=NOW) == "v3"


@pytest.mark.parametrize(
    ("secret", "body", "uri", "reason"),
    [
        ("wrong-secret", DOC_BODY, URI, "does not match"),
        (SECRET, DOC_BODY.replace(b"123", b"124"), URI, "does not match"),
        (SECRET, DOC_BODY, URI + "&x=1", "does not match"),
    ],
    ids=["wrong secret", "tampered body", "different uri"],
)
def test_v3_refuses_wrong_secret_tampered_body_and_other_uri(secret, body, uri, reason):
    sig = hubspot_v3(secret, "POST", URI, DOC_BODY, TS)
    with pytest.raises(SignatureError, match=reason):
        verify_hubspot(SECRET, "POST", uri, body, v3_headers(sig), now=NOW)


def test_v3_refuses_a_request_older_than_five_minutes():
    old = str(int((NOW - 301) * 1000))
    sig = hubspot_v3(SECRET, "POST", URI, DOC_BODY, old)
    with pytest.raises(SignatureError, match="301 s old"):
        verify_hubspot(SECRET, "POST", URI, DOC_BODY, v3_headers(sig, old), now=NOW)
    fresh = str(int((NOW - 299) * 1000))
    sig = hubspot_v3(SECRET, "POST", URI, DOC_BODY, fresh)
    assert verify_hubspot(SECRET, "POST", URI, DOC_BODY, v3_headers(sig, fresh), now=NOW)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_legacy_signatures_pass_only_where_configured(version):
    sig = (
        hubspot_v1(SECRET, DOC_BODY)
        if version == "v1"
        else hubspot_v2(SECRET, "POST", URI, DOC_BODY)
    )
    headers = {"x-hubspot-signature": sig, "x-hubspot-signature-version": version}
    assert verify_hubspot(SECRET, "POST", URI, DOC_BODY, headers, accept_legacy=True) == version
    with pytest.raises(SignatureError, match="not accepted"):
        verify_hubspot(SECRET, "POST", URI, DOC_BODY, headers, accept_legacy=False)
    tampered = DOC_BODY + b" "
    with pytest.raises(SignatureError, match="does not match"):
        verify_hubspot(SECRET, "POST", URI, tampered, headers, accept_legacy=True)


def test_no_signature_at_all_is_refused():
    with pytest.raises(SignatureError, match="no HubSpot signature"):
        verify_hubspot(SECRET, "POST", URI, DOC_BODY, {})


def test_drive_needs_the_channel_token_and_a_known_channel():
    good = {"x-goog-channel-token": "tok", "x-goog-channel-id": "chan-1"}
    verify_drive("tok", good, frozenset())
    verify_drive("tok", good, frozenset({"chan-1"}))
    with pytest.raises(SignatureError, match="Token"):
        verify_drive("tok", {**good, "x-goog-channel-token": "nope"}, frozenset())
    with pytest.raises(SignatureError, match="unknown"):
        verify_drive("tok", good, frozenset({"chan-2"}))


def test_email_events_signature_round_trip_and_staleness():
    header = email_signature("s", b"{}", int(NOW))
    verify_email("s", b"{}", header, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify_email("s", b"{ }", header, now=NOW)
    with pytest.raises(SignatureError, match="off"):
        verify_email("s", b"{}", header, now=NOW + 400)
    with pytest.raises(SignatureError, match="malformed"):
        verify_email("s", b"{}", "garbage", now=NOW)
