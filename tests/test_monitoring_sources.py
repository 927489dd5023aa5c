"""News sources: feed files with the hard cases, the NewsAPI-style and Google Programmable
Search APIs through fake servers on loopback (JSON shapes, paging, 429, 5xx, quota, refused
keys), one failing provider not failing the others, the kill switch before paid calls, raw
answers kept without keys, and dedupe across sources and days."""

from __future__ import annotations

import gzip
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from pipeline.monitoring.collect import canonical_url, collect, keyed
from pipeline.monitoring.config import Matching
from pipeline.monitoring.fetch import Keys, fetch_all
from pipeline.monitoring.matching import domain_map
from pipeline.monitoring.names import build_index
from pipeline.monitoring.raw import RawArchive
from pipeline.monitoring.refresh import refresh_day
from pipeline.monitoring.sources import FetchContext, FetchWindow
from pipeline.monitoring.sources.search import batch_queries
from pipeline.store import pause
from pipeline.store.tables import monitoring_events, monitoring_fetches, monitoring_items
from tests.fakes.google_api import GoogleApiServer
from tests.fakes.news_api import Corpus, NewsApiServer, NewsState, google_cse_route
from tests.monitoring_helpers import accounts_frame, rss, sources_file

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
ACCOUNTS = [
    {"name": "Acme Robotics", "domain": "acmerobotics.com"},
    {"name": "Globex Corporation", "domain": "globex.com"},
    {"name": "Initech", "domain": "initech.io"},
]


def _ctx(engine, tmp_path: Path, day: date, live: bool = False, queries=None) -> FetchContext:
    return FetchContext(
        window=FetchWindow(day=day, live=live, now=NOW),
        queries=queries
        if queries is not None
        else [("acmerobotics.com", "Acme Robotics"), ("globex.com", "Globex")],
        archive=RawArchive(engine, tmp_path / "raw", "run-1", live),
        pause_check=lambda: pause.check_not_paused(engine, "paid news searches"),
        progress=lambda _m: None,
    )


# --- feed files ------------------------------------------------------------------------------
def _hard_feeds(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.rss").write_text(
        rss(
            "Feed A",
            [
                {
                    "title": "Acme Robotics raises $20M &amp; hires",
                    "link": "/stories/acme?utm_source=rss&amp;b=2&amp;a=1",
                    "description": "&lt;p&gt;Acme&amp;#8217;s round&lt;/p&gt;",
                    "pubDate": "Thu, 03 Dec 2026 14:05:00 +0000",
                },
                {
                    "title": "Globex buys a startup",
                    "link": "https://news.example.com/globex",
                    "description": "Globex Corporation said",
                    # No zone: read in the source's zone (America/New_York here).
                    "pubDate": "2026-12-03 21:30:00",
                },
                {
                    "title": "Initech update without a date",
                    "link": "https://news.example.com/initech",
                },
            ],
            link="https://news.example.com/",
        )
    )
    # Feed B carries A's Acme story under its canonical URL (www, no tracking, other order).
    (folder / "b.xml").write_text(
        rss(
            "Feed B",
            [
                {
                    "title": "Acme Robotics raises $20M & hires (B's copy)",
                    "link": "http://www.news.example.com/stories/acme/?a=1&amp;b=2",
                    "pubDate": "Thu, 03 Dec 2026 15:00:00 +0000",
                }
            ],
        )
    )
    (folder / "broken.xml").write_text("<html><body>502 Bad Gateway")


def test_feed_files_hard_cases(sqlite_store, tmp_path):
    folder = tmp_path / "feeds"
    _hard_feeds(folder)
    source = sources_file(
        [{"name": "feeds", "type": "folder", "path": str(folder), "timezone": "America/New_York"}]
    )
    ctx = _ctx(sqlite_store, tmp_path, date(2026, 12, 4), live=True)
    result = fetch_all(source, ctx, Keys(), tmp_path / "quarantine")
    report = result.reports[0]
    items = {r["title"]: r for r in result.items.iter_rows(named=True)}
    acme = items["Acme Robotics raises $20M & hires"]
    assert acme["url"] == "https://news.example.com/stories/acme?utm_source=rss&b=2&a=1"  # relative
    assert acme["summary"] == "Acme’s round"  # entities decoded, tags gone
    globex = items["Globex buys a startup"]
    assert globex["published_at"] == datetime(2026, 12, 4, 2, 30, tzinfo=UTC)  # 21:30 New York
    assert globex["published_assumed"] is True
    assert items["Initech update without a date"]["published_at"] is None
    # The broken feed is reported and quarantined; the others load.
    assert report.status == "partial"
    assert any("broken.xml" in e for e in report.errors)
    assert (tmp_path / "quarantine" / "feeds" / "broken.xml").exists()
    # Canonical URLs: A's tracking tail and B's www/http/slash/order are the same story.
    canon = keyed(result.items).select("title", "canonical_url", "item_key")
    keys = dict(canon.select("title", "item_key").iter_rows())
    assert (
        keys["Acme Robotics raises $20M & hires"]
        == keys["Acme Robotics raises $20M & hires (B's copy)"]
    )


