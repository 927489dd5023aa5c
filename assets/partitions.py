"""Arrival-day partitions shared by every ingest-stage asset.

One partition per day, not per file: Dagster's UI and SQLite storage degrade past tens of
thousands of dynamic partitions, and a day is also the unit people backfill by.
"""

from __future__ import annotations

import os
from datetime import datetime

from dagster import DailyPartitionsDefinition

PARTITION_START = os.environ.get("LEADS_PARTITION_START", "2024-01-01")

# Warehouse rows are replaced per partition by this column, so re-runs never duplicate.
PARTITIONED = {"partition_expr": "arrival_day"}

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
