"""News search APIs on httpx: a NewsAPI-style `/v2/everything` and Google Programmable
Search (`/customsearch/v1`).

Accounts are asked for in batches: their quoted names OR'ed into queries that fit the
provider's limit (characters, and Google's 32 words), each paged until the results run
out or `max_pages`. A backfill asks for its day; a live refresh asks from `lookback_days`
back. The kill switch is read before every request (they cost money), `max_requests_per_run`
caps a run, and a spent quota stops the source for the run (reported, the others go on).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import polars as pl

from pipeline.monitoring.config import Source
from pipeline.monitoring.sources import (
    ITEM_SCHEMA,
    AuthRefused,
    FetchContext,
    QuotaExhausted,
    SourceError,
    SourceReport,
    empty_items,
)
from pipeline.monitoring.sources.feeds import parse_date
from pipeline.monitoring.sources.http import HttpFetcher
from pipeline.monitoring.text import clean_text
from pipeline.retrying import TransientError, retry_after_seconds
from pipeline.store.sql import sha256_hex

NEWSAPI_URL = "https://newsapi.org"
GOOGLE_URL = "https://customsearch.googleapis.com"
_QUOTA_WORDS = re.compile(r"quota|per day|daily|24 hours|limit(ed)? to \d+ requests", re.I)


class RequestBudgetSpent(Exception):
    """This run's `max_requests_per_run` is used up: the rest waits for the next run."""


def batch_queries(
    phrases: list[tuple[str, str]], max_chars: int, max_words: int | None = None
) -> list[str]:
    """Quoted phrases OR'ed into queries of at most `max_chars` (and `max_words`)."""
    queries: list[str] = []
    current: list[str] = []
    seen: set[str] = set()
    for _key, phrase in phrases:
        phrase = phrase.replace('"', "").strip()
        if not phrase or phrase.lower() in seen:
            continue
        seen.add(phrase.lower())
        quoted = f'"{phrase}"'
        candidate = [*current, quoted]
        text = " OR ".join(candidate)
        words = len(text.split())
        if current and (len(text) > max_chars or (max_words and words > max_words)):
            queries.append(" OR ".join(current))
            current = [quoted]
        else:
            current = candidate
    if current:
        queries.append(" OR ".join(current))
    return queries


def _item(
    source: Source,
    title: Any,
    summary: Any,
    url: Any,
    published: datetime | None,
    assumed: bool,
    publisher: Any,
    sha: str,
) -> dict | None:
    title = clean_text(title, limit=500)
    if not title or title == "[Removed]":
        return None
    return {
        "source": source.name,
        "source_kind": source.type,
        "title": title,
        "summary": clean_text(summary),
        "url": url or None,
        "published_at": published,
        "published_assumed": assumed or published is None,
        "publisher": clean_text(publisher) or None,
        "raw_sha256": sha,
    }


class _Budget:
    def __init__(self, source: Source, report: SourceReport) -> None:
        self.source, self.report = source, report

    def check(self) -> None:
        cap = self.source.max_requests_per_run
        if cap is not None and self.report.requests >= cap:
            raise RequestBudgetSpent(f"{self.source.name}: max_requests_per_run ({cap}) reached")


def ask_all(
    queries: list[str],
    ask_one: Callable[[str], None],
    report: SourceReport,
    http: HttpFetcher,
    rows: list[dict],
) -> None:
    """Each query in turn (`ask_one` pages through it into `rows`); this run's request cap
    ends the run with what it has; a spent quota too, or fails the source if nothing came."""
    done = 0
    try:
        for query in queries:
            ask_one(query)
            done += 1
    except RequestBudgetSpent as exc:
        report.status = "partial"
        report.note = f"{exc}: {done} of {len(queries)} queries asked; the rest next run"
    except QuotaExhausted as exc:
        report.error(str(exc))
        report.status = "quota" if not rows else "partial"
        report.note = f"quota spent after {done} of {len(queries)} queries"
        if not rows:
            raise
    finally:
        http.close()
    if report.note is None:
        report.note = f"{len(queries)} queries"


