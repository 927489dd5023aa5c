"""A Drive file or folder as the pipeline sees it, and which of them are lead files.

Uploaded CSV, TSV, text, Excel, JSON/NDJSON and compressed files are downloaded as they are
(`alt=media`); Google Sheets have no bytes of their own and are exported as XLSX, every sheet
of the workbook (parsing reads every lead sheet). Other Google-native files (Docs, Slides,
Forms, shortcuts) and other uploads (images, PDFs, ...) are not lead files: they are ignored
and counted.

Content identity, known without downloading: an upload's `md5Checksum` with its size (the same
bytes uploaded again, under any name, are the same content); a Sheet's `version`, which every
edit bumps (its exported bytes are hashed on landing). The manifest's `version` is Drive's
`headRevisionId` for uploads, the Sheet's version for Sheets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from pipeline.drive.api import FOLDER_MIME, SHEET_MIME, XLSX_MIME
from pipeline.sources import SourceFile

GOOGLE_NATIVE = "application/vnd.google-apps."
LEAD_EXTENSIONS = frozenset(
    {
        ".csv",
        ".tsv",
        ".txt",
        ".xlsx",
        ".xlsm",
        ".xls",
        ".json",
        ".ndjson",
        ".jsonl",
        ".gz",
        ".gzip",
        ".bz2",
        ".zip",
    }
)
LEAD_MIME_TYPES = frozenset(
    {
        "text/csv",
        "text/tab-separated-values",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        XLSX_MIME,
        "application/vnd.ms-excel.sheet.macroenabled.12",
        "application/json",
        "application/x-ndjson",
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/x-zip-compressed",
        "application/x-bzip2",
    }
)

LeadKind = Literal["download", "export"]


def parse_time(value: str | None) -> datetime:
    """Drive's RFC 3339 times as naive UTC (the warehouse stores naive UTC)."""
    if not value:
        return datetime(1970, 1, 1)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def drive_time(value: datetime) -> str:
    """A naive UTC datetime as Drive's query language writes times."""
    return value.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True, slots=True)
class DriveItem:
    id: str
    name: str
    mime_type: str
    parents: tuple[str, ...]
    size: int | None
    modified_at: datetime
    md5: str | None
    head_revision: str | None
    version: str | None
    trashed: bool
    drive_id: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> DriveItem:
        size = data.get("size")
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            mime_type=str(data.get("mimeType") or "application/octet-stream"),
            parents=tuple(data.get("parents") or ()),
            size=int(size) if size is not None else None,
            modified_at=parse_time(data.get("modifiedTime")),
            md5=data.get("md5Checksum"),
            head_revision=data.get("headRevisionId"),
            version=str(data["version"]) if data.get("version") is not None else None,
            trashed=bool(data.get("trashed")),
            drive_id=data.get("driveId"),
        )

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def lead_kind(self) -> LeadKind | None:
        """How its lead rows are fetched, or None when it is not a lead file."""
        if self.mime_type == SHEET_MIME:
            return "export"
        if self.mime_type.startswith(GOOGLE_NATIVE):
            return None
        if self.mime_type.lower() in LEAD_MIME_TYPES:
            return "download"
        if PurePosixPath(self.name.lower()).suffix in LEAD_EXTENSIONS:
            return "download"
        return None

    def ignored_because(self) -> str:
        """Why a file that is not a lead file was ignored, for the counts in metadata."""
        if self.mime_type.startswith(GOOGLE_NATIVE):
            return f"Google {self.mime_type.removeprefix(GOOGLE_NATIVE)} (not a Sheet)"
        return f"unsupported type {self.mime_type}"

    @property
    def content_key(self) -> str:
        if self.mime_type == SHEET_MIME:
            return f"drive-sheet:{self.id}:{self.version}"
        if self.md5:
            return f"md5:{self.md5}:{self.size}"
        # No checksum (rare for uploads): the revision names the content.
        return f"drive-revision:{self.id}:{self.head_revision or self.version}"

    def to_source_file(self) -> SourceFile:
        exported = self.mime_type == SHEET_MIME
        name = self.name
        if exported and not name.lower().endswith(".xlsx"):
            name += ".xlsx"  # what lands is the XLSX export; the parser sees its extension
        return SourceFile(
            file_id=self.id,
            name=name,
            mime_type=self.mime_type,
            size_bytes=self.size or 0,
            modified_at=self.modified_at,
            version=(self.version if exported else self.head_revision or self.version) or "",
            checksum=None,
            content_key=self.content_key,
        )
