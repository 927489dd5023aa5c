"""The webhook receiver: verify, parse, commit to the inbox, then answer.

Order matters: size is checked before the body is read (413), the signature before the body is
parsed (401, nothing stored), the shape before anything is written (400 with the reason), and
the 2xx only after the inbox transaction committed. A disabled source (its secret unset) answers
503 instead of accepting unsigned traffic.
"""

from __future__ import annotations

import asyncio
import gc
import html
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pipeline.agent.intake import MalformedSubmission, submission_events
from pipeline.email.unsubscribe import BadToken, UnsubscribeLinks, signing_key
from pipeline.outreach.stops import unsubscribe as stop_unsubscribe
from pipeline.store import open_store
from pipeline.store.inbox import InboxEvent
from pipeline.webhooks.config import WebhookConfig
from pipeline.webhooks.events import MalformedBody, drive_event, email_events, hubspot_events
from pipeline.webhooks.signatures import SignatureError, verify_drive, verify_email, verify_hubspot
from pipeline.webhooks.writer import InboxWriter

log = logging.getLogger("pipeline.webhooks")

SECRET_VARIABLE = {
    "hubspot": "HUBSPOT_CLIENT_SECRET",
    "drive": "DRIVE_CHANNEL_TOKEN",
    "email": "EMAIL_EVENTS_SECRET",
    "forms": "HUBSPOT_CLIENT_SECRET",
}


# The inbox writer thread needs the GIL for ~2 ms per transaction while the event loop is busy
# with requests. At CPython's default 5 ms switch interval it waits up to that long at each of
# its GIL re-acquisitions (one after every database call), and every request in its batch waits
# with it. 0.5 ms gave 9-33% more throughput and a third off p99 (benchmarks/webhooks).
SWITCH_INTERVAL_S = 0.0005


_runtime_lock = threading.Lock()
_runtime_users: list[float] = []  # the switch interval found by the first receiver to start


@contextmanager
def _serving_runtime() -> Iterator[None]:
    """Interpreter settings while a receiver runs, restored when the last one in the process
    stops.

    Everything alive at start-up (imported modules, the engine) lives as long as the process:
    frozen, it is left out of full collections, which under load otherwise rescan it every
    second or so and stall every request in flight (measured 50-250 ms each)."""
    with _runtime_lock:
        if not _runtime_users:
            _runtime_users.append(sys.getswitchinterval())
            gc.collect()
            gc.freeze()
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        else:
            _runtime_users.append(_runtime_users[0])
    try:
        yield
    finally:
        with _runtime_lock:
            previous = _runtime_users.pop()
            if not _runtime_users:
                sys.setswitchinterval(previous)
                gc.unfreeze()


# A source's signature check (raises SignatureError) and body parser (raises MalformedBody;
# None means "acknowledge, store nothing").
Verify = Callable[[Request, bytes, dict[str, str]], None]
Parse = Callable[[bytes, dict[str, str]], list[InboxEvent] | None]


class BodyTooLarge(Exception):
    pass


