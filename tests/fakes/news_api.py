"""A local HTTP server that answers like NewsAPI's `/v2/everything` (and the Google
Programmable Search route for `GoogleApiServer`), over a corpus of articles the test or the
benchmark gives it.

NewsAPI's wire format: `X-Api-Key` (or `apiKey=`) authentication; `q` with quoted phrases
joined by OR; `from`/`to` (ISO 8601), `sortBy=publishedAt`, `page`/`pageSize` paging;
`{"status": "ok", "totalResults": N, "articles": [...]}`; errors as `{"status": "error",
"code", "message"}`: 401 apiKeyMissing/apiKeyInvalid, 426 maximumResultsReached (a
developer plan's 100 results), 429 rateLimited (per window, with Retry-After; or the daily
quota), 500 unexpectedError. Statuses can be forced per request; every request is recorded.

Search is by an inverted word index built once, so the benchmark's corpus (tens of
thousands of articles) answers in milliseconds.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

_WORD = re.compile(r"[a-z0-9]+")
_PHRASE = re.compile(r'"([^"]+)"')


def _parse_time(value: str) -> datetime:
    value = value.strip().replace("Z", "+00:00")
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class Corpus:
    """Articles (NewsAPI's article objects) searchable by quoted phrases and dates."""

    def __init__(self, articles: list[dict[str, Any]]) -> None:
        self.articles = sorted(articles, key=lambda a: a["publishedAt"], reverse=True)
        self.times = [_parse_time(a["publishedAt"]) for a in self.articles]
        self.texts = [
            " ".join(
                _WORD.findall(
                    " ".join(
                        str(a.get(k) or "") for k in ("title", "description", "content")
                    ).lower()
                )
            )
            for a in self.articles
        ]
        self.index: dict[str, set[int]] = defaultdict(set)
        for i, text in enumerate(self.texts):
            for word in set(text.split()):
                self.index[word].add(i)

    def search(self, query: str, start: datetime | None, end: datetime | None) -> list[int]:
        phrases = [" ".join(_WORD.findall(p.lower())) for p in _PHRASE.findall(query)]
        if not phrases:
            phrases = [" ".join(_WORD.findall(query.lower()))]
        found: set[int] = set()
        for phrase in filter(None, phrases):
            words = phrase.split()
            candidates = set.intersection(*(self.index.get(w, set()) for w in words))
            padded = f" {phrase} "
            found |= {i for i in candidates if padded in f" {self.texts[i]} "}
        hits = sorted(found)  # newest first (the corpus is sorted by time, descending)
        return [
            i
            for i in hits
            if (start is None or self.times[i] >= start) and (end is None or self.times[i] <= end)
        ]


@dataclass
class NewsState:
    api_key: str = "news-key"
    corpus: Corpus = field(default_factory=lambda: Corpus([]))
    max_results: int | None = None  # a developer plan's cap (426 past it)
    forced: deque[int] = field(default_factory=deque)  # statuses to answer before normal ones
    quota_after: int | None = None  # requests allowed before the daily quota runs out
    retry_after: str = "0"
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if status is None or r["status"] == status)


RATE_LIMITED = "You have been rate limited. Back off for a while before trying the request again."
DAILY_QUOTA = (
    "You have made too many requests recently. Developer accounts are limited to 100 requests "
    "over a 24 hour period (50 requests available every 12 hours). Please upgrade to a paid "
    "plan if you need more requests."
)


def newsapi_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": "error", "code": code, "message": message}


