"""A fake Google Calendar `freebusy.query` on `GoogleApiServer` (real HTTP; the official
client talks to it).

`busy[calendar_id]` holds (start, end) aware datetimes; a query answers the intervals that
overlap its window, per asked calendar, in Google's shape (`{"kind": "calendar#freeBusy",
"timeMin", "timeMax", "calendars": {id: {"busy": [{"start", "end"}]}}}`); a calendar the
fake does not know answers `errors: [{"domain": "global", "reason": "notFound"}]`, as
Google does. `failures` scripts Google errors for the next queries.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.fakes.google_api import GoogleApiServer, Reply, Request, google_error


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class FakeCalendar:
    server: GoogleApiServer
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)
    queries: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.state.route("POST", r"/calendar/v3/freeBusy", self._freebusy)

    def add_busy(self, calendar_id: str, start: datetime, end: datetime) -> None:
        with self.lock:
            self.busy.setdefault(calendar_id.lower(), []).append((start, end))

    def _freebusy(self, request: Request, _match: re.Match[str]) -> Reply:
        with self.lock:
            if self.failures:
                return google_error(self.failures.pop(0), "backendError", "Backend Error")
        body = request.json() or {}
        if not body.get("timeMin") or not body.get("timeMax"):
            return google_error(400, "required", "Missing time range.")
        start, end = _parse(body["timeMin"]), _parse(body["timeMax"])
        if end <= start:
            return google_error(400, "timeRangeEmpty", "The specified time range is empty.")
        with self.lock:
            self.queries.append(body)
            calendars = {}
            for item in body.get("items") or []:
                calendar_id = str(item.get("id", "")).lower()
                if calendar_id not in self.busy:
                    calendars[item.get("id")] = {
                        "errors": [{"domain": "global", "reason": "notFound"}],
                        "busy": [],
                    }
                    continue
                calendars[item.get("id")] = {
                    "busy": [
                        {"start": _iso(max(s, start)), "end": _iso(min(e, end))}
                        for s, e in sorted(self.busy[calendar_id])
                        if s < end and e > start
                    ]
                }
        return Reply(
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": _iso(start),
                "timeMax": _iso(end),
                "calendars": calendars,
            },
        )
