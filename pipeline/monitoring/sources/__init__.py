"""Where news comes from: a folder of feed files (the offline default), RSS/Atom URLs, a
NewsAPI-style search API and Google Programmable Search.

Every source turns what it fetched into the same item dicts (`ITEM_SCHEMA`), keeps each raw
response for audit (`RawArchive`), and reports what happened (`SourceReport`): a source that
fails, runs out of quota or is refused is reported and the others go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

ITEM_SCHEMA = {
    "source": pl.String,
    "source_kind": pl.String,
    "title": pl.String,
    "summary": pl.String,
    "url": pl.String,
    "published_at": pl.Datetime("us", "UTC"),
    # The date was read without a zone (the source's `timezone` was assumed) or was missing.
    "published_assumed": pl.Boolean,
    "publisher": pl.String,
    "raw_sha256": pl.String,
}


class SourceError(RuntimeError):
    """The source failed for this run (after retries); the message says why."""


class QuotaExhausted(SourceError):
    """The provider's quota (per day or per plan) is spent: asking again now will not help."""


class AuthRefused(SourceError):
    """The provider refused the key; the message names the variable."""


@dataclass
class SourceReport:
    name: str
    kind: str
    status: str = "ok"  # ok | partial | failed | quota | auth | skipped | paused
    requests: int = 0
    items: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    http: Counter[str] = field(default_factory=Counter)
    note: str | None = None
    seconds: float = 0.0

    def error(self, message: str) -> None:
        self.errors.append(message[:500])

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "requests": self.requests,
            "items": self.items,
            "retries": self.retries,
            "http": dict(self.http),
            "errors": self.errors[:5],
            "note": self.note,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class FetchWindow:
    """What a run asks for: items published in [start, end), or, for the current day's
    live refresh, anything new (search APIs ask from `start`, `lookback_days` back)."""

    day: date
    live: bool
    now: datetime

    @property
    def start(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)

    def keeps(self, published: datetime | None) -> bool:
        """A backfill keeps items published that day; a live run keeps every item (undated
        ones too: they are news as of now)."""
        if self.live:
            return True
        return published is not None and self.start <= published < self.end


@dataclass
class FetchContext:
    window: FetchWindow
    # Names to search for: (account_key, query phrase), for the search APIs.
    queries: list[tuple[str, str]]
    archive: RawArchiveLike
    pause_check: Callable[[], None]
    progress: Callable[[str], None] = print


class RawArchiveLike:  # the interface sources use (pipeline/monitoring/raw.py implements it)
    def keep(
        self,
        source: str,
        day: date,
        body: bytes,
        *,
        request: str,
        status: int | None,
        kind: str,
        error: str | None = None,
        items: int | None = None,
    ) -> str:
        raise NotImplementedError


def empty_items() -> pl.DataFrame:
    return pl.DataFrame(schema=ITEM_SCHEMA)
