"""A local HTTP server that answers like Google's OAuth token endpoint and API hosts.

The token endpoint (`/token`) grants access tokens for a service account's signed JWT
assertion (checking the signature against the key the test generated, and recording the
`sub` it asks to impersonate) and for an OAuth refresh token. API routes are registered per
test or per fake (Drive, Gmail, Calendar) as `(method, path regex) -> handler`; every
request is recorded, and errors use Google's JSON shape
(`{"error": {"code", "message", "status", "errors": [{"reason", "message", "domain"}]}}`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes -> raw
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=UTF-8"


Handler = Callable[[Request, re.Match[str]], Reply]


def google_error(status: int, reason: str, message: str, domain: str = "global") -> Reply:
    """Google's JSON error body, as its APIs send it."""
    statuses = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    return Reply(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "status": statuses.get(status, "UNKNOWN"),
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
    )


@dataclass
class GoogleState:
    public_key: Any = None  # of the service account the tests generated
    refresh_tokens: set[str] = field(default_factory=lambda: {"refresh-1"})
    # Subjects (impersonated users) the domain allows; None: any.
    allowed_subjects: set[str] | None = None
    tokens: dict[str, str | None] = field(default_factory=dict)  # access token -> subject
    # API keys accepted as `key=` (APIs called with a key instead of OAuth).
    api_keys: set[str] = field(default_factory=set)
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    def subject_of(self, request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return self.tokens.get(token)


def _b64url_decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _decode_assertion(assertion: str, public_key: Any) -> dict[str, Any]:
    """Verify an RS256 JWT with the service account's public key (what Google does)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header, payload, signature = assertion.split(".")
    public_key.verify(
        _b64url_decode(signature),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(_b64url_decode(payload))


class _Handler(BaseHTTPRequestHandler):
    server: GoogleApiServer

    def log_message(self, *_args: object) -> None:
        pass

    def _handle(self) -> None:
        state = self.server.state
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            self.command,
            url.path,
            parse_qs(url.query),
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length) if length else b"",
            time.monotonic(),
        )
        with state.lock:
            state.requests.append(request)
        self._send(self._token(request) if url.path == "/token" else self._api(request))

    def _token(self, request: Request) -> Reply:
        state = self.server.state
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        grant = form.get("grant_type", "")
        subject: str | None = None
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = _decode_assertion(form["assertion"], state.public_key)
            except Exception:
                return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
            subject = claims.get("sub")
            if (
                subject
                and state.allowed_subjects is not None
                and subject not in state.allowed_subjects
            ):
                return Reply(
                    401,
                    {
                        "error": "unauthorized_client",
                        "error_description": "Client is unauthorized to retrieve access tokens "
                        "using this method, or client not authorized for any of the scopes "
                        "requested.",
                    },
                )
        elif grant == "refresh_token":
            if form.get("refresh_token") not in state.refresh_tokens:
                return Reply(
                    400, {"error": "invalid_grant", "error_description": "Token has been expired"}
                )
        else:
            return Reply(400, {"error": "unsupported_grant_type"})
        token = f"ya29.test-{len(state.tokens) + 1}"
        with state.lock:
            state.tokens[token] = subject
        return Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _api(self, request: Request) -> Reply:
        state = self.server.state
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        key = (request.query.get("key") or [None])[0]
        if key is not None and not token:  # API-key authentication (e.g. Programmable Search)
            if key not in state.api_keys:
                return google_error(
                    400, "badRequest", "API key not valid. Please pass a valid API key."
                )
        elif token not in state.tokens:
            return google_error(401, "authError", "Request had invalid authentication credentials.")
        for method, pattern, handler in state.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, match)
        return google_error(404, "notFound", f"Not found: {request.method} {request.path}")

    def _send(self, reply: Reply) -> None:
        body = reply.body
        data = (
            body
            if isinstance(body, bytes)
            else json.dumps(body).encode()
            if body is not None
            else b""
        )
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class GoogleApiServer(ThreadingHTTPServer):
    """`with GoogleApiServer() as google:`; `google.url` is the API root (GOOGLE_API_BASE_URL)
    and `google.token_uri` the token endpoint the generated key files name."""

    daemon_threads = True

    def __init__(self, state: GoogleState | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state or GoogleState()
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.state.public_key = self._private_key.public_key()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    @property
    def token_uri(self) -> str:
        return f"{self.url}token"

    def service_account_file(
        self, folder: Path, email: str = "leads@proj.iam.gserviceaccount.com"
    ) -> Path:
        """A service account key file whose token_uri is this server."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path = folder / "service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "proj",
                    "private_key_id": "k1",
                    "private_key": pem,
                    "client_email": email,
                    "client_id": "1234567890",
                    "token_uri": self.token_uri,
                }
            )
        )
        return path

    def oauth_token_file(self, folder: Path, refresh_token: str = "refresh-1") -> Path:
        """An `authorized_user` token file (what an OAuth consent flow leaves behind)."""
        path = folder / "oauth-token.json"
        path.write_text(
            json.dumps(
                {
                    "type": "authorized_user",
                    "client_id": "client-1.apps.googleusercontent.com",
                    "client_secret": "client-secret",
                    "refresh_token": refresh_token,
                    "token_uri": self.token_uri,
                }
            )
        )
        return path

    def __enter__(self) -> GoogleApiServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
