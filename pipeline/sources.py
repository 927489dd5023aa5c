"""Where lead files come from: the file model every source backend speaks, and the local folder.

A file has a stable `file_id` across versions (a path in a folder, a file id in Drive) and a
`version` that changes when its content may have changed. Arrival is the modification time
(Drive's `modifiedTime`); change detection uses the inode change time, which a copy that
preserves an old modification time still bumps, so such a file is not missed.

Each backend reads its changes from an opaque cursor of its own (`SourceChanges`): the folder's
is the last (change time, path) looked at, Drive's a change-feed page token (pipeline/drive/).
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

mimetypes.add_type("application/x-ndjson", ".ndjson")
mimetypes.add_type("application/x-ndjson", ".jsonl")
mimetypes.add_type("text/tab-separated-values", ".tsv")


class FileUnavailable(RuntimeError):
    """One listed file cannot be fetched (removed since the listing, too large to export...):
    the others of the day still load."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One version of one file in a lead source; the shape fits a folder and Google Drive."""

    file_id: str
    name: str
    mime_type: str
    size_bytes: int
    modified_at: datetime
    version: str
    change_ns: int = 0
    checksum: str | None = None
    # What names the content without reading it (Drive: md5Checksum and size, or a Google
    # Sheet's version); None: the bytes are hashed (a folder).
    content_key: str | None = None

    @property
    def arrived_at(self) -> datetime:
        return self.modified_at


@dataclass(frozen=True)
class SourceChanges:
    """A page of a source's changes: the files with (possibly) new content, in order, and the
    cursor to read on from. `resume_at[i]` is a cursor from which `files[i]` is read again, for
    a reader that stops part-way through the page (a sensor out of time)."""

    files: list[SourceFile]
    resume_at: list[str | None]
    cursor: str | None
    more: bool
    removed: list[str] = field(default_factory=list)  # names of files recorded as removed
    ignored: Counter[str] = field(default_factory=Counter)  # why -> how many
    api_calls: int = 0
    # Why reading stopped before the end (a spent quota, an unavailable service): the cursor
    # still covers what was read, and the next read resumes there.
    interrupted: str | None = None


@dataclass(frozen=True)
class SourceListing:
    """The lead files of a listing, and what was left out of it (why -> how many)."""

    files: list[SourceFile]
    ignored: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class LandedFile:
    """One file version in the landing zone; `fetched_bytes` is 0 when it was already there."""

    sha256: str
    path: Path
    fetched_bytes: int


def utc_from_ns(ns: int) -> datetime:
    """Naive UTC datetime (the warehouse stores naive UTC timestamps)."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).replace(tzinfo=None)


def guess_mime_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class LocalFolder:
    """A watched folder: every non-hidden file below it is a lead file."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _entries(self) -> Iterator[os.DirEntry[str]]:
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"lead source folder {self.root} does not exist; "
                "set LEADS_SOURCE_DIR to the folder your lead files are dropped in"
            )
        stack = [self.root]
        while stack:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.name.startswith((".", "~$")):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file():
                        yield entry

    def _to_source_file(
        self, entry: os.DirEntry[str], st: os.stat_result | None = None
    ) -> SourceFile:
        st = st or entry.stat()
        return SourceFile(
            file_id=self._relative(entry.path),
            name=entry.name,
            mime_type=guess_mime_type(entry.name),
            size_bytes=st.st_size,
            modified_at=utc_from_ns(st.st_mtime_ns),
            version=f"{st.st_mtime_ns}-{st.st_size}",
            change_ns=max(st.st_ctime_ns, st.st_mtime_ns),
        )

    def _relative(self, path: str) -> str:
        prefix = str(self.root).rstrip(os.sep) + os.sep
        return path[len(prefix) :].replace(os.sep, "/")

    def list_files(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[SourceFile]:
        """Files whose arrival falls in [start, end), oldest first."""
        files = [self._to_source_file(e) for e in self._entries()]
        files = [
            f
            for f in files
            if (start is None or f.arrived_at >= start) and (end is None or f.arrived_at < end)
        ]
        return sorted(files, key=lambda f: (f.arrived_at, f.file_id))

    def oldest_arrival(self) -> datetime | None:
        """The earliest arrival among the folder's files (None when it holds none)."""
        mtimes = [entry.stat().st_mtime_ns for entry in self._entries()]
        return utc_from_ns(min(mtimes)) if mtimes else None

    def changed_since(
        self, cursor: tuple[int, str] | None, limit: int
    ) -> tuple[list[SourceFile], bool]:
        """Up to `limit` files changed after `cursor` (change_ns, file_id), in change order.

        Returns the page and whether more changes remain, so a sensor can page through a
        large folder across ticks.
        """
        after = cursor or (-1, "")
        changed = []
        for entry in self._entries():
            # Stat only: the full record is built for the (few) changed files.
            st = entry.stat()
            change_ns = max(st.st_ctime_ns, st.st_mtime_ns)
            if change_ns < after[0]:
                continue
            if (change_ns, self._relative(entry.path)) > after:
                changed.append(self._to_source_file(entry, st))
        changed.sort(key=lambda f: (f.change_ns, f.file_id))
        return changed[:limit], len(changed) > limit

    def read_changes(self, cursor: str | None, limit: int) -> SourceChanges:
        """`changed_since` with the cursor as an opaque string (JSON of change_ns, file_id)."""
        position = _decode_position(cursor)
        files, more = self.changed_since(position, limit)
        resume_at: list[str | None] = [cursor]
        resume_at += [_encode_position(f) for f in files[:-1]]
        return SourceChanges(
            files=files,
            resume_at=resume_at[: len(files)],
            cursor=_encode_position(files[-1]) if files else cursor,
            more=more,
        )

    def path_of(self, file: SourceFile) -> Path:
        return self.root / file.file_id

    def read_bytes(self, file: SourceFile) -> bytes:
        return self.path_of(file).read_bytes()


def _decode_position(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    data = json.loads(cursor)
    return int(data["change_ns"]), str(data["file_id"])


def _encode_position(file: SourceFile) -> str:
    return json.dumps({"change_ns": file.change_ns, "file_id": file.file_id})