class _Handler(BaseHTTPRequestHandler):
    server: NewsApiServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *_args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        status, body, headers = self._answer(url.path, query)
        with state.lock:
            state.requests.append(
                {"path": url.path, "query": query, "status": status, "at": time.monotonic()}
            )
        self._send(status, body, headers)

    def _answer(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        state = self.server.state
        if path != "/v2/everything":
            return 404, newsapi_error(404, "routeNotFound", f"Route {path} not found"), {}
        key = self.headers.get("X-Api-Key") or query.get("apiKey")
        if not key:
            return 401, newsapi_error(401, "apiKeyMissing", "Your API key is missing."), {}
        if key != state.api_key:
            return (
                401,
                newsapi_error(401, "apiKeyInvalid", "Your API key is invalid or incorrect."),
                {},
            )
        with state.lock:
            forced = state.forced.popleft() if state.forced else None
            served = sum(1 for r in state.requests if r["status"] == 200)
        if forced == 429:
            return (
                429,
                newsapi_error(
                    429,
                    "rateLimited",
                    RATE_LIMITED,
                ),
                {"Retry-After": state.retry_after},
            )
        if forced is not None and forced >= 500:
            return (
                forced,
                newsapi_error(
                    forced,
                    "unexpectedError",
                    "This shouldn't happen, and if it does then it's our fault, not yours.",
                ),
                {},
            )
        if state.quota_after is not None and served >= state.quota_after:
            return (
                429,
                newsapi_error(
                    429,
                    "rateLimited",
                    DAILY_QUOTA,
                ),
                {},
            )
        if "q" not in query:
            return (
                400,
                newsapi_error(400, "parametersMissing", "Required parameters are missing."),
                {},
            )
        page = int(query.get("page", 1))
        size = min(int(query.get("pageSize", 100)), 100)
        if state.max_results is not None and (page - 1) * size >= state.max_results:
            return (
                426,
                newsapi_error(
                    426,
                    "maximumResultsReached",
                    "You have requested too many results. Developer accounts are limited to a "
                    f"max of {state.max_results} results.",
                ),
                {},
            )
        start = _parse_time(query["from"]) if "from" in query else None
        end = _parse_time(query["to"]) if "to" in query else None
        hits = state.corpus.search(query["q"], start, end)
        chunk = hits[(page - 1) * size : page * size]
        return (
            200,
            {
                "status": "ok",
                "totalResults": len(hits),
                "articles": [state.corpus.articles[i] for i in chunk],
            },
            {},
        )


class NewsApiServer(ThreadingHTTPServer):
    """`with NewsApiServer(NewsState(corpus=Corpus(articles))) as news:`; `news.url` is the
    base URL (a source's `base_url`)."""

    daemon_threads = True

    def __init__(self, state: NewsState | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state or NewsState()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> NewsApiServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()


# --- Google Programmable Search, as a route of GoogleApiServer ------------------------------
def google_cse_route(
    google: Any,
    corpus: Corpus,
    engine_id: str = "cx-test",
    forced: deque[tuple[int, str, str]] | None = None,
    quota_after: int | None = None,
) -> None:
    """Register `/customsearch/v1` on a GoogleApiServer: key authentication (the server's
    `api_keys`), `q`, `cx`, `num` (at most 10), `start` (results 1..100), `sort=date:r:A:B`
    or `dateRestrict=dN`; answers `{"items": [...], "queries": {"request": [...],
    "nextPage": [...]}}`; `forced` holds (status, reason, message) errors to answer first;
    after `quota_after` answers, the daily quota error."""
    from tests.fakes.google_api import Reply, google_error

    served = {"n": 0}
    forced = forced if forced is not None else deque()

    def handler(request, _match):  # type: ignore[no-untyped-def]
        q = {k: v[0] for k, v in request.query.items()}
        if forced:
            status, reason, message = forced.popleft()
            reply = google_error(status, reason, message, domain="usageLimits")
            reply.headers["Retry-After"] = "0"
            return reply
        if quota_after is not None and served["n"] >= quota_after:
            return google_error(
                429,
                "rateLimitExceeded",
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of "
                "service 'customsearch.googleapis.com' for consumer 'project_number:1'.",
                domain="global",
            )
        if q.get("cx") != engine_id:
            return google_error(400, "invalid", "Request contains an invalid argument.")
        num = int(q.get("num", 10))
        if num > 10:
            return google_error(400, "invalid", "Request contains an invalid argument.")
        start_index = int(q.get("start", 1))
        if start_index + num - 1 > 100:
            return google_error(400, "invalid", "Request contains an invalid argument.")
        low = high = None
        sort = q.get("sort", "")
        if sort.startswith("date:r:"):
            a, b = sort.split(":")[2:4]
            low = datetime.strptime(a, "%Y%m%d").replace(tzinfo=UTC)
            high = datetime.strptime(b, "%Y%m%d").replace(tzinfo=UTC, hour=23, minute=59, second=59)
        hits = corpus.search(q.get("q", ""), low, high)
        chunk = hits[start_index - 1 : start_index - 1 + num]
        served["n"] += 1
        items = []
        for i in chunk:
            a = corpus.articles[i]
            items.append(
                {
                    "kind": "customsearch#result",
                    "title": a["title"],
                    "htmlTitle": a["title"],
                    "link": a["url"],
                    "displayLink": urlparse(a["url"]).netloc,
                    "snippet": a.get("description") or "",
                    "pagemap": {"metatags": [{"article:published_time": a["publishedAt"]}]},
                }
            )
        request_info = {
            "title": "Google Custom Search",
            "totalResults": str(len(hits)),
            "searchTerms": q.get("q", ""),
            "count": len(items),
            "startIndex": start_index,
        }
        queries: dict[str, Any] = {"request": [request_info]}
        if start_index - 1 + num < min(len(hits), 100):
            queries["nextPage"] = [{**request_info, "startIndex": start_index + num}]
        body = {
            "kind": "customsearch#search",
            "queries": queries,
            "searchInformation": {"totalResults": str(len(hits))},
            **({"items": items} if items else {}),
        }
        return Reply(200, body)

    google.state.route("GET", r"/customsearch/v1", handler)
