"""Step 4, free slots: the next free meeting slots in the owner's working hours over the next
business days, shown in the prospect's time zone.

Busy times come from the owner's calendar (CALENDAR_BACKEND): `ics` reads CALENDAR_ICS with
`icalendar` and expands recurring events with `recurring-ical-events` (transparent and
cancelled events do not block; all-day events block the day; floating times are the owner's);
`google` asks Calendar's `freebusy.query` through the shared `GoogleAuth`. Working hours,
business days and holidays reuse the outreach calendar (`pipeline.outreach.calendar`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.agent.config import Slots
from pipeline.outreach.calendar import Calendar, _local

CALENDAR_SCOPES = ["https://www.googleapis.com/auth/calendar.readonly"]


class CalendarError(RuntimeError):
    """The calendar cannot be read; the message names the setting."""


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime


class BusyCalendar(ABC):
    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def busy(self, owner: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Busy]:
        """The owner's busy intervals overlapping [start, end), UTC."""


class NoCalendar(BusyCalendar):
    """No calendar configured: the agent proposes no times (it cannot know they are free)."""

    def describe(self) -> str:
        return "calendar: none (CALENDAR_ICS is not set: drafts propose no times)"

    def busy(self, owner: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Busy]:
        raise NotImplementedError


def _aware(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    if isinstance(value, date):  # an all-day event: the whole day, in the owner's zone
        return _local(value, time(0), zone)
    raise CalendarError(f"not a date or time: {value!r}")


class IcsCalendar(BusyCalendar):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"calendar: {self.path} (CALENDAR_ICS)"

    def busy(self, owner: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Busy]:
        import icalendar
        import recurring_ical_events

        try:
            calendar = icalendar.Calendar.from_ical(self.path.read_bytes())
        except FileNotFoundError:
            raise CalendarError(f"CALENDAR_ICS={self.path}: no such file") from None
        except ValueError as exc:
            raise CalendarError(f"CALENDAR_ICS={self.path}: not an iCalendar file: {exc}") from None
        found = []
        for event in recurring_ical_events.of(calendar).between(start, end):
            if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            begins = _aware(event["DTSTART"].dt, zone)
            if "DTEND" in event:
                ends = _aware(event["DTEND"].dt, zone)
            elif "DURATION" in event:
                ends = begins + event["DURATION"].dt
            else:
                ends = begins + (
                    timedelta(days=1)
                    if not isinstance(event["DTSTART"].dt, datetime)
                    else timedelta()
                )
            found.append(Busy(begins, ends))
        return found


class GoogleCalendar(BusyCalendar):
    def __init__(self, auth: Any) -> None:
        self._auth = auth

    def describe(self) -> str:
        root = self._auth.api_base_url or "https://www.googleapis.com/"
        return f"calendar: Google Calendar freebusy at {root} (the owner's calendar)"

    def busy(self, owner: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Busy]:
        from googleapiclient.errors import HttpError

        from pipeline.google.auth import GoogleAuthError, refused

        try:
            client = self._auth.client(
                "calendar",
                "v3",
                CALENDAR_SCOPES,
                subject=owner if self._auth.service_account_file else None,
            )
            answer = (
                client.freebusy()
                .query(
                    body={
                        "timeMin": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                        "timeMax": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                        "timeZone": "UTC",
                        "items": [{"id": owner}],
                    }
                )
                .execute(num_retries=3)
            )
        except GoogleAuthError as exc:
            raise CalendarError(str(exc)) from None
        except HttpError as exc:
            raise CalendarError(
                f"Calendar freebusy answered {exc.resp.status} for {owner}: {exc.reason}"
            ) from None
        except Exception as exc:
            if refused(exc):
                raise CalendarError(
                    f"Google refused the credentials for {owner}'s calendar ({exc}); check "
                    "GOOGLE_APPLICATION_CREDENTIALS and its delegation of calendar.readonly"
                ) from None
            raise
        entry = (answer.get("calendars") or {}).get(owner) or {}
        if entry.get("errors"):
            reasons = ", ".join(e.get("reason", "?") for e in entry["errors"])
            raise CalendarError(f"Calendar freebusy could not read {owner}'s calendar: {reasons}")
        return [
            Busy(
                datetime.fromisoformat(b["start"].replace("Z", "+00:00")).astimezone(UTC),
                datetime.fromisoformat(b["end"].replace("Z", "+00:00")).astimezone(UTC),
            )
            for b in entry.get("busy") or []
        ]


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    def text(self, zone: ZoneInfo) -> str:
        """`Tuesday 10 December, 10:00-10:30 PST` in the prospect's zone."""
        local_start, local_end = self.start.astimezone(zone), self.end.astimezone(zone)
        return (
            f"{local_start:%A} {local_start.day} {local_start:%B}, "
            f"{local_start:%H:%M}-{local_end:%H:%M} {local_start:%Z}"
        )


def owner_calendar(slots: Slots) -> Calendar:
    hours = slots.working_hours
    return Calendar(
        zone=ZoneInfo(hours.default_timezone),
        weekdays=hours.weekdays,
        start=hours.start,
        end=hours.end,
        holiday_countries=tuple(slots.holidays),
    )


def search_window(slots: Slots, now: datetime) -> tuple[datetime, datetime, list[date]]:
    """[start, end) and the business days it covers: today (if a working day) and on until
    `business_days_ahead` working days are counted."""
    calendar = owner_calendar(slots)
    day = now.astimezone(calendar.zone).date()
    days: list[date] = []
    while len(days) < slots.business_days_ahead:
        if calendar.is_open_day(day):
            days.append(day)
        day += timedelta(days=1)
    start = now
    end = _local(days[-1], calendar.end, calendar.zone)
    return start, end, days


def free_slots(slots: Slots, busy: list[Busy], now: datetime) -> list[Slot]:
    """Every free slot in the window, earliest first (before `offer`/`per_day` picking)."""
    calendar = owner_calendar(slots)
    _, _, days = search_window(slots, now)
    length = timedelta(minutes=slots.length_minutes)
    earliest = now + timedelta(hours=slots.min_notice_hours)
    intervals = sorted((b.start, b.end) for b in busy)
    found = []
    for day in days:
        moment = _local(day, calendar.start, calendar.zone)
        closes = _local(day, calendar.end, calendar.zone)
        while moment + length <= closes:
            ends = moment + length
            if moment >= earliest and not any(s < ends and e > moment for s, e in intervals):
                found.append(Slot(moment, ends))
            moment = ends
    return found


def pick(found: list[Slot], slots: Slots, zone: ZoneInfo) -> list[Slot]:
    """The first `offer` slots, at most `per_day` on one day of the prospect's."""
    chosen: list[Slot] = []
    per_day: dict[date, int] = {}
    for slot in found:
        day = slot.start.astimezone(zone).date()
        if per_day.get(day, 0) >= slots.per_day:
            continue
        chosen.append(slot)
        per_day[day] = per_day.get(day, 0) + 1
        if len(chosen) >= slots.offer:
            break
    return chosen
