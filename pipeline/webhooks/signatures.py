"""Request signatures for the three webhook sources, computed exactly as each sender does.

HubSpot documents three versions (https://developers.hubspot.com/docs/api/webhooks/validating-requests):
v1 = sha256(secret + body) hex, v2 = sha256(secret + method + uri + body) hex, v3 =
base64(HMAC-SHA256(secret, method + uri + body + timestamp)) with the URI's reserved characters
URL-decoded and requests older than five minutes refused. Google Drive push notifications carry
the channel token we chose when we opened the watch. The email side signs like Stripe:
`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

MAX_AGE_SECONDS = 300

# HubSpot v3: these escapes in the request URI are decoded before signing.
_V3_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def _v3_uri(uri: str) -> str:
    for escaped, char in _V3_DECODE.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    return uri


def hubspot_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def hubspot_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(
        secret.encode() + method.upper().encode() + uri.encode() + body
    ).hexdigest()


def hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + _v3_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class SignatureError(Exception):
    """Why a request was refused; the message is safe to log and to return (no secrets)."""


def verify_hubspot(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: dict[str, str],
    *,
    accept_legacy: bool = True,
    now: float | None = None,
) -> str:
    """Check a HubSpot request; returns the version that matched or raises SignatureError.
    `headers` must have lower-case keys."""
    v3 = headers.get("x-hubspot-signature-v3")
    if v3:
        timestamp = headers.get("x-hubspot-request-timestamp", "")
        if not timestamp.isdigit():
            raise SignatureError("missing or malformed X-HubSpot-Request-Timestamp")
        age = (now if now is not None else time.time()) - int(timestamp) / 1000
        if age > MAX_AGE_SECONDS:
            raise SignatureError(f"request timestamp is {int(age)} s old (limit {MAX_AGE_SECONDS})")
        if age < -MAX_AGE_SECONDS:
            raise SignatureError("request timestamp is in the future")
        expected = hubspot_v3(secret, method, uri, body, timestamp)
        if hmac.compare_digest(expected, v3):
            return "v3"
        raise SignatureError("X-HubSpot-Signature-v3 does not match")
    legacy = headers.get("x-hubspot-signature")
    if legacy and accept_legacy:
        version = headers.get("x-hubspot-signature-version", "v1").lower()
        if version == "v1":
            expected = hubspot_v1(secret, body)
        elif version == "v2":
            expected = hubspot_v2(secret, method, uri, body)
        else:
            raise SignatureError(f"unknown X-HubSpot-Signature-Version {version[:10]!r}")
        if hmac.compare_digest(expected, legacy.lower()):
            return version
        raise SignatureError(f"X-HubSpot-Signature ({version}) does not match")
    if legacy:
        raise SignatureError("v1/v2 signatures are not accepted here; HubSpot v3 is required")
    raise SignatureError("no HubSpot signature header")


def verify_drive(token: str, headers: dict[str, str], channel_ids: frozenset[str]) -> None:
    """A Drive notification must carry our channel token and, when we know our channels,
    one of their ids."""
    sent = headers.get("x-goog-channel-token", "")
    if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
        raise SignatureError("X-Goog-Channel-Token does not match")
    channel = headers.get("x-goog-channel-id", "")
    if not channel:
        raise SignatureError("missing X-Goog-Channel-Id")
    if channel_ids and channel not in channel_ids:
        raise SignatureError("unknown X-Goog-Channel-Id")


def email_signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_email(secret: str, body: bytes, header: str, now: float | None = None) -> None:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, sent = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not sent:
        raise SignatureError("missing or malformed X-Email-Signature")
    age = (now if now is not None else time.time()) - int(timestamp)
    if abs(age) > MAX_AGE_SECONDS:
        raise SignatureError(f"signature timestamp is {int(age)} s off (limit {MAX_AGE_SECONDS})")
    expected = email_signature(secret, body, int(timestamp)).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, sent):
        raise SignatureError("X-Email-Signature does not match")