def _page(message: str, token: str | None) -> str:
    """The unsubscribe page: a message, and a button when there is something to confirm."""
    form = (
        f'<form method="post" action="/unsubscribe/{html.escape(token)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
        if token
        else ""
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title>'
        '<meta name="robots" content="noindex"></head>'
        f'<body style="font-family:sans-serif;max-width:32em;margin:3em auto">'
        f"<p>{message}</p>{form}</body></html>"
    )


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(config: WebhookConfig, engine: Engine | None = None) -> Starlette:
    """The ASGI app; `engine` defaults to the store at `config.database_url`."""
    store = engine if engine is not None else open_store(config.database_url)
    enabled = config.enabled()
    state: dict[str, InboxWriter] = {}
    links: dict[str, UnsubscribeLinks] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette):  # type: ignore[no-untyped-def]
        for source, on in enabled.items():
            if not on:
                log.warning(
                    "webhooks: /webhooks/%s is disabled (%s is not set); it answers 503",
                    "email-events" if source == "email" else source,
                    SECRET_VARIABLE[source],
                )
        state["writer"] = InboxWriter(store)
        try:
            with _serving_runtime():
                yield
        finally:
            await run_in_threadpool(state["writer"].close)

    async def count(source: str, outcome: str) -> None:
        """Count a refused request; awaited, so a flood of bad requests is paced by the
        store like good ones, and the counter is written by the time the answer goes out."""
        counts = Counter({(datetime.now(UTC).date(), source, outcome): 1})
        try:
            await asyncio.wrap_future(state["writer"].submit([], counts))
        except Exception:  # the refusal stands even if the counter could not be written
            log.warning("webhooks: could not count a %s %s request", source, outcome)

    async def commit(events: list[InboxEvent]) -> JSONResponse:
        try:
            inserted = await asyncio.wrap_future(state["writer"].submit(events))
        except Exception as exc:
            log.error("webhooks: inbox unavailable: %s", type(exc).__name__)
            return _error(503, "inbox unavailable; retry later", **{"Retry-After": "5"})
        # An event repeated inside one request counts once, like a redelivery.
        new = len(inserted)
        return JSONResponse({"accepted": new, "duplicates": len(events) - new})

    async def intake(request: Request, source: str) -> tuple[bytes | None, JSONResponse | None]:
        if not enabled[source]:
            await count(source, "disabled")
            return None, _error(503, f"endpoint disabled: {SECRET_VARIABLE[source]} is not set")
        try:
            return await _read_body(request, config.max_body_bytes), None
        except BodyTooLarge:
            await count(source, "too_large")
            return None, _error(413, f"body larger than {config.max_body_bytes} bytes")

    def signed_uri(request: Request) -> str:
        if config.public_base_url:
            query = f"?{request.url.query}" if request.url.query else ""
            return config.public_base_url.rstrip("/") + request.url.path + query
        return str(request.url)

    async def receive(request: Request, source: str, verify: Verify, parse: Parse) -> JSONResponse:
        """The path every endpoint shares: size, signature (401), shape (400), commit."""
        body, refused = await intake(request, source)
        if refused is not None:
            return refused
        assert body is not None
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify(request, body, headers)
        except SignatureError as exc:
            await count(source, "bad_signature")
            return _error(401, str(exc))
        try:
            events = parse(body, headers)
        except MalformedBody as exc:
            await count(source, "malformed")
            return _error(400, str(exc))
        if events is None:  # Drive's `sync` handshake: acknowledged, nothing to store
            await count(source, "sync")
            return JSONResponse({"accepted": 0, "duplicates": 0, "sync": True})
        return await commit(events)

    def verify_hubspot_request(request: Request, body: bytes, headers: dict[str, str]) -> None:
        verify_hubspot(
            config.hubspot_client_secret or "",
            request.method,
            signed_uri(request),
            body,
            headers,
            accept_legacy=config.hubspot_accept_legacy,
        )

    def verify_drive_request(_request: Request, _body: bytes, headers: dict[str, str]) -> None:
        verify_drive(config.drive_channel_token or "", headers, config.drive_channel_ids)

    def verify_email_request(_request: Request, body: bytes, headers: dict[str, str]) -> None:
        verify_email(config.email_events_secret or "", body, headers.get("x-email-signature", ""))

    def parse_drive(_body: bytes, headers: dict[str, str]) -> list[InboxEvent] | None:
        event = drive_event(headers)
        return None if event is None else [event]

    async def hubspot(request: Request) -> JSONResponse:
        return await receive(
            request, "hubspot", verify_hubspot_request, lambda body, _h: hubspot_events(body)
        )

    async def drive(request: Request) -> JSONResponse:
        return await receive(request, "drive", verify_drive_request, parse_drive)

    async def email(request: Request) -> JSONResponse:
        return await receive(
            request, "email", verify_email_request, lambda body, _h: email_events(body)
        )

    def parse_forms(body: bytes, _headers: dict[str, str]) -> list[InboxEvent]:
        try:
            return submission_events(body)
        except MalformedSubmission as exc:
            raise MalformedBody(str(exc)) from None

    async def forms(request: Request) -> JSONResponse:
        """HubSpot Forms API submission objects (one, or an array), signed with HubSpot's v3
        signature like /webhooks/hubspot; the prospecting agent drafts a reply to each."""
        return await receive(request, "forms", verify_hubspot_request, parse_forms)

    async def unsubscribe_page(request: Request) -> HTMLResponse:
        """GET: a confirmation page with a button. Mail scanners follow links, so a GET
        alone unsubscribes nobody."""
        token = request.path_params["token"]
        try:
            claim = await run_in_threadpool(lambda: unsubscribe_links().verify(token))
        except BadToken:
            return HTMLResponse(_page("This unsubscribe link is not valid.", None), 400)
        return HTMLResponse(_page(f"Unsubscribe {html.escape(claim.email)}?", token))

    async def unsubscribe_now(request: Request) -> Response:
        """POST: RFC 8058 one-click (body `List-Unsubscribe=One-Click`), or the page's
        button. No login: the token is signed."""
        token = request.path_params["token"]
        try:
            await _read_body(request, 4096)
            claim = await run_in_threadpool(lambda: unsubscribe_links().verify(token))
        except BodyTooLarge:
            return _error(413, "body too large")
        except BadToken:
            return HTMLResponse(_page("This unsubscribe link is not valid.", None), 400)
        try:
            await run_in_threadpool(
                stop_unsubscribe, store, claim.email, source=f"one_click:{claim.purpose}"
            )
        except Exception as exc:
            log.error("webhooks: unsubscribe not recorded: %s", type(exc).__name__)
            return _error(
                503, "could not record the unsubscribe; retry later", **{"Retry-After": "5"}
            )
        return HTMLResponse(
            _page(f"{html.escape(claim.email)} is unsubscribed. You will get no more of "
                  "these emails.", None)
        )  # fmt: skip

    def unsubscribe_links() -> UnsubscribeLinks:
        if "links" not in links:
            key = signing_key(store, config.unsubscribe_secret)
            links["links"] = UnsubscribeLinks(key, config.public_base_url or "")
        return links["links"]

    async def healthz(_request: Request) -> JSONResponse:
        def ping() -> None:
            with store.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception as exc:
            return _error(503, f"store unreachable: {type(exc).__name__}")
        return JSONResponse({"status": "ok", "endpoints": enabled})

    return Starlette(
        routes=[
            Route("/webhooks/hubspot", hubspot, methods=["POST"]),
            Route("/webhooks/drive", drive, methods=["POST"]),
            Route("/webhooks/email-events", email, methods=["POST"]),
            Route("/webhooks/forms", forms, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe_now, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
