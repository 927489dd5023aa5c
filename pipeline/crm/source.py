"""Where `crm_records` reads the CRM from, and how much of it each time.

- `ExportSource` (CRM_IMPORT_FILE): a HubSpot export file, read whole each time (the file is
  the portal as it was exported; see `pipeline.crm.export_file`).
- `HubSpotSource` (CRM_BACKEND=hubspot): the portal through the official client. The first
  read, one a week after the last full one, one asked for, and one where more than half of
  the known records changed (listing is then cheaper than searching) read everything through
  the list endpoints; the others search what changed since the cursor (the latest
  modification read, less `OVERLAP` for the search index's lag) and list the archived
  records (deletions have no modification date to search by).
- `NoSource`: neither configured; the CRM then holds nothing the pipeline did not write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from pipeline.crm.hubspot_reads import SEARCH_CEILING
from pipeline.crm.records import (
    COMPANY,
    COMPANY_PROPERTIES,
    CONTACT,
    CONTACT_PROPERTIES,
    RecordsRead,
    cursors,
    empty_read,
    last_full_read,
    records_from_api,
)

FULL_READ_EVERY = timedelta(days=7)  # catches records purged without an archive entry
OVERLAP = timedelta(minutes=5)  # HubSpot's search index takes writes in seconds later
INCREMENTAL_SHARE = 0.5  # above this share of known records changed, list them all instead

Progress = Callable[[str], None]


class CrmSource(ABC):
    name: str

    @abstractmethod
    def describe(self) -> str:
        """One line for the run log (never a token)."""

    @abstractmethod
    def read(
        self, previous: pl.DataFrame | None, *, full: bool, now: datetime, progress: Progress
    ) -> RecordsRead:
        """What changed since `previous` (everything, with `full`)."""


class NoSource(CrmSource):
    name = "none"

    def describe(self) -> str:
        return (
            "no CRM to read (CRM_BACKEND=outbox and no CRM_IMPORT_FILE): the outbox holds only "
            "what the pipeline planned"
        )

    def read(self, previous, *, full, now, progress) -> RecordsRead:  # type: ignore[no-untyped-def]
        return RecordsRead(records=empty_read())


class ExportSource(CrmSource):
    name = "export"

    def __init__(self, contacts: Path, companies: Path | None = None) -> None:
        self.contacts, self.companies = contacts, companies

    def describe(self) -> str:
        files = [str(self.contacts)] + ([str(self.companies)] if self.companies else [])
        return f"HubSpot export file(s) {', '.join(files)} (CRM_IMPORT_FILE)"

    def read(self, previous, *, full, now, progress) -> RecordsRead:  # type: ignore[no-untyped-def]
        from pipeline.crm.export_file import read_exports

        read = read_exports(self.contacts, self.companies)
        for note in read.notes:
            progress(note)
        return read


class HubSpotSource(CrmSource):
    name = "hubspot"

    def __init__(self, client, contact_properties: list[str] | None = None) -> None:  # type: ignore[no-untyped-def]
        self.client = client  # a HubSpotCrm
        wanted = [*CONTACT_PROPERTIES, *(contact_properties or [])]
        self.properties = {
            CONTACT: list(dict.fromkeys(wanted)),
            COMPANY: list(COMPANY_PROPERTIES),
        }

    def describe(self) -> str:
        return f"{self.client.describe()}: contacts and companies"

    def _collect(
        self, object_type: str, pages: Iterator[list[dict]], what: str, progress: Progress
    ) -> pl.DataFrame:
        frames, count = [], 0
        for number, page in enumerate(pages, start=1):
            frames.append(records_from_api(object_type, page, "hubspot"))
            count += len(page)
            if number % 50 == 0:
                progress(f"{what}: {count:,} read ({self.client.requests:,} requests so far)")
        return pl.concat(frames) if frames else empty_read()

    def read(
        self, previous: pl.DataFrame | None, *, full: bool, now: datetime, progress: Progress
    ) -> RecordsRead:
        started = self.client.requests
        frames, whole, modes, notes = [], set(), {}, []
        cursor_of = cursors(previous)
        for object_type in (CONTACT, COMPANY):
            cursor = cursor_of[object_type]
            last_full = last_full_read(previous, object_type)
            plural = "contacts" if object_type == CONTACT else "companies"
            reason = _full_reason(full, cursor, last_full, now)
            if reason is None:
                assert cursor is not None
                changed = self.client.count_modified_since(object_type, cursor - OVERLAP)
                known = 0
                if previous is not None:
                    known = previous.filter(
                        (pl.col("object_type") == object_type) & (pl.col("status") == "live")
                    ).height
                if changed > INCREMENTAL_SHARE * known and changed > SEARCH_CEILING:
                    reason = f"{changed:,} of {known:,} changed since the last read"
                else:
                    since = f"{cursor - OVERLAP:%Y-%m-%d %H:%M:%S} UTC"
                    progress(f"{plural}: {changed:,} modified since {since}")
            props = self.properties[object_type]
            if reason is not None:
                progress(f"{plural}: reading every record ({reason})")
                live = self.client.list_records(object_type, props)
                frames.append(self._collect(object_type, live, plural, progress))
                whole.add(object_type)
                modes[object_type] = "full"
                notes.append(f"{plural}: full read ({reason})")
            else:
                since = cursor - OVERLAP  # type: ignore[operator]
                changed_pages = self.client.search_modified_since(object_type, since, props)
                frames.append(self._collect(object_type, changed_pages, plural, progress))
                modes[object_type] = "incremental"
            archived = self.client.list_records(object_type, props, archived=True)
            frames.append(self._collect(object_type, archived, f"archived {plural}", progress))
        return RecordsRead(
            records=pl.concat(frames),
            full=frozenset(whole),
            requests=self.client.requests - started,
            mode=modes,
            notes=notes,
        )


def _full_reason(
    asked: bool, cursor: datetime | None, last_full: datetime | None, now: datetime
) -> str | None:
    if asked:
        return "asked for"
    if cursor is None or last_full is None:
        return "first read"
    if now - last_full > FULL_READ_EVERY:
        return f"the last full read was on {last_full:%Y-%m-%d}"
    return None
