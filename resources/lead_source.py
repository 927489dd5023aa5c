"""Where lead files come from: the `LeadSource` interface and its watched-folder backend.

The Google Drive backend plugs in as another subclass; assets and sensors only see the
interface, so switching backends is configuration, never code.
"""

from abc import ABC, abstractmethod
from datetime import datetime

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.landing import sha256_file
from pipeline.sources import LocalFolder, SourceFile


class LeadSource(ConfigurableResource, ABC):
    """A place lead files land in, listed by arrival time and read as bytes."""

    @abstractmethod
    def describe(self) -> str:
        """One line naming the backend and location, for run logs (never a secret)."""

    @abstractmethod
    def list_files(self, start: datetime | None, end: datetime | None) -> list[SourceFile]:
        """Files that arrived in [start, end); `None` leaves that side open."""

    @abstractmethod
    def changed_since(
        self, cursor: tuple[int, str] | None, limit: int
    ) -> tuple[list[SourceFile], bool]:
        """A page of files changed after the cursor, and whether more remain."""

    @abstractmethod
    def read_bytes(self, file: SourceFile) -> bytes: ...

    @abstractmethod
    def content_hash(self, file: SourceFile) -> str:
        """sha256 of the file's content, as the landing zone addresses it."""


class LocalFolderLeadSource(LeadSource):
    """A watched folder on this machine (the default: `data/sample_drive/`)."""

    folder: str = Field(description="Folder whose files are lead files (searched recursively).")

    def _folder(self) -> LocalFolder:
        return LocalFolder(self.folder)

    def describe(self) -> str:
        return f"local folder {self.folder}"

    def list_files(self, start: datetime | None, end: datetime | None) -> list[SourceFile]:
        return self._folder().list_files(start, end)

    def changed_since(
        self, cursor: tuple[int, str] | None, limit: int
    ) -> tuple[list[SourceFile], bool]:
        return self._folder().changed_since(cursor, limit)

    def read_bytes(self, file: SourceFile) -> bytes:
        return self._folder().read_bytes(file)

    def content_hash(self, file: SourceFile) -> str:
        return file.checksum or sha256_file(self._folder().root / file.file_id)