# --- NewsAPI ---------------------------------------------------------------------------------
def newsapi_classify(response: httpx.Response, source: Source) -> Exception | None:
    """NewsAPI answers errors as {"status": "error", "code": ..., "message": ...}."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code", ""))
    message = str(body.get("message", ""))[:300]
    who = f"{source.name}: HTTP {response.status_code} {code}".rstrip()
    if code in ("apiKeyInvalid", "apiKeyMissing", "apiKeyDisabled", "apiKeyExhausted") or (
        response.status_code == 401
    ):
        if code == "apiKeyExhausted":
            return QuotaExhausted(f"{who}: {message}")
        return AuthRefused(f"{who}: {message} (check NEWS_API_KEY)")
    if response.status_code == 429 and _QUOTA_WORDS.search(message):
        return QuotaExhausted(f"{who}: {message}")
    if response.status_code == 426 or code == "maximumResultsReached":
        return None  # the plan's last page: handled by the pager
    if response.status_code == 429 or response.status_code >= 500:
        return TransientError(
            f"{who}: {message}", retry_after_seconds(response.headers.get("retry-after"))
        )
    return SourceError(f"{who}: {message}")


def fetch_newsapi(
    source: Source, ctx: FetchContext, report: SourceReport, api_key: str | None
) -> pl.DataFrame:
    if not api_key:
        raise AuthRefused(f"{source.name}: NEWS_API_KEY is not set")
    base = (source.base_url or NEWSAPI_URL).rstrip("/")
    window = ctx.window
    start = window.start - timedelta(days=source.lookback_days) if window.live else window.start
    end = window.now if window.live else window.end - timedelta(seconds=1)
    http = HttpFetcher(
        source,
        ctx.archive,
        window.day,
        report,
        ctx.pause_check,
        lambda r: newsapi_classify(r, source),
    )
    budget = _Budget(source, report)
    rows: list[dict] = []
    queries = batch_queries(ctx.queries, source.query_max_chars)

    def ask_one(query: str) -> None:
        for page in range(1, source.max_pages + 1):
            budget.check()
            params = {
                "q": query,
                "from": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "to": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "sortBy": "publishedAt",
                "pageSize": source.page_size,
                "page": page,
            }
            if source.language:
                params["language"] = source.language
            response = http.get(f"{base}/v2/everything", params, {"X-Api-Key": api_key})
            if response.status_code == 426:
                break  # maximumResultsReached: the plan's last page
            body = response.json()
            if body.get("status") != "ok":
                raise SourceError(f"{source.name}: answer without status ok: {str(body)[:200]}")
            sha = sha256_hex(response.content)
            articles = body.get("articles") or []
            zone = _zone(source)
            for a in articles:
                published, assumed = parse_date(a.get("publishedAt"), zone)
                item = _item(
                    source,
                    a.get("title"),
                    a.get("description") or a.get("content"),
                    a.get("url"),
                    published,
                    assumed,
                    (a.get("source") or {}).get("name"),
                    sha,
                )
                if item and (window.live or window.keeps(published)):
                    rows.append(item)
            total = int(body.get("totalResults") or 0)
            if len(articles) < source.page_size or page * source.page_size >= total:
                break

    ask_all(queries, ask_one, report, http, rows)
    return pl.DataFrame(rows, schema=ITEM_SCHEMA) if rows else empty_items()


def _zone(source: Source):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(source.timezone)


# --- Google Programmable Search --------------------------------------------------------------
def google_classify(response: httpx.Response, source: Source) -> Exception | None:
    """Google's error shape: {"error": {"code", "message", "status", "errors": [{"reason"}]}}."""
    if response.status_code < 400:
        return None
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    reasons = {e.get("reason", "") for e in error.get("errors") or []}
    message = str(error.get("message", ""))[:300]
    who = f"{source.name}: HTTP {response.status_code} {error.get('status', '')}".rstrip()
    if (
        reasons & {"keyInvalid", "accessNotConfigured", "forbidden"}
        or "API key not valid" in message
    ):
        return AuthRefused(f"{who}: {message} (check GOOGLE_CSE_KEY and GOOGLE_CSE_ID)")
    if reasons & {"dailyLimitExceeded", "quotaExceeded"} or _QUOTA_WORDS.search(message):
        return QuotaExhausted(f"{who}: {message}")
    if response.status_code in (401, 403):
        return AuthRefused(f"{who}: {message} (check GOOGLE_CSE_KEY and GOOGLE_CSE_ID)")
    if response.status_code == 429 or response.status_code >= 500:
        return TransientError(
            f"{who}: {message}", retry_after_seconds(response.headers.get("retry-after"))
        )
    return SourceError(f"{who}: {message}")


