"""Arrival-day partitions shared by every ingest-stage asset.

One partition per day, not per file: Dagster's UI and SQLite storage degrade past tens of
thousands of dynamic partitions, and a day is also the unit people backfill by.

The first day is LEADS_PARTITION_START when set. Otherwise it is the arrival day of the
oldest file in the watched folder, so a newcomer's catalog shows the days that hold files,
not a thousand empty ones; a source that cannot be looked at cheaply when the code location
loads (Drive) starts DEFAULT_WINDOW_DAYS back. Files older than the first day are loaded
under it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from pipeline.config import load_settings
from pipeline.sources import LocalFolder

DEFAULT_WINDOW_DAYS = 30

# Warehouse rows are replaced per partition by this column, so re-runs never duplicate.
PARTITIONED = {"partition_expr": "arrival_day"}


def default_partition_start(today: date | None = None) -> date:
    """The first arrival day when LEADS_PARTITION_START is not set (see the module doc)."""
    settings = load_settings()
    if settings.partition_start is not None:
        return settings.partition_start
    today = today or datetime.now(UTC).date()
    fallback = today - timedelta(days=DEFAULT_WINDOW_DAYS)
    if settings.lead_source != "folder" or not settings.source_dir.is_dir():
        return fallback
    oldest = LocalFolder(settings.source_dir).oldest_arrival()
    return min(oldest.date(), today) if oldest is not None else today


PARTITION_START = default_partition_start().isoformat()

arrival_day = DailyPartitionsDefinition(start_date=PARTITION_START, end_offset=1, timezone="UTC")


def arrival_partition_key(arrived_at: datetime) -> str:
    """The day partition a file belongs to; files older than the first day go to the first."""
    first = datetime.fromisoformat(PARTITION_START)
    return max(arrived_at, first).strftime("%Y-%m-%d")


def day_start(partition_key: str) -> datetime:
    """The value of the `arrival_day` column for rows loaded under this partition."""
    return datetime.fromisoformat(partition_key)


def window_bounds(partition_key: str) -> tuple[datetime | None, datetime]:
    """[start, end) of a day as naive UTC; the first day is open at the start."""
    window = arrival_day.time_window_for_partition_key(partition_key)
    start = window.start.replace(tzinfo=None)
    end = window.end.replace(tzinfo=None)
    return (None if partition_key == arrival_day.get_first_partition_key() else start), end