def test_a_backfill_keeps_only_the_days_items(sqlite_store, tmp_path):
    folder = tmp_path / "feeds"
    _hard_feeds(folder)
    source = sources_file([{"name": "feeds", "type": "folder", "path": str(folder)}])
    result = fetch_all(
        source, _ctx(sqlite_store, tmp_path, date(2026, 12, 3)), Keys(), tmp_path / "q"
    )
    # 21:30 without a zone is read as UTC here: 2026-12-03; the undated item is not a past day's.
    assert sorted(result.items["title"].to_list()) == [
        "Acme Robotics raises $20M & hires",
        "Acme Robotics raises $20M & hires (B's copy)",
        "Globex buys a startup",
    ]


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://WWW.Example.com:443/a/b/?utm_medium=x&z=1&a=2#top",
            "https://example.com/a/b?a=2&z=1",
        ),
        ("http://example.com/a//b", "https://example.com/a/b"),
        ("https://example.com/?fbclid=abc", "https://example.com"),
        ("/relative/only", None),
        ("mailto:someone@example.com", None),
    ],
)
def test_canonical_urls(url, canonical):
    out = pl.DataFrame({"u": [url]}).select(canonical_url(pl.col("u"))).item()
    assert out == canonical


# --- dedupe across sources and days ------------------------------------------------------------
def test_the_same_story_from_two_sources_and_two_days_is_stored_once(sqlite_store, tmp_path):
    accounts = accounts_frame(ACCOUNTS)
    index, domains = build_index(accounts, Matching()), domain_map(accounts)
    from tests.monitoring_helpers import items_frame

    day1 = items_frame(
        [
            {
                "source": "feed",
                "title": "Acme Robotics raises $20M",
                "url": "https://n.example/acme?utm_source=x",
            },
            {
                "source": "newsapi",
                "title": "Acme Robotics raises $20M",
                "url": "https://www.n.example/acme/",
            },
            # Syndicated: another URL, the same words.
            {
                "source": "cse",
                "title": "Acme Robotics raises $20M",
                "url": "https://other.example/copy",
            },
            {"source": "feed", "title": "Globex buys a startup", "url": "https://n.example/globex"},
        ]
    )
    first = collect(
        sqlite_store, day1, index, domains, {}, day=date(2026, 12, 3), now=NOW, run_id="r1"
    )
    assert (first.items_new, first.events_new) == (2, 2)
    assert first.dedupe.same_url == 1 and first.dedupe.same_content == 1
    # The next day: the same stories again, plus a new one.
    day2 = items_frame(
        [
            {
                "source": "cse",
                "title": "Acme Robotics raises $20M",
                "url": "https://n.example/acme",
            },
            {"source": "feed", "title": "Globex buys a startup", "url": "https://mirror.example/g"},
            {"source": "feed", "title": "Initech cuts jobs", "url": "https://n.example/initech"},
        ]
    )
    second = collect(
        sqlite_store, day2, index, domains, {}, day=date(2026, 12, 4), now=NOW, run_id="r2"
    )
    assert (second.items_new, second.dedupe.seen_before) == (1, 2)
    # A re-run of the first day adds nothing.
    again = collect(
        sqlite_store, day1, index, domains, {}, day=date(2026, 12, 3), now=NOW, run_id="r3"
    )
    assert again.items_new == 0
    with sqlite_store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(monitoring_items)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(monitoring_events)).scalar() == 3


