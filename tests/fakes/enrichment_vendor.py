"""A local HTTP server that answers like the enrichment vendors: an Anymail Finder-like person
search and a Clearbit-like company lookup, with their status codes, headers and error bodies.

Behaviour is scripted per test: the key it accepts, a latency, a requests-per-second limit
(answered with 429 + `Retry-After`), a queue of forced statuses (e.g. two 503s, then normal),
and a slow mode. Every request is recorded so tests assert on what the server actually saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PERSON_PATH = "/v5.0/search/person.json"
COMPANY_PATH = "/v2/companies/find"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int
    at: float


@dataclass
class VendorState:
    api_key: str = "test-key"
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    latency: float = 0.0
    rate_per_second: int | None = None
    retry_after: str = "1"
    forced: deque[int] = field(default_factory=deque)
    always_status: int | None = None
    bad_shape: bool = False
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _window: deque[float] = field(default_factory=deque)

    def count(self, status: int | None = None, path: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for s in self.seen
                if (status is None or s.status == status) and (path is None or s.path == path)
            )


class _Handler(BaseHTTPRequestHandler):
    server: VendorServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY every answer waits
    # ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        status, payload, headers = self._decide(state, method, url.path, query, body)
        if state.latency:
            time.sleep(state.latency)
        with state.lock:
            state.seen.append(Seen(method, url.path, query, body, status, time.monotonic()))
        self._send(status, payload, headers)

    def _decide(
        self,
        state: VendorState,
        method: str,
        path: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
    ) -> tuple[int, Any, dict[str, str]]:
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ").strip() != state.api_key:
            return 401, {"error": {"type": "auth_required", "message": "Invalid API key"}}, {}
        with state.lock:
            if state.rate_per_second is not None:
                now = time.monotonic()
                while state._window and now - state._window[0] >= 1.0:
                    state._window.popleft()
                if len(state._window) >= state.rate_per_second:
                    return (
                        429,
                        {"error": {"type": "rate_limit", "message": "Too many requests"}},
                        {"Retry-After": state.retry_after},
                    )
                state._window.append(now)
            forced = state.forced.popleft() if state.forced else state.always_status
        if forced is not None:
            if forced == 429:
                return 429, {"error": {"type": "rate_limit"}}, {"Retry-After": state.retry_after}
            return forced, {"error": {"type": "server_error", "message": "Upstream failure"}}, {}
        if state.bad_shape:
            return 200, ["unexpected", "list"], {}
        if method == "GET" and path == COMPANY_PATH:
            company = state.companies.get(query.get("domain", "").lower())
            if company is None:
                return 404, {"error": {"type": "unknown_record", "message": "Not found"}}, {}
            return 200, company, {}
        if method == "POST" and path == PERSON_PATH and isinstance(body, dict):
            if not body.get("domain"):
                return 400, {"error": "domain or company_name is required"}, {}
            key = (body.get("first_name", ""), body.get("last_name", ""), body["domain"])
            person = state.people.get(key)
            if person is None:
                return 404, {"email": None, "email_class": None, "status": "not_found"}, {}
            return 200, {"status": "success", **person}, {}
        return 404, {"error": {"type": "not_found", "message": f"no route {method} {path}"}}, {}

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class VendorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: VendorState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> VendorServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()


def company_payload(
    name: str, industry: str, employees: str, country: str, tech: list[str] | None = None
) -> dict[str, Any]:
    """A Clearbit-like company record."""
    return {
        "id": f"cmp_{abs(hash(name)) % 10**8}",
        "name": name,
        "category": {"industry": industry, "sector": "Technology"},
        "metrics": {"employeesRange": employees, "estimatedAnnualRevenue": "$10M-$50M"},
        "geo": {"countryCode": country, "city": "Somewhere"},
        "tech": tech or [],
    }


def person_payload(email: str, email_class: str = "verified") -> dict[str, Any]:
    """An Anymail Finder-like person answer."""
    return {"email": email, "email_class": email_class, "alternatives": []}
