"""`python -m pipeline drive check`: can the credentials reach each watched folder, and what
is in it?

It asks for a token (the credentials), opens each folder (shared with the account? a folder at
all?), lists what it can see below it (name, type, size, modified; lead files and what would be
ignored), and reads the change feed's start token (the feed the sensor follows). Each problem
is one plain sentence: "share the folder with <account>", "folder not found", "the Google
Drive API is not enabled".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import google.auth.exceptions

from pipeline.drive.api import DriveApi, DriveError
from pipeline.drive.items import DriveItem
from pipeline.drive.listing import resolve_roots, walk
from pipeline.google.auth import GoogleAuthError

Say = Callable[[str], None]


@dataclass
class CheckResult:
    ok: bool
    folders_ok: int = 0
    lead_files: int = 0


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _credentials_problem(exc: BaseException, api: DriveApi) -> str | None:
    if isinstance(exc, GoogleAuthError):
        return str(exc)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return (
            f"the token endpoint refused the credentials: {exc}. Check the key file (is the "
            "key revoked?) and, with GOOGLE_IMPERSONATE, that domain-wide delegation allows "
            f"the Drive read-only scope for {api.principal}"
        )
    return None


def check_drive(
    api: DriveApi, folder_ids: Sequence[str], say: Say = print, show: int = 50
) -> CheckResult:
    """Print the report through `say`; `ok` is False when anything needs fixing."""
    result = CheckResult(ok=True)
    try:
        who = api.principal
    except GoogleAuthError as exc:
        say(f"credentials: {exc}")
        return CheckResult(ok=False)
    say(f"credentials: acting as {who}")
    if not folder_ids:
        say("DRIVE_FOLDER_IDS is not set: the comma-separated ids of the folders to watch")
        return CheckResult(ok=False)
    try:
        api.start_page_token()
        say("change feed: readable (the file-arrival sensor follows it)")
    except Exception as exc:
        say(f"problem: {_credentials_problem(exc, api) or exc}")
        return CheckResult(ok=False)
    for folder_id in folder_ids:
        try:
            [root] = resolve_roots(api, [folder_id])
            where = f" in shared drive {root.drive_id}" if root.drive_id else ""
            rows: list[DriveItem] = []
            folders = 0
            ignored: Counter[str] = Counter()
            for item, _root in walk(api, [root]):
                if item.is_folder:
                    folders += 1
                elif item.lead_kind is None:
                    ignored[item.ignored_because()] += 1
                else:
                    rows.append(item)
        except DriveError as exc:
            result.ok = False
            say(f"folder {folder_id}: {exc}")
            continue
        result.folders_ok += 1
        result.lead_files += len(rows)
        say(
            f"folder {root.name!r} ({root.id}){where}: {len(rows)} lead file(s), "
            f"{folders} subfolder(s)" + (f", {sum(ignored.values())} ignored" if ignored else "")
        )
        rows.sort(key=lambda i: i.modified_at, reverse=True)
        for item in rows[:show]:
            say(
                f"  {item.name[:48]:<48} {item.mime_type[:42]:<42} {_size(item.size):>9}  "
                f"{item.modified_at:%Y-%m-%d %H:%M}"
            )
        if len(rows) > show:
            say(f"  ... and {len(rows) - show} more")
        for why, n in sorted(ignored.items()):
            say(f"  ignored: {n} {why}")
        if not rows and not ignored:
            say(
                f"  (empty: if files are there, share the folder itself with {who}, not only "
                "the files)"
            )
    say(f"API calls: {api.stats.total}")
    return result
