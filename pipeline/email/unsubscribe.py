"""One-click unsubscribe links (RFC 8058) and their signed tokens.

Each message carries `List-Unsubscribe: <https://.../unsubscribe/TOKEN>, <mailto:...>` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The token names the recipient and the
message and is signed (HMAC-SHA256) so the receiver needs no login and nobody can
unsubscribe someone else. The key is UNSUBSCRIBE_SECRET, or, unset, one generated once and
kept in the operational store, which every process (the tick that writes the links, the
receiver that honours them) reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Engine, select

from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import signing_keys

KEY_NAME = "unsubscribe"
SIGNATURE_BYTES = 16


class BadToken(ValueError):
    """The token was not made here, or was altered."""


@dataclass(frozen=True)
class Unsubscribe:
    email: str
    message: str  # the idempotency key of the message the link came in
    purpose: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(engine: Engine, secret: str | None) -> bytes:
    """UNSUBSCRIBE_SECRET, or the store's generated key (created by the first caller)."""
    if secret:
        return secret.encode()
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, signing_keys)
            .values(name=KEY_NAME, key=secrets.token_urlsafe(48), created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return (
            conn.execute(select(signing_keys.c.key).where(signing_keys.c.name == KEY_NAME))
            .scalar_one()
            .encode()
        )


class UnsubscribeLinks:
    """Signs and checks tokens; builds the two List-Unsubscribe headers."""

    def __init__(self, key: bytes, public_url: str, mailto: str | None = None) -> None:
        self._key = key
        self.public_url = public_url.rstrip("/")
        self.mailto = mailto

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def token(self, email: str, message: str, purpose: str) -> str:
        payload = json.dumps(
            {"e": email.lower(), "m": message, "p": purpose}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str) -> Unsubscribe:
        try:
            body, signature = token.split(".", 1)
            payload = _unb64(body)
            given = _unb64(signature)
        except (ValueError, TypeError) as exc:
            raise BadToken("malformed unsubscribe token") from exc
        if not hmac.compare_digest(given, self._mac(payload)):
            raise BadToken("unsubscribe token signature does not match")
        data = json.loads(payload)
        return Unsubscribe(email=data["e"], message=data["m"], purpose=data["p"])

    def url(self, token: str) -> str:
        return f"{self.public_url}/unsubscribe/{token}"

    def headers(
        self, email: str, message: str, purpose: str, mailbox: str, mailto: str | None = None
    ) -> dict[str, str]:
        token = self.token(email, message, purpose)
        mailto = mailto or self.mailto or mailbox
        subject = quote(f"unsubscribe {token}")
        return {
            "List-Unsubscribe": f"<{self.url(token)}>, <mailto:{mailto}?subject={subject}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
