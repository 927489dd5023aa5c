"""Google Drive as a lead source: list a day's files, read changes, land a file's bytes.

The Dagster resource (`resources/lead_source.py`, `DriveLeadSource`) is a thin shell over this.
Landing checks the landing zone's aliases first: content already fetched under the same
content key (an upload's md5 and size, a Sheet's version) is never downloaded again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from pipeline.drive.api import SHEET_MIME, XLSX_MIME, DriveApi, DriveNotFound
from pipeline.drive.changes import ChangeReader
from pipeline.drive.listing import resolve_roots, walk
from pipeline.drive.tree import Root
from pipeline.google.auth import GoogleAuth
from pipeline.landing import LandingSink, aliased_sha256, landed_path, remember_alias
from pipeline.sources import (
    FileUnavailable,
    LandedFile,
    SourceChanges,
    SourceFile,
    SourceListing,
)
from pipeline.store.tables import webhook_inbox


def last_drive_notification(engine: Engine, after: int = 0) -> int:
    """The id of the newest Drive push notification in the webhook inbox past `after` (or
    `after` when none came since): a range scan of the new rows only, every tick."""
    t = webhook_inbox
    query = select(func.max(t.c.id)).where(t.c.id > after, t.c.source == "drive")
    with engine.connect() as conn:
        return int(conn.scalar(query) or after)


def describe_drive(auth: GoogleAuth, folder_ids: Sequence[str]) -> str:
    """One line for logs: the folders and who reads them (never a secret)."""
    try:
        who = auth.principal
    except Exception:  # an unreadable key file is reported where it is used
        who = "unreadable credentials"
    return f"Google Drive folders {', '.join(folder_ids)} (as {who})"


class DriveSource:
    """The watched Drive folders (`folder_ids`, subfolders included) through `auth`; `store`
    is the operational store (the watched tree, push notifications), or what opens it when
    first needed."""

    def __init__(
        self,
        auth: GoogleAuth,
        folder_ids: Sequence[str],
        store: Engine | Callable[[], Engine],
    ) -> None:
        if not folder_ids:
            raise ValueError("no Drive folders to watch: set DRIVE_FOLDER_IDS")
        self.auth = auth
        self.folder_ids = list(folder_ids)
        self.api = DriveApi(auth)
        self._store = store
        self._roots: list[Root] | None = None

    @property
    def engine(self) -> Engine:
        if not isinstance(self._store, Engine):
            self._store = self._store()
        return self._store

    def roots(self) -> list[Root]:
        if self._roots is None:
            self._roots = resolve_roots(self.api, self.folder_ids)
        return self._roots

    def describe(self) -> str:
        return describe_drive(self.auth, self.folder_ids)

    def listing(self, start: datetime | None = None, end: datetime | None = None) -> SourceListing:
        """Lead files modified in [start, end) below the watched folders, oldest first."""
        files: dict[str, SourceFile] = {}
        ignored: Counter[str] = Counter()
        for item, _root in walk(self.api, self.roots(), start, end):
            if item.is_folder:
                continue
            if item.lead_kind is None:
                ignored[item.ignored_because()] += 1
            else:
                files[item.id] = item.to_source_file()
        ordered = sorted(files.values(), key=lambda f: (f.arrived_at, f.file_id))
        return SourceListing(ordered, ignored)

    def read_changes(
        self, cursor: str | None, limit: int, deadline: float | None = None
    ) -> SourceChanges:
        self.api.deadline = deadline
        try:
            reader = ChangeReader(self.api, self.engine, self.folder_ids, self.roots)
            return reader.read(cursor, limit, deadline)
        finally:
            self.api.deadline = None

    def landed_sha256(self, file: SourceFile, landing_dir: Path) -> str | None:
        """The sha256 this content already landed under (None: it was never fetched)."""
        return aliased_sha256(landing_dir, file.content_key or "") if file.content_key else None

    def land(self, file: SourceFile, landing_dir: Path) -> LandedFile:
        """Land the file's bytes, unless its content key says they are already landed."""
        known = self.landed_sha256(file, landing_dir)
        if known is not None:
            return LandedFile(known, landed_path(landing_dir, known), 0)
        what = f"fetching {file.name!r} ({file.file_id})"
        try:
            with LandingSink(landing_dir) as sink:
                if file.mime_type == SHEET_MIME:
                    self.api.export(file.file_id, XLSX_MIME, sink, what)
                else:
                    self.api.download(file.file_id, sink, what)
        except DriveNotFound:
            raise FileUnavailable(
                f"{file.name} ({file.file_id}): removed, or no longer shared, since it was listed"
            ) from None
        actual_key = f"md5:{sink.md5}:{sink.size}"
        remember_alias(landing_dir, actual_key, sink.sha256)
        if file.content_key and (
            not file.content_key.startswith("md5:") or file.content_key == actual_key
        ):
            # A Sheet's version names its export; an upload's listed checksum names these
            # bytes only if they match (a newer revision may have landed since the listing).
            remember_alias(landing_dir, file.content_key, sink.sha256)
        return LandedFile(sink.sha256, sink.path, sink.size)