_SNIPPET_DATE = re.compile(r"^([A-Z][a-z]{2} \d{1,2}, \d{4})\s")
_SNIPPET_AGO = re.compile(r"^(\d+) (hour|day)s? ago\b")
_META_DATES = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "pubdate",
    "article:modified_time",
    "og:updated_time",
)


def _google_date(item: dict, source: Source, now: datetime) -> tuple[datetime | None, bool]:
    zone = _zone(source)
    for tags in (item.get("pagemap") or {}).get("metatags") or []:
        for key in _META_DATES:
            if tags.get(key):
                found, assumed = parse_date(tags[key], zone)
                if found is not None:
                    return found, assumed
    snippet = item.get("snippet") or ""
    ago = _SNIPPET_AGO.match(snippet)
    if ago:
        n, unit = int(ago.group(1)), ago.group(2)
        return now - timedelta(**{f"{unit}s": n}), True
    match = _SNIPPET_DATE.match(snippet)
    if match:
        return parse_date(match.group(1), zone)[0], True
    return None, False


def fetch_google_cse(
    source: Source,
    ctx: FetchContext,
    report: SourceReport,
    api_key: str | None,
    engine_id: str | None,
    api_base_url: str | None,
) -> pl.DataFrame:
    if not api_key or not engine_id:
        raise AuthRefused(f"{source.name}: GOOGLE_CSE_KEY and GOOGLE_CSE_ID must both be set")
    base = (source.base_url or api_base_url or GOOGLE_URL).rstrip("/")
    window = ctx.window
    http = HttpFetcher(
        source,
        ctx.archive,
        window.day,
        report,
        ctx.pause_check,
        lambda r: google_classify(r, source),
    )
    budget = _Budget(source, report)
    rows: list[dict] = []
    queries = batch_queries(ctx.queries, source.query_max_chars, max_words=32)
    num = min(source.page_size, 10)

    def ask_one(query: str) -> None:
        start = 1
        for _page in range(source.max_pages):
            budget.check()
            params: dict[str, Any] = {
                "key": api_key,
                "cx": engine_id,
                "q": query,
                "num": num,
                "start": start,
            }
            if window.live:
                params["dateRestrict"] = f"d{source.lookback_days + 1}"
                params["sort"] = "date"
            else:
                day = window.day.strftime("%Y%m%d")
                params["sort"] = f"date:r:{day}:{day}"
            response = http.get(f"{base}/customsearch/v1", params)
            body = response.json()
            sha = sha256_hex(response.content)
            for found in body.get("items") or []:
                published, assumed = _google_date(found, source, window.now)
                if published is None and not window.live:
                    # The search was restricted to the day: an undated result is of it.
                    published, assumed = window.start, True
                item = _item(
                    source,
                    found.get("title"),
                    found.get("snippet"),
                    found.get("link"),
                    published,
                    assumed,
                    found.get("displayLink"),
                    sha,
                )
                if item and (window.live or window.keeps(published)):
                    rows.append(item)
            following = (body.get("queries") or {}).get("nextPage") or []
            if not following:
                break
            start = int(following[0].get("startIndex", start + num))
            if start > 91:  # the API serves the first 100 results only
                break

    ask_all(queries, ask_one, report, http, rows)
    return pl.DataFrame(rows, schema=ITEM_SCHEMA) if rows else empty_items()