# --- NewsAPI-style ----------------------------------------------------------------------------
def _articles(
    n: int, day: date, name: str = "Acme Robotics", domain: str = "acmerobotics.com"
) -> list[dict]:
    return [
        {
            "source": {"id": None, "name": "Wire"},
            "author": None,
            "title": f"{name} story {i} &amp; more",
            "description": f"{name} did thing {i}",
            "url": f"https://wire.example/{domain}/{day}/{i}",
            "urlToImage": None,
            "publishedAt": datetime(day.year, day.month, day.day, 1 + i % 20, tzinfo=UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "content": None,
        }
        for i in range(n)
    ]


def _news_source(server: NewsApiServer, **extra) -> dict:
    return {
        "name": "news",
        "type": "newsapi",
        "base_url": server.url,
        "page_size": 10,
        "max_backoff_seconds": 0.01,
        **extra,
    }


def test_newsapi_pages_through_results_and_retries_429_and_5xx(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    state = NewsState(corpus=Corpus(_articles(25, day) + _articles(3, day - timedelta(days=1))))
    state.forced.extend([429, 503])
    with NewsApiServer(state) as server:
        source = sources_file([_news_source(server)])
        result = fetch_all(
            source, _ctx(sqlite_store, tmp_path, day), Keys(news_api_key="news-key"), tmp_path / "q"
        )
    report = result.reports[0]
    assert report.status == "ok", report.errors
    assert result.items.height == 25  # three pages of the day; the day before is not asked for
    assert report.retries == 2
    pages = [r["query"]["page"] for r in state.requests if r["status"] == 200]
    assert pages == ["1", "2", "3"]
    first = state.requests[0]["query"]
    assert first["q"] == '"Acme Robotics" OR "Globex"'
    assert first["from"].startswith("2026-12-03") and first["to"].startswith("2026-12-03T23:59")
    assert result.items["title"][0].endswith("& more")


def test_newsapi_quota_and_refused_key_stop_only_that_source(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "f.rss").write_text(
        rss(
            "F",
            [
                {
                    "title": "Globex Corporation news",
                    "link": "https://f.example/1",
                    "pubDate": "Thu, 03 Dec 2026 10:00:00 +0000",
                }
            ],
        )
    )
    state = NewsState(corpus=Corpus(_articles(5, day)), quota_after=0)
    with NewsApiServer(state) as server:
        sources = sources_file(
            [_news_source(server), {"name": "feeds", "type": "folder", "path": str(folder)}]
        )
        result = fetch_all(
            sources,
            _ctx(sqlite_store, tmp_path, day),
            Keys(news_api_key="news-key"),
            tmp_path / "q",
        )
        reports = {r.name: r for r in result.reports}
        assert reports["news"].status == "quota"
        assert state.count(429) == 1  # a spent quota is not retried
        assert reports["feeds"].status == "ok" and reports["feeds"].items == 1
        assert result.shares()["feeds"]["share"] == 1.0 and result.shares()["news"]["share"] == 0.0
        assert not result.all_failed
        wrong = fetch_all(
            sources_file([_news_source(server)]),
            _ctx(sqlite_store, tmp_path, day),
            Keys(news_api_key="nope"),
            tmp_path / "q",
        )
    assert wrong.reports[0].status == "auth"
    assert "NEWS_API_KEY" in wrong.reports[0].errors[0]
    assert wrong.all_failed


def test_newsapi_max_results_ends_paging_quietly(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    state = NewsState(corpus=Corpus(_articles(30, day)), max_results=20)
    with NewsApiServer(state) as server:
        result = fetch_all(
            sources_file([_news_source(server)]),
            _ctx(sqlite_store, tmp_path, day),
            Keys(news_api_key="news-key"),
            tmp_path / "q",
        )
    assert result.reports[0].status == "ok"
    assert result.items.height == 20
    assert state.count(426) == 1


def test_the_kill_switch_stops_paid_searches_before_the_first_call(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    state = NewsState(corpus=Corpus(_articles(5, day)))
    pause.pause(sqlite_store, "test", "bad import")
    with NewsApiServer(state) as server:
        result = fetch_all(
            sources_file([_news_source(server)]),
            _ctx(sqlite_store, tmp_path, day),
            Keys(news_api_key="news-key"),
            tmp_path / "q",
        )
    assert result.reports[0].status == "paused"
    assert "paused by test" in result.reports[0].errors[0]
    assert state.requests == []


def test_raw_answers_are_kept_for_audit_without_keys(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    with GoogleApiServer() as google:
        google.state.api_keys.add("cse-secret-key")
        google_cse_route(google, Corpus(_articles(3, day)))
        source = sources_file([{"name": "web", "type": "google_cse", "max_backoff_seconds": 0.01}])
        fetch_all(
            source,
            _ctx(sqlite_store, tmp_path, day),
            Keys(
                google_cse_key="cse-secret-key",
                google_cse_id="cx-test",
                google_api_base_url=google.url,
            ),
            tmp_path / "q",
        )
    with sqlite_store.connect() as conn:
        rows = conn.execute(select(monitoring_fetches)).all()
    assert rows and all("cse-secret-key" not in r.request for r in rows)
    assert "key=REDACTED" in rows[0].request
    body = gzip.decompress(Path(rows[0].raw_path).read_bytes())
    assert b"customsearch#search" in body


# --- Google Programmable Search ----------------------------------------------------------------
def test_google_cse_pages_with_next_page_and_reads_dates(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    with GoogleApiServer() as google:
        google.state.api_keys.add("k")
        google_cse_route(
            google,
            Corpus(_articles(23, day) + _articles(4, day + timedelta(days=1))),
            forced=deque([(429, "rateLimitExceeded", "Rate limit exceeded. Queries per minute.")]),
        )
        source = sources_file(
            [{"name": "web", "type": "google_cse", "max_pages": 5, "max_backoff_seconds": 0.01}]
        )
        result = fetch_all(
            source,
            _ctx(sqlite_store, tmp_path, day),
            Keys(google_cse_key="k", google_cse_id="cx-test", google_api_base_url=google.url),
            tmp_path / "q",
        )
        starts = [
            r.query["start"][0] for r in google.state.requests if r.path == "/customsearch/v1"
        ]
        sorts = {r.query["sort"][0] for r in google.state.requests if "sort" in r.query}
    report = result.reports[0]
    assert report.status == "ok", report.errors
    assert result.items.height == 23
    assert report.retries == 1  # the per-minute 429 was retried
    assert starts == ["1", "1", "11", "21"]
    assert sorts == {"date:r:20261203:20261203"}
    assert result.items["published_at"].min() >= datetime(2026, 12, 3, tzinfo=UTC)


def test_google_cse_daily_quota_and_bad_key(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    with GoogleApiServer() as google:
        google.state.api_keys.add("k")
        google_cse_route(google, Corpus(_articles(3, day)), quota_after=0)
        source = sources_file([{"name": "web", "type": "google_cse", "max_backoff_seconds": 0.01}])
        quota = fetch_all(
            source,
            _ctx(sqlite_store, tmp_path, day),
            Keys(google_cse_key="k", google_cse_id="cx-test", google_api_base_url=google.url),
            tmp_path / "q",
        )
        bad = fetch_all(
            source,
            _ctx(sqlite_store, tmp_path, day),
            Keys(google_cse_key="wrong", google_cse_id="cx-test", google_api_base_url=google.url),
            tmp_path / "q",
        )
        calls = len([r for r in google.state.requests if r.path == "/customsearch/v1"])
    assert quota.reports[0].status == "quota"
    assert "Queries per day" in quota.reports[0].errors[0]
    assert bad.reports[0].status == "auth" and "GOOGLE_CSE_KEY" in bad.reports[0].errors[0]
    assert calls == 2  # neither the quota nor the refused key was retried


def test_queries_fit_the_providers_limits():
    phrases = [(f"k{i}", f"Company Number {i}") for i in range(40)]
    queries = batch_queries(phrases, 120, max_words=32)
    assert all(len(q) <= 120 and len(q.split()) <= 32 for q in queries)
    assert sum(q.count('"') // 2 for q in queries) == 40


def test_refresh_day_stores_matched_events_and_reports_each_source(sqlite_store, tmp_path):
    day = date(2026, 12, 3)
    state = NewsState(
        corpus=Corpus(_articles(4, day) + _articles(2, day, "Noise Corp", "noise.example"))
    )
    state.forced.extend([500, 500, 500, 500])  # more than the source's attempts: it fails
    folder = tmp_path / "feeds"
    _hard_feeds(folder)
    with NewsApiServer(state) as server:
        result = refresh_day(
            sqlite_store,
            accounts_frame(ACCOUNTS),
            __import__("pipeline.monitoring.config", fromlist=["AccountsFile"]).AccountsFile(),
            sources_file(
                [
                    _news_source(server, max_attempts=4),
                    {"name": "feeds", "type": "folder", "path": str(folder)},
                ]
            ),
            Keys(news_api_key="news-key"),
            day=day,
            now=NOW,
            data_dir=tmp_path,
            run_id="run-1",
            progress=lambda _m: None,
        )
    reports = {r.name: r for r in result.fetch.reports}
    assert reports["news"].status == "failed" and "500" in reports["news"].errors[0]
    assert reports["feeds"].status == "partial"
    assert result.collected.items_new == 2  # Acme (two feeds, one story) and Globex
