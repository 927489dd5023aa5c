"""When a digest is due, in the user's own time.

A daily digest is due at `digest_hour` local time every day; a weekly one at that hour on
`weekly_day`. The period due at a moment is the latest one whose send time has come: a run
that was down at 08:00 sends the morning's digest at its next run, and one that was down for
a day sends the missed day's digest first (no news is lost either way: each digest starts
where the user's previous one ended). Local times are kept across daylight-saving changes:
08:00 is 08:00 in summer and winter; an hour that does not exist that night (the spring
gap) is sent at the first moment after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.monitoring.config import WEEKDAYS, Preference


@dataclass(frozen=True)
class Period:
    frequency: str  # daily | weekly
    key: str  # 2026-12-07 | 2026-W50
    send_at: datetime  # aware UTC: the end of the digest's window
    previous_send_at: datetime  # the period before's send time (the default window start)
    local_date: date

    def label(self) -> str:
        if self.frequency == "daily":
            return f"{self.local_date:%a %-d %b %Y}"
        return (
            f"week of {self.local_date - timedelta(days=7):%-d %b} to {self.local_date:%-d %b %Y}"
        )


def local_instant(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """`hour`:00 on `day` in `zone`, as aware UTC. A wall time the spring change skips
    (02:30 on a night the clocks jump from 02:00 to 03:00) is read with the offset before the
    change, which lands it as far after the gap as it was into it (03:30)."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def due_period(pref: Preference, frequency: str, at: datetime) -> Period:
    """The latest `frequency` period of `pref` whose send time is at or before `at`."""
    zone = pref.zone
    local = at.astimezone(zone)
    if frequency == "daily":
        day = local.date()
        if local_instant(day, pref.digest_hour, zone) > at:
            day -= timedelta(days=1)
        previous = day - timedelta(days=1)
        key = day.isoformat()
    elif frequency == "weekly":
        target = WEEKDAYS.index(pref.weekly_day)
        day = local.date() - timedelta(days=(local.date().weekday() - target) % 7)
        if local_instant(day, pref.digest_hour, zone) > at:
            day -= timedelta(days=7)
        previous = day - timedelta(days=7)
        iso = day.isocalendar()
        key = f"{iso.year}-W{iso.week:02d}"
    else:
        raise ValueError(f"digests are daily or weekly, not {frequency!r}")
    return Period(
        frequency=frequency,
        key=key,
        send_at=local_instant(day, pref.digest_hour, zone),
        previous_send_at=local_instant(previous, pref.digest_hour, zone),
        local_date=day,
    )


def next_period(pref: Preference, frequency: str, at: datetime) -> Period:
    """The first period whose send time is after `at` (what a preview shows)."""
    step = timedelta(days=1 if frequency == "daily" else 7)
    probe = at
    for _ in range(3):
        probe += step
        period = due_period(pref, frequency, probe)
        if period.send_at > at:
            return period
    raise AssertionError("unreachable: a later period always exists")
