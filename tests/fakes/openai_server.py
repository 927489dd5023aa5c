"""A local OpenAI-compatible chat completions server (real HTTP on loopback), for tests that
drive the official `openai` client the way production does.

    with OpenAiServer() as server:
        server.state.script(Answer(data={"relevant": True}), Answer(status=429))
        client = LlmClient(api_key=server.state.api_key, base_url=server.url, ...)

`POST /v1/chat/completions` answers each request with the next scripted `Answer` (or, once
the script is used up, `state.responder(request_body)`, or a 500 saying nothing is
scripted). An answer's `data` goes back the way the request asked for it: as the message
content for `response_format` json_schema/json_object, as a tool call's arguments when the
request offered tools. `text` sends raw content instead (not JSON, fenced JSON, ...). Errors
have OpenAI's body (`{"error": {"message", "type", "param", "code"}}`) and headers: 401 for a
wrong key, 429 with `x-ratelimit-*` and `retry-after-ms`, 5xx as scripted. `GET /v1/models`
lists the model. Every request is recorded in `state.requests` (body and headers).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", None),
}


@dataclass
class Answer:
    status: int = 200
    data: dict[str, Any] | None = None
    text: str | None = None
    prompt_tokens: int | None = None  # None: counted from the request (~4 characters a token)
    completion_tokens: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # an error's message
    delay: float = 0.0  # seconds before answering (timeouts)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    at: float

    @property
    def system(self) -> str:
        return "\n".join(
            m.get("content") or "" for m in self.body.get("messages", []) if m["role"] == "system"
        )

    @property
    def user(self) -> str:
        return "\n".join(
            m.get("content") or "" for m in self.body.get("messages", []) if m["role"] == "user"
        )


@dataclass
class OpenAiState:
    api_key: str = "sk-test-0123456789abcdefghij"
    answers: deque[Answer] = field(default_factory=deque)
    responder: Callable[[dict[str, Any]], Answer] | None = None
    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def script(self, *answers: Answer) -> None:
        with self.lock:
            self.answers.extend(answers)

    @property
    def completions(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


def error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    server: OpenAiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{int(time.time() * 1000)}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        if self.headers.get("Authorization", "") != f"Bearer {state.api_key}":
            self._send(401, error_body(401, "Incorrect API key provided."))
            return
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})
            return
        self._send(404, error_body(404, f"Unknown path {self.path}"))

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, extra = self._answer(state, body, headers)
        with state.lock:
            state.requests.append(SeenRequest(self.path, headers, body, status, time.monotonic()))
        self._send(status, answer, extra)

    def _answer(
        self, state: OpenAiState, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if headers.get("authorization", "") != f"Bearer {state.api_key}":
            return 401, error_body(401, "Incorrect API key provided: sk-te***. "), {}
        if self.path.rstrip("/") != "/v1/chat/completions":
            return 404, error_body(404, f"Unknown path {self.path}"), {}
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return 400, error_body(400, "'model' and 'messages' are required"), {}
        with state.lock:
            scripted = state.answers.popleft() if state.answers else None
        if scripted is None and state.responder is not None:
            scripted = state.responder(body)
        if scripted is None:
            return 500, error_body(500, "nothing scripted for this request"), {}
        if scripted.delay:
            time.sleep(scripted.delay)
        if scripted.status != 200:
            extra = dict(scripted.headers)
            if scripted.status == 429:
                extra = {
                    "x-ratelimit-limit-requests": "500",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": "20ms",
                    "retry-after-ms": "20",
                    **extra,
                }
            message = scripted.message or {
                429: f"Rate limit reached for {body['model']} on requests per min (RPM).",
                500: "The server had an error while processing your request. Sorry about that!",
                503: "The engine is currently overloaded, please try again later.",
            }.get(scripted.status, "error")
            return scripted.status, error_body(scripted.status, message), extra
        return 200, self._completion(state, body, scripted), dict(scripted.headers)

    @staticmethod
    def _completion(state: OpenAiState, body: dict[str, Any], answer: Answer) -> dict[str, Any]:
        number = next(state._ids)
        text = answer.text if answer.text is not None else json.dumps(answer.data or {})
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        finish = "stop"
        tools = body.get("tools") or []
        if tools and answer.text is None:
            name = tools[0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": f"call_{number}",
                        "type": "function",
                        "function": {"name": name, "arguments": text},
                    }
                ],
            }
            finish = "tool_calls"
        prompt = answer.prompt_tokens
        if prompt is None:
            prompt = _tokens(json.dumps(body.get("messages")))
        completion = answer.completion_tokens
        if completion is None:
            completion = _tokens(text)
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


class OpenAiServer(ThreadingHTTPServer):
    """`with OpenAiServer() as server:`; `server.url` is the OPENAI_BASE_URL (`.../v1`)."""

    daemon_threads = True

    def __init__(self, state: OpenAiState | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state or OpenAiState()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> OpenAiServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
