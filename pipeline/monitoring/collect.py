"""From fetched items to stored events: canonical URLs, content hashes, dedupe, matching.

The same story reaches us many times: from two feeds, from a feed and a search API, on two
days, with `?utm_source=` tails or `http://www.` in front. An item's key is the hash of its
canonical URL (scheme and host in lower case, `www.` and default ports dropped, fragment and
tracking parameters removed, the other parameters sorted, no trailing slash); its content
hash is the hash of its folded title and the start of its summary. Within a batch and against
every item stored before (any day), either one seen before makes it a duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl
from sqlalchemy import Engine, or_, select

from pipeline.monitoring.matching import match_items
from pipeline.monitoring.names import AccountIndex
from pipeline.monitoring.text import match_form
from pipeline.normalize.domains import host_expr, registrable_domains
from pipeline.store.sql import dialect_insert
from pipeline.store.tables import monitoring_events, monitoring_items

TRACKING = (
    r"^(?:utm_[a-z_]*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|ref|ref_src|cmpid|ocid|igshid"
    r"|_ga|_gl|yclid|spm|smid|sr_share|at_medium|at_campaign|guccounter|src|feature|rss)(?:=|$)"
)
_URL = r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]+)([^?#]*)(?:\?([^#]*))?"


def canonical_url(url: pl.Expr) -> pl.Expr:
    """The URL people mean (see the module docstring); null when it is not absolute."""
    parts = url.str.strip_chars().str.extract_groups(_URL)
    host = (
        parts.struct.field("2")
        .str.to_lowercase()
        .str.replace(r"^[^@]*@", "")
        .str.replace(r"^www\d?\.", "")
        .str.replace(r":(?:80|443)$", "")
        .str.strip_chars_end(".")
    )
    path = parts.struct.field("3").str.replace_all(r"/{2,}", "/").str.strip_chars_end("/")
    query = (
        parts.struct.field("4")
        .fill_null("")
        .str.split("&")
        .list.eval(pl.element().filter((pl.element() != "") & ~pl.element().str.contains(TRACKING)))
        .list.sort()
        .list.join("&")
    )
    scheme_ok = parts.struct.field("1").str.to_lowercase().is_in(["http", "https"])
    return (
        pl.when(scheme_ok & host.is_not_null() & (host != ""))
        .then(
            pl.lit("https://")
            + host
            + path
            + pl.when(query != "").then(pl.lit("?") + query).otherwise(pl.lit(""))
        )
        .otherwise(None)
    )


def _sha(values: pl.Series) -> pl.Series:
    return pl.Series(
        [hashlib.sha256(v.encode()).hexdigest() if v is not None else None for v in values],
        dtype=pl.String,
    )


def keyed(items: pl.DataFrame) -> pl.DataFrame:
    """Adds canonical_url, content_hash, item_key, link_domain."""
    frame = items.with_columns(
        canonical_url=canonical_url(pl.col("url")),
        content=(
            match_form(pl.col("title")).str.strip_chars()
            + pl.lit("\n")
            + match_form(pl.col("summary")).str.strip_chars().str.slice(0, 200)
        ),
    )
    frame = frame.with_columns(
        content_hash=pl.col("content").map_batches(_sha, return_dtype=pl.String),
        item_key=pl.coalesce(
            pl.col("canonical_url"), pl.lit("content:") + pl.col("content")
        ).map_batches(_sha, return_dtype=pl.String),
        host=host_expr(pl.col("url")),
    ).drop("content")
    return frame.with_columns(link_domain=registrable_domains(frame.get_column("host"))).drop(
        "host"
    )


@dataclass
class DedupeReport:
    fetched: int = 0
    same_url: int = 0
    same_content: int = 0
    seen_before: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "fetched": self.fetched,
            "duplicates_same_url": self.same_url,
            "duplicates_same_content": self.same_content,
            "seen_in_earlier_runs": self.seen_before,
            "duplicates_by_source": self.by_source,
        }


def dedupe_batch(items: pl.DataFrame, report: DedupeReport) -> pl.DataFrame:
    """First of each URL, then of each content; the earliest published wins."""
    report.fetched = items.height
    ordered = items.with_row_index("_order").sort(["published_at", "_order"], nulls_last=True)
    by_url = ordered.unique("item_key", keep="first", maintain_order=True)
    by_content = by_url.unique("content_hash", keep="first", maintain_order=True)
    report.same_url = ordered.height - by_url.height
    report.same_content = by_url.height - by_content.height
    dropped = ordered.join(by_content.select("_order"), on="_order", how="anti")
    for source, n in dropped.group_by("source").len().iter_rows():
        report.by_source[source] = report.by_source.get(source, 0) + n
    return by_content.sort("_order").drop("_order")


def drop_known(engine: Engine, items: pl.DataFrame, report: DedupeReport) -> pl.DataFrame:
    """Items whose key or content the store has (from any earlier run, any day) go."""
    keys, hashes = (
        items.get_column("item_key").to_list(),
        items.get_column("content_hash").to_list(),
    )
    known_keys: set[str] = set()
    known_hashes: set[str] = set()
    t = monitoring_items
    with engine.connect() as conn:
        for start in range(0, len(keys), 500):
            k, h = keys[start : start + 500], hashes[start : start + 500]
            for key, content in conn.execute(
                select(t.c.item_key, t.c.content_hash).where(
                    or_(t.c.item_key.in_(k), t.c.content_hash.in_(h))
                )
            ):
                known_keys.add(key)
                known_hashes.add(content)
    fresh = items.filter(
        ~pl.col("item_key").is_in(list(known_keys))
        & ~pl.col("content_hash").is_in(list(known_hashes))
    )
    report.seen_before = items.height - fresh.height
    return fresh


@dataclass
class CollectResult:
    items_new: int
    events_new: int
    unmatched: int
    dedupe: DedupeReport
    events: pl.DataFrame  # the new events with their items (for metadata)


def collect(
    engine: Engine,
    fetched: pl.DataFrame,
    index: AccountIndex,
    domains: pl.DataFrame,
    source_accounts: dict[str, list[str]],
    *,
    day: date,
    now: datetime,
    run_id: str | None,
) -> CollectResult:
    """Dedupe, match, and store the matched items and their events for the day."""
    report = DedupeReport()
    if fetched.is_empty():
        return CollectResult(0, 0, 0, report, pl.DataFrame())
    items = dedupe_batch(keyed(fetched), report)
    items = (
        drop_known(engine, items, report)
        .with_row_index("item_idx")
        .with_columns(pl.col("item_idx").cast(pl.Int64))
    )
    events = match_items(items, index, domains, source_accounts)
    matched = items.join(events.select("item_idx").unique(), on="item_idx", how="semi")
    stored = store_items(engine, matched, events, day=day, now=now, run_id=run_id)
    return CollectResult(
        items_new=stored[0],
        events_new=stored[1],
        unmatched=items.height - matched.height,
        dedupe=report,
        events=events.join(items.select("item_idx", "title", "source"), on="item_idx"),
    )


def store_items(
    engine: Engine,
    items: pl.DataFrame,
    events: pl.DataFrame,
    *,
    day: date,
    now: datetime,
    run_id: str | None,
) -> tuple[int, int]:
    """Insert items (a duplicate another run stored meanwhile is skipped) and the events of
    the items this run inserted. Returns (items, events) inserted."""
    if items.is_empty():
        return 0, 0
    item_cols = [
        "item_key", "content_hash", "canonical_url", "url", "title", "summary", "source",
        "source_kind", "publisher", "published_at", "published_assumed", "raw_sha256",
    ]  # fmt: skip
    rows = [
        {**r, "news_day": day, "first_seen_at": now, "run_id": run_id}
        for r in items.select(item_cols).iter_rows(named=True)
    ]
    idx_by_key = dict(items.select("item_key", "item_idx").iter_rows())
    inserted: dict[int, int] = {}  # item_idx -> id
    with engine.begin() as conn:
        for start in range(0, len(rows), 500):
            statement = (
                dialect_insert(conn, monitoring_items)
                .values(rows[start : start + 500])
                .on_conflict_do_nothing()
                .returning(monitoring_items.c.id, monitoring_items.c.item_key)
            )
            for item_id, key in conn.execute(statement):
                inserted[idx_by_key[key]] = item_id
        event_rows = [
            {
                "item_id": inserted[r["item_idx"]],
                "account_key": r["account_key"],
                "news_day": day,
                "matched_by": r["matched_by"],
                "match_text": (r["match_text"] or "")[:300],
                "match_strength": r["match_strength"],
                "in_title": r["in_title"],
                "created_at": now,
            }
            for r in events.iter_rows(named=True)
            if r["item_idx"] in inserted
        ]
        for start in range(0, len(event_rows), 1000):
            conn.execute(
                dialect_insert(conn, monitoring_events)
                .values(event_rows[start : start + 1000])
                .on_conflict_do_nothing()
            )
    return len(inserted), len(event_rows)
