"""One landed file -> raw rows, or a quarantine record: a file can never cost the others.

Whatever goes wrong while reading a file (an expected `FileParseError`, a zip bomb, or a
bug that raises anything else) is caught here, per file and per archive member, and
becomes a failure naming the error's class, its message and where it was raised. The
caller quarantines failures and loads the rest of the day.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.archives import Member, open_members
from pipeline.config import DEFAULT_MAX_FIELD_CHARS
from pipeline.parsing import ExcelSheets, FileParseError, ParsedFile, parse_file


@dataclass(frozen=True)
class IntakeLimits:
    """Bounds past which a file is quarantined with that reason, never half-read."""

    max_file_bytes: int = 256 * 2**20
    max_uncompressed_bytes: int = 2**30
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS


@dataclass
class FileFailure:
    name: str  # as rows would cite it: `leads.csv`, `archive.zip!member.csv`
    error: str
    error_type: str
    error_where: str | None
    # The bytes to quarantine when they are a member's, not the landed file's.
    member_data: bytes | None = None


@dataclass
class FileIntake:
    """What one landed file gave: parsed tables (one per member) and failures."""

    parsed: list[tuple[str, ParsedFile]] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)


Parser = Callable[..., ParsedFile]


def _where(exc: BaseException) -> str | None:
    """`module.py:123 in function` of the frame that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def failure_of(name: str, exc: BaseException, member_data: bytes | None = None) -> FileFailure:
    if isinstance(exc, FileParseError):
        message = str(exc)
    else:
        message = f"{name}: {type(exc).__name__} while reading the file: {exc}"
    return FileFailure(
        name=name,
        error=message,
        error_type=type(exc).__name__,
        error_where=_where(exc),
        member_data=member_data,
    )


def _member_prefix(sha256: str, member: Member) -> str | None:
    """Lead ids of an archive member: its own prefix, so two members never share ids."""
    if member.path is None:
        return None
    return hashlib.sha256(f"{sha256}!{member.path}".encode()).hexdigest()


def read_landed_file(
    path: Path,
    name: str,
    aliases: Mapping[str, str],
    *,
    file_id: str,
    sha256: str,
    arrived_at: datetime,
    excel_sheets: ExcelSheets = "leads",
    limits: IntakeLimits | None = None,
    parse: Parser = parse_file,
) -> FileIntake:
    """Every lead file inside the landed bytes, parsed on its own (`parse` is the reader,
    replaceable so tests can inject a fault into one file)."""
    limits = limits or IntakeLimits()
    intake = FileIntake()
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise FileParseError(
                name,
                f"{size:,} bytes, over the limit of {limits.max_file_bytes:,} "
                "(LEADS_MAX_FILE_BYTES)",
            )
        members = open_members(name, path.read_bytes(), limits.max_uncompressed_bytes)
    except Exception as exc:  # anything at all: this file is quarantined, the day goes on
        intake.failures.append(failure_of(name, exc))
        return intake
    for member in members:
        if member.error is not None:
            intake.failures.append(failure_of(member.display_name, member.error))
            continue
        try:
            parsed = parse(
                member.name,
                member.data,
                aliases,
                # The drive file the rows came from (the archive's, for a member; the member
                # is named in source_file and has its own lead id prefix).
                file_id=file_id,
                sha256=sha256,
                arrived_at=arrived_at,
                excel_sheets=excel_sheets,
                max_field_chars=limits.max_field_chars,
                display_name=member.display_name,
                lead_id_prefix=_member_prefix(sha256, member),
            )
        except Exception as exc:  # per member, as per file
            data = member.data if member.path is not None else None
            intake.failures.append(failure_of(member.display_name, exc, data))
            continue
        intake.parsed.append((member.display_name, parsed))
    return intake
