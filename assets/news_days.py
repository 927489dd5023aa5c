"""News-day partitions of the monitoring assets (UTC days).

A partition holds what the run for that day collected: the run for today (the hourly
refresh) collects anything new from every source; a run for a past day (a backfill from the
UI) collects the items published that day. The first day is MONITORING_PARTITION_START when
set; otherwise 30 days back, or earlier when a feed folder holds older items.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from pipeline.config import load_settings

DEFAULT_WINDOW_DAYS = 30
PARTITIONED = {"partition_expr": "news_day"}


def folder_item_days() -> list[date]:
    """The days of the dated items in the folder sources (a quick pass; any problem: none,
    and the definitions' own load reports a bad config)."""
    try:
        import feedparser

        from pipeline.monitoring.config import load_sources
        from pipeline.monitoring.sources.feeds import FEED_SUFFIXES

        settings = load_settings()
        days: set[date] = set()
        for source in load_sources(settings.monitoring_sources).sources:
            if source.type != "folder" or not source.enabled:
                continue
            for path in source.folder().glob("*"):
                if path.suffix.lower() not in FEED_SUFFIXES or not path.is_file():
                    continue
                for entry in feedparser.parse(path.read_bytes()).entries:
                    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
                    if parsed:
                        days.add(date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday))
        return sorted(days)
    except Exception:
        return []


def default_start(today: date | None = None) -> date:
    settings = load_settings()
    if settings.monitoring_partition_start is not None:
        return settings.monitoring_partition_start
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=DEFAULT_WINDOW_DAYS)
    days = folder_item_days()
    return min(start, days[0]) if days else start


NEWS_START = default_start().isoformat()

news_day = DailyPartitionsDefinition(start_date=NEWS_START, end_offset=1, timezone="UTC")


def news_day_key(when: datetime | date) -> str:
    day = when.date() if isinstance(when, datetime) else when
    return max(day, date.fromisoformat(NEWS_START)).isoformat()
