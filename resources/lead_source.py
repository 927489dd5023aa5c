"""Where lead files come from: the `LeadSource` interface, a watched folder and Google Drive.

Assets and sensors only see the interface, so switching backends (LEADS_SOURCE) is
configuration, never code. Each backend reads its changes from an opaque cursor of its own,
names a file's content (a folder hashes the bytes; Drive knows its checksum or version without
downloading) and lands the bytes in the content-addressed landing zone, streamed.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from pipeline.drive.source import DriveSource, describe_drive, last_drive_notification
from pipeline.google.auth import GoogleAuth
from pipeline.landing import is_landed, land_file, sha256_file
from pipeline.sources import LandedFile, LocalFolder, SourceChanges, SourceFile, SourceListing
from pipeline.store import open_store


@dataclass(frozen=True)
class ContentIdentity:
    """What names a file's content (for run keys), and whether it is already landed."""

    key: str
    landed: bool


@dataclass(frozen=True)
class PollDecision:
    """Whether the file-arrival sensor should read the source on this tick, and why."""

    due: bool
    wake_mark: int  # the newest push notification seen (0 for a source without push)
    why: str


class LeadSource(ConfigurableResource, ABC):
    """A place lead files land in, listed by arrival time and landed as bytes."""

    @property
    def kind(self) -> str:
        """The backend's name (`folder`, `drive`): a sensor cursor belongs to one backend."""
        return "folder"

    @abstractmethod
    def describe(self) -> str:
        """One line naming the backend and location, for run logs (never a secret)."""

    @abstractmethod
    def listing(self, start: datetime | None, end: datetime | None) -> SourceListing:
        """Lead files that arrived in [start, end) (`None` leaves that side open), and what
        was left out."""

    def list_files(self, start: datetime | None, end: datetime | None) -> list[SourceFile]:
        return self.listing(start, end).files

    @abstractmethod
    def read_changes(
        self, cursor: str | None, limit: int, deadline: float | None = None
    ) -> SourceChanges:
        """A page of changed files after the backend's own opaque cursor."""

    @abstractmethod
    def content_identity(self, file: SourceFile, landing_dir: Path) -> ContentIdentity: ...

    @abstractmethod
    def land(self, file: SourceFile, landing_dir: Path) -> LandedFile:
        """The file's bytes in the landing zone (streamed; not fetched again if known)."""

    def poll(self, last_read_at: float | None, last_wake: int) -> PollDecision:
        """Read on every tick unless the backend says otherwise."""
        return PollDecision(True, 0, "every tick")


class LocalFolderLeadSource(LeadSource):
    """A watched folder on this machine (the default: `data/sample_drive/`)."""

    folder: str = Field(description="Folder whose files are lead files (searched recursively).")

    def _folder(self) -> LocalFolder:
        return LocalFolder(self.folder)

    def describe(self) -> str:
        return f"local folder {self.folder}"

    def listing(self, start: datetime | None, end: datetime | None) -> SourceListing:
        return SourceListing(self._folder().list_files(start, end))

    def read_changes(
        self, cursor: str | None, limit: int, deadline: float | None = None
    ) -> SourceChanges:
        return self._folder().read_changes(cursor, limit)

    def content_identity(self, file: SourceFile, landing_dir: Path) -> ContentIdentity:
        digest = file.checksum or sha256_file(self._folder().path_of(file))
        return ContentIdentity(digest, is_landed(landing_dir, digest))

    def land(self, file: SourceFile, landing_dir: Path) -> LandedFile:
        path = self._folder().path_of(file)
        sha, landed = land_file(landing_dir, path)
        return LandedFile(sha, landed, file.size_bytes)


class DriveLeadSource(LeadSource):
    """Google Drive folders (subfolders included, shared drives too), read through the Drive
    API with a service account or an OAuth user token (pipeline/drive/)."""

    folder_ids: list[str] = Field(description="The watched Drive folders (DRIVE_FOLDER_IDS).")
    service_account_file: str | None = Field(
        default=None, description="Service account key file (GOOGLE_APPLICATION_CREDENTIALS)."
    )
    oauth_token_file: str | None = Field(
        default=None, description="OAuth user token file (DRIVE_OAUTH_TOKEN_FILE)."
    )
    impersonate: str | None = Field(
        default=None, description="User the service account acts as (GOOGLE_IMPERSONATE)."
    )
    api_base_url: str | None = Field(
        default=None, description="Another API root (GOOGLE_API_BASE_URL); None: Google's."
    )
    database_url: str = Field(
        description="The operational store: the watched tree, push notifications."
    )
    poll_seconds: int = Field(
        default=60,
        description="Read the change feed at least this often without a push notification "
        "(DRIVE_POLL_SECONDS).",
    )
    _source: DriveSource | None = PrivateAttr(default=None)

    @property
    def kind(self) -> str:
        return "drive"

    def auth(self) -> GoogleAuth:
        return GoogleAuth(
            service_account_file=Path(self.service_account_file)
            if self.service_account_file
            else None,
            oauth_token_file=Path(self.oauth_token_file) if self.oauth_token_file else None,
            impersonate=self.impersonate,
            api_base_url=self.api_base_url,
            oauth_token_variable="DRIVE_OAUTH_TOKEN_FILE",
        )

    def drive(self) -> DriveSource:
        """The engine's DriveSource, built once per resource instance (the store is opened
        when first needed, not when the code location loads)."""
        if self._source is None:
            url = self.database_url
            self._source = DriveSource(self.auth(), self.folder_ids, lambda: open_store(url))
        return self._source

    def describe(self) -> str:
        return describe_drive(self.auth(), self.folder_ids)

    def listing(self, start: datetime | None, end: datetime | None) -> SourceListing:
        return self.drive().listing(start, end)

    def read_changes(
        self, cursor: str | None, limit: int, deadline: float | None = None
    ) -> SourceChanges:
        return self.drive().read_changes(cursor, limit, deadline)

    def content_identity(self, file: SourceFile, landing_dir: Path) -> ContentIdentity:
        landed = self.drive().landed_sha256(file, landing_dir)
        return ContentIdentity(file.content_key or file.version, landed is not None)

    def land(self, file: SourceFile, landing_dir: Path) -> LandedFile:
        return self.drive().land(file, landing_dir)

    def poll(self, last_read_at: float | None, last_wake: int) -> PollDecision:
        """Read when a push notification arrived since the last read, or every
        `poll_seconds` without one (polling alone works without a public address)."""
        wake = last_drive_notification(self.drive().engine, last_wake)
        if wake > last_wake:
            return PollDecision(True, wake, "a Drive push notification arrived")
        if last_read_at is None:
            return PollDecision(True, wake, "first read")
        waited = time.time() - last_read_at
        if waited >= self.poll_seconds:
            return PollDecision(True, wake, f"polling every {self.poll_seconds} s")
        return PollDecision(
            False,
            wake,
            f"no Drive notification; next poll in {self.poll_seconds - waited:.0f} s",
        )
