"""One run's fetch: every enabled source, side by side, each failure kept to its source.

A source whose `every` has not passed since its last live fetch is skipped (backfills always
fetch). The result is every item any source returned, plus a report per source: status,
requests, retries, HTTP statuses, errors, and its share of the run's items.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, func, select

from pipeline.monitoring.config import Source, SourcesFile
from pipeline.monitoring.sources import (
    AuthRefused,
    FetchContext,
    QuotaExhausted,
    SourceError,
    SourceReport,
    empty_items,
)
from pipeline.monitoring.sources.feeds import fetch_folder, fetch_rss
from pipeline.monitoring.sources.search import fetch_google_cse, fetch_newsapi
from pipeline.store.pause import SideEffectsPaused
from pipeline.store.tables import monitoring_fetches


@dataclass(frozen=True)
class Keys:
    """Provider credentials (from the settings; never logged)."""

    news_api_key: str | None = None
    google_cse_key: str | None = None
    google_cse_id: str | None = None
    google_api_base_url: str | None = None


@dataclass
class FetchResult:
    items: pl.DataFrame
    reports: list[SourceReport]

    @property
    def failed(self) -> list[SourceReport]:
        return [r for r in self.reports if r.status in ("failed", "quota", "auth")]

    @property
    def all_failed(self) -> bool:
        tried = [r for r in self.reports if r.status not in ("skipped",)]
        return bool(tried) and all(r.status in ("failed", "quota", "auth") for r in tried)

    def shares(self) -> dict[str, dict]:
        """Per source: its report and its share of the run's items."""
        total = sum(r.items for r in self.reports) or 1
        return {r.name: {**r.as_dict(), "share": round(r.items / total, 3)} for r in self.reports}


def last_live_fetch(engine: Engine) -> dict[str, datetime]:
    t = monitoring_fetches
    query = (
        select(t.c.source, func.max(t.c.fetched_at))
        .where(t.c.live.is_(True), t.c.error.is_(None))
        .group_by(t.c.source)
    )
    with engine.connect() as conn:
        return {s: at for s, at in conn.execute(query).all() if at is not None}


def _fetch_one(
    source: Source, ctx: FetchContext, keys: Keys, quarantine: Path
) -> tuple[pl.DataFrame, SourceReport]:
    report = SourceReport(source.name, source.type)
    started = time.monotonic()
    try:
        if source.type == "folder":
            items = fetch_folder(source, ctx, report, quarantine)
        elif source.type == "rss":
            items = fetch_rss(source, ctx, report)
        elif source.type == "newsapi":
            items = fetch_newsapi(source, ctx, report, keys.news_api_key)
        else:
            items = fetch_google_cse(
                source,
                ctx,
                report,
                keys.google_cse_key,
                keys.google_cse_id,
                keys.google_api_base_url,
            )
    except (SideEffectsPaused, SourceError) as exc:
        # A spent quota or a refused key stops this source for the run, like a failure.
        report.status = (
            "paused"
            if isinstance(exc, SideEffectsPaused)
            else "auth"
            if isinstance(exc, AuthRefused)
            else "quota"
            if isinstance(exc, QuotaExhausted)
            else "failed"
        )
        if str(exc) not in report.errors:
            report.error(str(exc))
        items = empty_items()
    except Exception as exc:  # a bug or an unexpected answer: this source only
        report.status = "failed"
        report.error(f"{type(exc).__name__}: {exc}")
        items = empty_items()
    report.items = items.height
    report.seconds = time.monotonic() - started
    return items, report


def fetch_all(
    sources: SourcesFile,
    ctx: FetchContext,
    keys: Keys,
    quarantine: Path,
    last_fetch: dict[str, datetime] | None = None,
    only: set[str] | None = None,
) -> FetchResult:
    todo: list[Source] = []
    reports: list[SourceReport] = []
    for source in sources.sources:
        if not source.enabled or (only is not None and source.name not in only):
            continue
        last = (last_fetch or {}).get(source.name)
        interval = source.interval
        if ctx.window.live and interval and last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=ctx.window.now.tzinfo)
            if ctx.window.now - last < interval:
                reports.append(
                    SourceReport(
                        source.name,
                        source.type,
                        status="skipped",
                        note=f"fetched {last:%Y-%m-%d %H:%M} UTC; every {source.every}",
                    )
                )
                continue
        todo.append(source)
    frames: list[pl.DataFrame] = []
    if todo:
        with ThreadPoolExecutor(max_workers=min(4, len(todo))) as pool:
            for items, report in pool.map(lambda s: _fetch_one(s, ctx, keys, quarantine), todo):
                frames.append(items)
                reports.append(report)
                ctx.progress(
                    f"source {report.name} ({report.kind}): {report.status}, {report.items} "
                    f"item(s), {report.requests} request(s)"
                    + (f"; {report.errors[0]}" if report.errors else "")
                )
    items = pl.concat(frames, how="vertical") if frames else empty_items()
    return FetchResult(items, reports)
