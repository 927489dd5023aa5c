"""Compressed lead files (.gz, .bz2, .zip) opened into the files they hold, within a size bound.

Every member is decompressed as a stream that stops one byte past the bound, so a zip bomb
costs at most the bound in memory and is refused with that reason; nothing is half-read.
A workbook (XLSX is a zip too) is not an archive: it is returned as it is.
"""

from __future__ import annotations

import bz2
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from pipeline.parsing import FileParseError

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CHUNK = 1 << 20
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".zip")
# Folders that archivers add beside the real files (macOS resource forks and the like).
_JUNK_PARTS = ("__MACOSX",)


class ArchiveError(FileParseError):
    """The archive (or one member of it) cannot be opened: the file is quarantined."""


@dataclass(frozen=True)
class Member:
    """One file inside a lead file: `name` is what the parser sees (it picks the format from
    it), `display_name` what rows and quarantine records cite (`archive.zip!member.csv`)."""

    name: str
    display_name: str
    data: bytes
    # The member's path inside the archive; None when the file was not an archive.
    path: str | None = None
    # Why this member could not be opened (the archive's other members still load).
    error: ArchiveError | None = None


def compression_of(name: str, data: bytes) -> str | None:
    """'gzip', 'bzip2', 'zip' or None, by content (a workbook is not an archive)."""
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if data.startswith(BZIP2_MAGIC) and name.lower().endswith((".bz2", ".bzip2")):
        return "bzip2"
    if data.startswith(BZIP2_MAGIC):
        # "BZh" followed by the block-size digit and the block magic of a real bzip2 stream.
        return "bzip2" if data[3:4].isdigit() and data[4:10] == b"1AY&SY" else None
    if data.startswith(ZIP_MAGIC) and not _is_workbook(data):
        return "zip"
    return None


def _is_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return True  # not a readable archive: let the spreadsheet reader say what is wrong
    return "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names)


def _inner_name(name: str) -> str:
    for suffix in (".gz", ".gzip", ".bz2"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _too_big(name: str, limit: int) -> ArchiveError:
    return ArchiveError(
        name,
        f"decompresses past the limit of {limit:,} bytes (LEADS_MAX_UNCOMPRESSED_BYTES, "
        "for all of an archive's files together); refused as a possible zip bomb",
    )


def _stream(decompressor_factory, data: bytes, limit: int, what: str) -> bytes:
    """Decompress concatenated streams (gzip and bzip2 allow several) up to `limit` bytes."""
    out = bytearray()
    pending = data
    while pending:
        decompressor = decompressor_factory()
        chunk = decompressor.decompress(pending, limit + 1 - len(out))
        out += chunk
        while len(out) <= limit and not decompressor.eof and decompressor.needs_input is False:
            out += decompressor.decompress(b"", limit + 1 - len(out))
        if len(out) > limit:
            raise _too_big(what, limit)
        if not decompressor.eof:
            raise ArchiveError(what, "truncated: the compressed stream ends early")
        pending = decompressor.unused_data.lstrip(b"\x00")
    return bytes(out)


class _Gunzip:
    """zlib's gzip decompressor with the interface of bz2.BZ2Decompressor."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buffer = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._z.decompress(self._buffer + data, max(max_length, 0))
        self._buffer = self._z.unconsumed_tail
        return out

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def needs_input(self) -> bool:
        return not self._buffer

    @property
    def unused_data(self) -> bytes:
        return self._z.unused_data


def _zip_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, display: str, budget: int, limit: int
) -> bytes:
    """One member's bytes, within what is left of the archive's size `budget` (of `limit`)."""
    if info.flag_bits & 0x1:
        raise ArchiveError(display, "encrypted; export it without a password")
    if info.file_size > budget:
        raise _too_big(display, limit)
    try:
        with archive.open(info) as fh:
            content = fh.read(budget + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ArchiveError(display, f"cannot decompress ({exc})") from exc
    if len(content) > budget:  # the header understated the size
        raise _too_big(display, limit)
    if _inner_name(info.filename) != info.filename:  # a .gz or .bz2 inside the zip
        content = _decompress_single(display, content, budget)
    return content


def _zip_members(name: str, data: bytes, limit: int) -> list[Member]:
    """Each file of the archive on its own: a bad member fails alone, the others load."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ArchiveError(name, f"corrupt zip archive ({exc})") from exc
    members: list[Member] = []
    used = 0
    with archive:
        for info in archive.infolist():
            path = PurePosixPath(info.filename)
            if info.is_dir() or path.name.startswith((".", "~$")):
                continue
            if any(part in _JUNK_PARTS for part in path.parts):
                continue
            display = f"{name}!{info.filename}"
            inner = _inner_name(path.name)
            try:
                content = _zip_member(archive, info, display, limit - used, limit)
            except ArchiveError as exc:
                members.append(Member(inner, display, b"", info.filename, error=exc))
                continue
            used += len(content)
            members.append(Member(inner, display, content, info.filename))
    if not members:
        raise ArchiveError(name, "the zip archive holds no files")
    return members


def _decompress_single(name: str, data: bytes, limit: int) -> bytes:
    kind = compression_of(name, data)
    try:
        if kind == "gzip":
            return _stream(_Gunzip, data, limit, name)
        if kind == "bzip2":
            return _stream(bz2.BZ2Decompressor, data, limit, name)
    except (OSError, zlib.error, EOFError) as exc:
        raise ArchiveError(name, f"corrupt {kind} data ({exc})") from exc
    return data


def open_members(name: str, data: bytes, max_uncompressed_bytes: int) -> list[Member]:
    """The lead files inside `data`: itself when it is not compressed, the decompressed
    file for .gz/.bz2, and one member per file for .zip (each a file of its own)."""
    kind = compression_of(name, data)
    if kind is None:
        if name.lower().endswith(_COMPRESSED_SUFFIXES) and not data.startswith(ZIP_MAGIC):
            raise ArchiveError(name, "named like a compressed file but is not one")
        return [Member(name, name, data)]
    if kind == "zip":
        return _zip_members(name, data, max_uncompressed_bytes)
    return [Member(_inner_name(name), name, _decompress_single(name, data, max_uncompressed_bytes))]
