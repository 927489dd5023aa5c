"""RSS and Atom feeds (feedparser), from a folder of feed files or from URLs over httpx.

The hard cases feeds are full of: relative links (resolved against the entry's base, the
feed's own link, or the URL it came from), dates without a zone (read in the source's
`timezone`, and flagged), HTML entities and tags in titles and summaries, and broken feeds:
one feedparser can partly read keeps what it read (with a note), one it cannot read is
reported (and copied to quarantine, for a folder), and the source's other feeds still load.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import feedparser
import polars as pl
from dateutil import parser as dateparser

from pipeline.monitoring.config import Source
from pipeline.monitoring.sources import (
    ITEM_SCHEMA,
    FetchContext,
    SourceError,
    SourceReport,
    empty_items,
)
from pipeline.monitoring.sources.http import HttpFetcher, default_classify
from pipeline.monitoring.text import clean_text
from pipeline.store.sql import sha256_hex

FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".feed", ".json"}


class BrokenFeed(SourceError):
    pass


def parse_date(raw: str | None, zone: ZoneInfo) -> tuple[datetime | None, bool]:
    """(aware UTC datetime, whether the zone was assumed). RFC 822 or ISO 8601 or anything
    dateutil reads; a date without a zone is read in `zone`."""
    if not raw or not raw.strip():
        return None, False
    raw = raw.strip()
    parsed: datetime | None = None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = dateparser.parse(raw)
        except (ValueError, OverflowError):
            return None, False
    if parsed is None:
        return None, False
    assumed = parsed.tzinfo is None
    if assumed:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC), assumed


def _entry_date(entry: Any, zone: ZoneInfo) -> tuple[datetime | None, bool]:
    for key in ("published", "updated", "created", "dc_date"):
        raw = entry.get(key)
        if raw:
            found, assumed = parse_date(raw, zone)
            if found is not None:
                return found, assumed
    return None, False


def parse_feed(
    data: bytes, source: Source, *, base_url: str | None, raw_sha256: str, label: str
) -> tuple[list[dict], str | None]:
    """(items, a note when the feed was malformed but partly read). Raises BrokenFeed when
    nothing can be read."""
    parsed = feedparser.parse(
        data, response_headers={"content-location": base_url} if base_url else None
    )
    note = None
    if parsed.bozo:
        problem = str(parsed.get("bozo_exception", "malformed feed"))[:200]
        if not parsed.entries:
            raise BrokenFeed(f"{label}: not a readable feed: {problem}")
        note = f"{label}: malformed feed, {len(parsed.entries)} item(s) read anyway: {problem}"
    zone = ZoneInfo(source.timezone)
    feed_link = parsed.feed.get("link") or base_url
    publisher = clean_text(parsed.feed.get("title")) or None
    items = []
    for entry in parsed.entries:
        title = clean_text(entry.get("title"), limit=500)
        if not title:
            continue
        link = entry.get("link") or ""
        base = entry.get("base") or feed_link
        if link and base and "://" not in link:
            link = urljoin(base, link)
        published, assumed = _entry_date(entry, zone)
        items.append(
            {
                "source": source.name,
                "source_kind": source.type,
                "title": title,
                "summary": clean_text(entry.get("summary") or entry.get("description")),
                "url": link or None,
                "published_at": published,
                "published_assumed": assumed or published is None,
                "publisher": publisher,
                "raw_sha256": raw_sha256,
            }
        )
    return items, note


def _keep_window(items: list[dict], ctx: FetchContext) -> list[dict]:
    return [i for i in items if ctx.window.keeps(i["published_at"])]


def fetch_folder(
    source: Source, ctx: FetchContext, report: SourceReport, quarantine: Path
) -> pl.DataFrame:
    folder = source.folder()
    files = sorted(
        p
        for p in folder.glob("*")
        if p.is_file() and p.suffix.lower() in FEED_SUFFIXES and not p.name.startswith(".")
    )
    rows: list[dict] = []
    broken = 0
    for path in files:
        data = path.read_bytes()
        report.requests += 1
        label = str(path.relative_to(folder))
        sha = sha256_hex(data)
        try:
            items, note = parse_feed(data, source, base_url=None, raw_sha256=sha, label=label)
        except BrokenFeed as exc:
            items, note = [], str(exc)
            broken += 1
            target = quarantine / source.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        ctx.archive.keep(
            source.name,
            ctx.window.day,
            data,
            request=f"file:{label}",
            status=None,
            kind=source.type,
            error=note,
            items=len(items),
        )
        if note:
            report.error(note)
        rows += _keep_window(items, ctx)
    report.note = f"{len(files)} feed file(s), {broken} unreadable"
    if files and broken == len(files):
        raise SourceError(f"{source.name}: none of the {len(files)} feed files could be read")
    if broken:
        report.status = "partial"
    return pl.DataFrame(rows, schema=ITEM_SCHEMA) if rows else empty_items()


def fetch_rss(source: Source, ctx: FetchContext, report: SourceReport) -> pl.DataFrame:
    assert source.url is not None
    http = HttpFetcher(
        source,
        ctx.archive,
        ctx.window.day,
        report,
        None,  # a public feed costs nothing: the kill switch guards paid calls and sends
        lambda r: default_classify(r, source.name, None),
    )
    try:
        response = http.get(
            source.url, headers={"Accept": "application/rss+xml, application/atom+xml, */*"}
        )
    finally:
        http.close()
    items, note = parse_feed(
        response.content,
        source,
        base_url=str(response.url),
        raw_sha256=sha256_hex(response.content),
        label=source.url,
    )
    if note:
        report.error(note)
        report.status = "partial"
    rows = _keep_window(items, ctx)
    return pl.DataFrame(rows, schema=ITEM_SCHEMA) if rows else empty_items()
