"""Send windows and business days in the recipient's time zone.

A window is local wall-clock time on the sequence's days, minus public holidays (the
sequence's countries, and the recipient's own when `recipient_holidays`). Times are built
from the local date and the zone, so a window means 09:00-17:00 local on both sides of a
daylight-saving change; a start that falls in a skipped hour opens at the first instant
after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from pipeline.outreach.config import Sequence, supported_holiday_countries

MAX_DAYS_AHEAD = 400


@cache
def _holidays(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def _local(day: date, clock_time: time, zone: ZoneInfo) -> datetime:
    """Wall-clock `clock_time` on `day` as an aware UTC instant (a skipped local time maps
    to the instant after the gap)."""
    naive = datetime.combine(day, clock_time)
    moment = naive.replace(tzinfo=zone)
    utc = moment.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:  # in a spring-forward gap
        utc = moment.replace(fold=1).astimezone(UTC)
    return utc


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    weekdays: frozenset[int]
    start: time
    end: time
    holiday_countries: tuple[str, ...]

    def is_open_day(self, day: date) -> bool:
        if day.weekday() not in self.weekdays:
            return False
        return not any(day in _holidays(c) for c in self.holiday_countries)

    def add_business_days(self, day: date, days: int) -> date:
        while days > 0:
            day += timedelta(days=1)
            if self.is_open_day(day):
                days -= 1
        return day

    def next_open(self, at: datetime) -> datetime:
        """The first instant at or after `at` inside the send window (UTC)."""
        day = at.astimezone(self.zone).date()
        for _ in range(MAX_DAYS_AHEAD):
            if self.is_open_day(day):
                opens, closes = _local(day, self.start, self.zone), _local(day, self.end, self.zone)
                if at < closes:
                    return max(at, opens)
            day += timedelta(days=1)
        raise ValueError("no open send window in the next 400 days: check days and holidays")

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == at

    def due_after(self, done_at: datetime, delay_business_days: int) -> datetime:
        """When the next step is due: `delay` business days after the previous one, at the
        same local time of day, moved into the window (0 days: as soon as the window is
        open)."""
        if delay_business_days <= 0:
            return self.next_open(done_at)
        local = done_at.astimezone(self.zone)
        day = self.add_business_days(local.date(), delay_business_days)
        return self.next_open(_local(day, local.time().replace(tzinfo=None), self.zone))


_CALENDARS: dict[tuple, Calendar] = {}


def calendar_for(sequence: Sequence, zone: str, country: str | None) -> Calendar:
    window = sequence.send_window
    key = (
        tuple(sequence.holidays),
        sequence.recipient_holidays,
        window.start,
        window.end,
        window.weekdays,
        zone,
        country,
    )
    found = _CALENDARS.get(key)
    if found is None:
        found = _CALENDARS[key] = _calendar(sequence, zone, country)
    return found


def _calendar(sequence: Sequence, zone: str, country: str | None) -> Calendar:
    countries = list(sequence.holidays)
    if (
        sequence.recipient_holidays
        and country
        and country in supported_holiday_countries()
        and country not in countries
    ):
        countries.append(country)
    window = sequence.send_window
    return Calendar(
        zone=ZoneInfo(zone),
        weekdays=window.weekdays,
        start=window.start,
        end=window.end,
        holiday_countries=tuple(countries),
    )


def sender_day(sequence: Sequence, at: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the sender's calendar day containing `at` (caps count per
    this day, in the sequence's default_timezone)."""
    zone = ZoneInfo(sequence.send_window.default_timezone)
    day = at.astimezone(zone).date()
    return _local(day, time(0), zone), _local(day + timedelta(days=1), time(0), zone)
