"""5,000 accounts x 30 days of news from the fake providers: items per second through
matching and classification (rules), and digest build time.

A synthetic corpus (seeded) of articles about the accounts (funding, hires, M&A, launches,
layoffs, lawsuits, partnerships, earnings) and unrelated news (with common words some
accounts are named after) is served by the fake NewsAPI server (all 30 days) and the fake
Google Programmable Search (the last 3 days) on loopback. Each day is fetched through the
real sources (HTTP, paging, raw answers kept), then:

- match: `keyed` (canonical URLs, content hashes, link domains) + `match_items` for the day,
- classify: `classify_rules` on the day's matched events,
- store: `collect` (dedupe against the store, match, insert) on a SQLite store,
- digests: for 50 users (owners of ~100 accounts each), build (filter + render, not send)
  a daily digest and a 30-day digest from the classified events in the store.

    flock /work/helpers/bench.lock .venv/bin/python benchmarks/monitoring/bench_monitoring.py \
        [--accounts 5000] [--days 30] [--per-day 2000] [--repeat 3] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.monitoring.classify.rules import classify_rules, load_rules  # noqa: E402
from pipeline.monitoring.collect import collect, keyed  # noqa: E402
from pipeline.monitoring.config import Matching, PreferencesFile, SourcesFile  # noqa: E402
from pipeline.monitoring.fetch import Keys, fetch_all  # noqa: E402
from pipeline.monitoring.matching import domain_map, match_items  # noqa: E402
from pipeline.monitoring.names import build_index  # noqa: E402
from pipeline.monitoring.notify import events_for, render  # noqa: E402
from pipeline.monitoring.raw import RawArchive  # noqa: E402
from pipeline.monitoring.sources import FetchContext, FetchWindow  # noqa: E402
from pipeline.monitoring.store import classified_between, events_of_day, save_classifications  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from tests.fakes.google_api import GoogleApiServer  # noqa: E402
from tests.fakes.news_api import Corpus, NewsApiServer, NewsState, google_cse_route  # noqa: E402
from tests.monitoring_helpers import accounts_frame  # noqa: E402

SYLLABLES = ["ka", "lo", "mer", "vi", "tan", "dro", "zen", "qua", "rix", "bel", "nor", "sta",
             "vex", "pli", "gor", "dun", "sel", "tra", "xo", "fen", "mar", "ul", "bri", "cor"]  # fmt: skip
SUFFIXES = ["Labs", "Systems", "Robotics", "Analytics", "Health", "Foods", "Capital", "Logistics",
            "Software", "Energy", "Devices", "Media", "Payments", "Bio", "Cloud", ""]  # fmt: skip
COMMON = ["Summit", "Harbor", "Pioneer", "Apex", "Beacon", "Anchor", "Compass", "Frontier",
          "Keystone", "Granite", "Orchard", "Meadow", "Lantern", "Falcon", "Horizon"]  # fmt: skip
EVENTS = [
    "{a} raises ${n}M Series {s} to expand in Europe",
    "{a} appoints {p} as chief financial officer",
    "{a} to acquire {b} for ${n}M",
    "{a} launches {x}, now generally available",
    "{a} to cut {n}0 jobs in restructuring",
    "{a} sued over data breach affecting customers",
    "{a} partners with {b} on {x}",
    "{a} quarterly results: revenue rose {n}%",
    "{a} opens new office in {c}",
    "{a} CEO {p} steps down",
]
NOISE = [
    "Markets rally as inflation cools in {c}",
    "Storm warnings along the {w} coast this weekend",
    "The {w} festival returns to {c} with record crowds",
    "Ten tips for a better {w} garden",
    "{W} sunset photos from readers in {c}",
    "Local team wins the {w} cup after extra time",
]
PEOPLE = ["Ana Ruiz", "Jon Park", "Mia Chen", "Lars Berg", "Ravi Nair", "Eve Moreau"]
CITIES = ["Berlin", "Austin", "Lyon", "Pune", "Osaka", "Leeds", "Porto", "Denver"]
PRODUCTS = ["Pulse", "Atlas", "Nimbus", "Vector", "Quartz", "Relay"]


def make_accounts(n: int, rng: random.Random) -> list[dict]:
    names: set[str] = set()
    out = []
    while len(out) < n:
        if rng.random() < 0.05:
            name = rng.choice(COMMON) + (f" {rng.choice(SUFFIXES)}" if rng.random() < 0.5 else "")
        else:
            stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
            name = f"{stem} {rng.choice(SUFFIXES)}".strip()
        if name in names:
            continue
        names.add(name)
        domain = name.lower().replace(" ", "") + rng.choice([".com", ".io", ".de", ".co.uk"])
        out.append({"name": name, "domain": domain, "owner": f"owner{len(out) % 50}@our.example"})
    return out


def make_articles(accounts: list[dict], days: list[date], per_day: int, rng: random.Random) -> list[dict]:
    articles = []
    for day in days:
        for i in range(per_day):
            at = datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59), tzinfo=UTC)
            if rng.random() < 0.7:
                a, b = rng.sample(accounts, 2)
                title = rng.choice(EVENTS).format(
                    a=a["name"],
                    b=b["name"],
                    n=rng.randint(2, 90),
                    s=rng.choice("ABCD"),
                    p=rng.choice(PEOPLE),
                    x=rng.choice(PRODUCTS),
                    c=rng.choice(CITIES),
                )
                desc = (
                    f"{a['name']} ({a['domain']}) said on {day:%A}."
                    if rng.random() < 0.3
                    else f"{a['name']} said on {day:%A}."
                )
            else:
                w = rng.choice(COMMON).lower()
                title = rng.choice(NOISE).format(c=rng.choice(CITIES), w=w, W=w.capitalize())
                desc = "Readers share their stories."
            articles.append(
                {
                    "source": {"id": None, "name": rng.choice(["Wire", "Daily", "Post"])},
                    "author": None,
                    "title": title,
                    "description": desc,
                    "url": f"https://news{i % 7}.example/{day}/{i}?utm_source=feed",
                    "urlToImage": None,
                    "publishedAt": at.isoformat().replace("+00:00", "Z"),
                    "content": None,
                }
            )
    return articles


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--accounts", type=int, default=5000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--per-day", type=int, default=2000)
    p.add_argument("--cse-days", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    rng = random.Random(19)
    account_rows = make_accounts(args.accounts, rng)
    accounts = accounts_frame(account_rows)
    first = date(2026, 11, 1)
    days = [first + timedelta(days=i) for i in range(args.days)]
    corpus = Corpus(make_articles(account_rows, days, args.per_day, rng))
    print(f"{accounts.height} accounts, {len(corpus.articles)} articles over {len(days)} days", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp())
    engine = open_store(f"sqlite:///{tmp / 'ops.sqlite'}")
    queries = [(r["domain"], r["name"]) for r in account_rows]

    # --- fetch through the real sources and the fake providers ---------------------------------
    fetched: dict[date, pl.DataFrame] = {}
    fetch_wall = fetch_requests = 0.0
    with NewsApiServer(NewsState(corpus=corpus)) as news, GoogleApiServer() as google:
        google.state.api_keys.add("k")
        google_cse_route(google, corpus, forced=deque())
        for i, day in enumerate(days):
            sources = [{"name": "news", "type": "newsapi", "base_url": news.url, "max_pages": 20}]
            if i >= len(days) - args.cse_days:
                sources.append({"name": "web", "type": "google_cse", "max_pages": 2})
            ctx = FetchContext(
                window=FetchWindow(day=day, live=False, now=datetime(2026, 12, 5, tzinfo=UTC)),
                queries=queries,
                archive=RawArchive(engine, tmp / "raw", "bench", False),
                pause_check=lambda: None,
                progress=lambda _m: None,
            )
            result, wall, _ = timed(
                fetch_all,
                SourcesFile.model_validate({"sources": sources}),
                ctx,
                Keys(
                    news_api_key="news-key", google_cse_key="k", google_cse_id="cx-test", google_api_base_url=google.url
                ),
                tmp / "q",
            )
            bad = [r for r in result.reports if r.status != "ok"]
            if bad:
                print(f"{day}: {[(r.name, r.status, r.errors[:1]) for r in bad]}", file=sys.stderr)
            fetched[day] = result.items
            fetch_wall += wall
            fetch_requests += sum(r.requests for r in result.reports)
    total_items = sum(f.height for f in fetched.values())
    print(f"fetched {total_items} items in {fetch_wall:.1f} s ({fetch_requests:.0f} requests)", file=sys.stderr)

    # --- matching and classification (rules), repeated -----------------------------------------
    rules = load_rules()
    index, index_wall, _ = timed(build_index, accounts, Matching())
    domains = domain_map(accounts)
    names = accounts.select("account_key", pl.col("name").alias("account_name"))
    runs = []
    for _ in range(args.repeat):
        match_wall = match_cpu = class_wall = class_cpu = 0.0
        events_total = 0
        for day in days:
            items = fetched[day]
            (events, keyed_items), w, c = timed(_match_day, items, index, domains)
            match_wall, match_cpu = match_wall + w, match_cpu + c
            frame = (
                events.join(keyed_items.select("item_idx", "title", "summary"), on="item_idx")
                .join(names, on="account_key")
                .with_row_index("event_id")
            )
            _, w, c = timed(classify_rules, frame, rules)
            class_wall, class_cpu = class_wall + w, class_cpu + c
            events_total += frame.height
        runs.append((match_wall, match_cpu, class_wall, class_cpu, events_total))
    med = lambda i: statistics.median(r[i] for r in runs)  # noqa: E731
    events_total = runs[0][4]

    # --- into the store (dedupe + match + insert), once ----------------------------------------
    store_wall = 0.0
    stored_events = 0
    for day in days:
        res, w, _ = timed(
            collect,
            engine,
            fetched[day],
            index,
            domains,
            {},
            day=day,
            now=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23),
            run_id="bench",
        )
        store_wall += w
        stored_events += res.events_new
    # Classify what was stored (as classified_events does, day by day), dated that evening.
    for day in days:
        todo = events_of_day(engine, day).join(names, on="account_key")
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23)
        save_classifications(engine, classify_rules(todo, rules), "rules", None, at)

    # --- digests ----------------------------------------------------------------------------------
    users = PreferencesFile.model_validate(
        {
            "users": [
                {
                    "name": f"Owner {i}",
                    "email": f"owner{i}@our.example",
                    "time_zone": "Europe/Berlin",
                    "relevance_threshold": 0.6,
                }
                for i in range(args.users)
            ]
        }
    ).preferences()
    owned = accounts.with_columns(pl.col("account_key").alias("account_key"))

    def build_all(start: datetime, end: datetime) -> int:
        events = classified_between(engine, start, end)
        n = 0
        for pref in users:
            rendered = render(pref, "daily digest", "Account news", events_for(events, owned, pref), owned)
            n += rendered.total
        return n

    last = datetime.combine(days[-1], datetime.min.time(), UTC)
    digest_day = [timed(build_all, last, last + timedelta(days=1)) for _ in range(args.repeat)]
    digest_month = [
        timed(build_all, last - timedelta(days=len(days)), last + timedelta(days=1)) for _ in range(args.repeat)
    ]

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": 2,
        "accounts": accounts.height,
        "patterns": index.lower.height,
        "days": len(days),
        "articles": len(corpus.articles),
        "items_fetched": total_items,
        "fetch_requests": int(fetch_requests),
        "fetch_seconds": round(fetch_wall, 1),
        "index_build_seconds": round(index_wall, 2),
        "match_seconds_median": round(med(0), 2),
        "match_cpu_seconds_median": round(med(1), 2),
        "match_items_per_second": round(total_items / med(0)),
        "classify_seconds_median": round(med(2), 2),
        "classify_cpu_seconds_median": round(med(3), 2),
        "classify_events_per_second": round(events_total / med(2)),
        "events": events_total,
        "match_and_classify_items_per_second": round(total_items / (med(0) + med(2))),
        "store_collect_seconds": round(store_wall, 1),
        "stored_events": stored_events,
        "users": len(users),
        "digest_day_seconds_median": round(statistics.median(d[1] for d in digest_day), 3),
        "digest_day_items": digest_day[0][0],
        "digest_month_seconds_median": round(statistics.median(d[1] for d in digest_month), 3),
        "digest_month_items": digest_month[0][0],
        "repeat": args.repeat,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with args.out.open("a") as f:
            f.write(json.dumps(result) + "\n")
    return 0


def _match_day(items: pl.DataFrame, index, domains):  # type: ignore[no-untyped-def]
    keyed_items = keyed(items).with_row_index("item_idx").with_columns(pl.col("item_idx").cast(pl.Int64))
    return match_items(keyed_items, index, domains), keyed_items


if __name__ == "__main__":
    sys.exit(main())
