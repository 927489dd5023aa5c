"""A fake Google Drive v3, registered on the shared fake Google server (real HTTP on loopback).

It implements what the pipeline calls, the way Drive answers it: `files.list` (the `q`
language for parents, trashed, mimeType, name and modifiedTime with and/or/not; paging; the
`fields` partial response; `corpora`, `includeItemsFromAllDrives` and `supportsAllDrives`
for shared drives), `files.get` (metadata, and `alt=media` with Range requests),
`files.export`, `changes.getStartPageToken`, `changes.list` (one entry per file with its
current state, removed entries for files the account lost or that were deleted, paging to
`newStartPageToken`), `changes.watch` and `channels.stop`; errors in Google's JSON shape.

Visibility is Drive's: the account sees what lies below a folder shared with it, and the
shared drives it is a member of (only with `supportsAllDrives` and, for lists,
`includeItemsFromAllDrives`); anything else answers 404. `fail(...)` queues errors (429 with
Retry-After, rate-limit and permission 403s, 5xx) for the next calls of a method.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.google_api import GoogleApiServer, Reply, Request, google_error

FOLDER = "application/vnd.google-apps.folder"
SHEET = "application/vnd.google-apps.spreadsheet"
DOC = "application/vnd.google-apps.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CHANNEL_SECONDS = 7 * 86400  # Drive's longest changes channel
DEFAULT_CHANNEL_SECONDS = 3600


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _parse_time(value: str) -> datetime:
    value = value.replace("Z", "+00:00")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Item:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    modified: datetime
    content: bytes | None = None  # uploads
    export: bytes | None = None  # a Sheet's XLSX export
    version: int = 1
    head_revision: str | None = None
    trashed: bool = False
    deleted: bool = False
    drive_id: str | None = None

    def resource(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "modifiedTime": rfc3339(self.modified),
            "version": str(self.version),
            "trashed": self.trashed,
        }
        if self.drive_id:
            data["driveId"] = self.drive_id
        if self.content is not None:
            data["size"] = str(len(self.content))
            data["md5Checksum"] = hashlib.md5(self.content).hexdigest()
            data["headRevisionId"] = self.head_revision
        return data


@dataclass
class Channel:
    id: str
    resource_id: str
    address: str
    token: str | None
    expiration_ms: int
    page_token: str
    stopped: bool = False


# --- the q language -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|=|<|>)|(?P<paren>[()])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
Predicate = Callable[[Item], bool]


class QueryError(ValueError):
    pass


def _tokens(q: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    q = q.strip()
    while pos < len(q):
        match = _TOKEN.match(q, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Invalid Value at {pos}: {q[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = match.end()
    return out


def parse_query(q: str) -> Predicate:
    """Drive's search language, as far as the pipeline uses it (and a little more)."""
    tokens = _tokens(q)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise QueryError("Invalid Value: unexpected end of query")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        left = term()
        while peek() == ("word", "or"):
            take()
            right = term()
            left = (lambda a, b: lambda i: a(i) or b(i))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while peek() == ("word", "and"):
            take()
            right = factor()
            left = (lambda a, b: lambda i: a(i) and b(i))(left, right)
        return left

    def factor() -> Predicate:
        token = take()
        if token == ("word", "not"):
            inner = factor()
            return lambda i: not inner(i)
        if token == ("paren", "("):
            inner = expr()
            if take() != ("paren", ")"):
                raise QueryError("Invalid Value: missing )")
            return inner
        if token[0] == "str":
            if take() != ("word", "in") or take() != ("word", "parents"):
                raise QueryError("Invalid Value: expected 'in parents'")
            parent = token[1]
            return lambda i: parent in i.parents
        if token[0] != "word":
            raise QueryError(f"Invalid Value: {token[1]!r}")
        name = token[1]
        op = take()
        value_token = take()
        if op == ("word", "contains") and name == "name":
            return lambda i: value_token[1] in i.name
        if op[0] != "op":
            raise QueryError(f"Invalid Value: operator {op[1]!r}")
        return _comparison(name, op[1], value_token)

    predicate = expr()
    if pos != len(tokens):
        raise QueryError("Invalid Value: trailing tokens")
    return predicate


def _comparison(name: str, op: str, token: tuple[str, str]) -> Predicate:
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    check = compare[op]
    if name == "trashed":
        wanted = token[1] == "true"
        return lambda i: check(i.trashed, wanted)
    if name == "mimeType":
        return lambda i: check(i.mime_type, token[1])
    if name == "name":
        return lambda i: check(i.name, token[1])
    if name == "modifiedTime":
        when = _parse_time(token[1])
        return lambda i: check(i.modified, when)
    raise QueryError(f"Invalid Value: unknown field {name!r}")


# --- partial responses (`fields`) --------------------------------------------------------------

Mask = dict[str, "Mask | None"] | None


def parse_fields(text: str) -> Mask:
    text = text.replace(" ", "")
    if text in ("", "*"):
        return None
    pos = 0

    def entries() -> dict[str, Mask]:
        nonlocal pos
        out: dict[str, Mask] = {}
        while pos < len(text) and text[pos] != ")":
            match = re.compile(r"[A-Za-z_*][A-Za-z0-9_/]*").match(text, pos)
            if not match:
                raise QueryError(f"Invalid field selection {text!r}")
            name, pos = match.group(), match.end()
            sub: Mask = None
            if pos < len(text) and text[pos] == "(":
                pos += 1
                sub = entries()
                pos += 1  # ')'
            head, *rest = name.split("/")
            for part in reversed(rest):
                sub = {part: sub}
            out[head] = sub
            if pos < len(text) and text[pos] == ",":
                pos += 1
        return out

    return entries()


def apply_fields(mask: Mask, value: Any) -> Any:
    if mask is None:
        return value
    if isinstance(value, list):
        return [apply_fields(mask, v) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(mask[k], v) for k, v in value.items() if k in mask}
    return value


DEFAULT_FILE_FIELDS = "kind,id,name,mimeType"


# --- the fake -------------------------------------------------------------------------------


class FakeDrive:
    """Drive's files, change log and channels, served on `google` (a GoogleApiServer)."""

    def __init__(self, google: GoogleApiServer) -> None:
        self.google = google
        self.items: dict[str, Item] = {}
        self.changes: list[tuple[int, str, datetime]] = []  # (sequence, file id, time)
        self.channels: dict[str, Channel] = {}
        self.shared_with_account: set[str] = set()  # folders shared with the service account
        self.member_of: set[str] = set()  # shared drives the account is a member of
        self.export_limit = 10 * 2**20  # Drive refuses to export larger files
        self.failures: dict[str, list[Reply | None]] = defaultdict(list)
        self.calls: Counter[str] = Counter()
        self.bytes_served = 0
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        route = google.state.route
        route("GET", r"/drive/v3/files", self._files_list)
        route("GET", r"/drive/v3/files/([^/]+)/export", self._files_export)
        route("GET", r"/drive/v3/files/([^/]+)", self._files_get)
        route("GET", r"/drive/v3/changes/startPageToken", self._start_page_token)
        route("GET", r"/drive/v3/changes", self._changes_list)
        route("POST", r"/drive/v3/changes/watch", self._changes_watch)
        route("POST", r"/drive/v3/channels/stop", self._channels_stop)

    # --- building a Drive --------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}AbCdEfGhIjK"

    def _now(self, at: datetime | None) -> datetime:
        return (at or datetime.now(UTC)).astimezone(UTC)

    def _change(self, item: Item, at: datetime, mutate: Callable[[], None]) -> None:
        """Apply a change; it enters the log if the account saw the item before or after."""
        with self._lock:
            before = item.id in self.items and self._visible(item)
            mutate()
            self.items[item.id] = item
            if before or self._visible(item):
                self.changes.append((next(self._seq), item.id, at))

    def shared_drive(self, name: str, member: bool = True) -> str:
        """A shared drive; its root folder's id is the drive's id (as in Drive)."""
        drive_id = self._new_id("0A")
        item = Item(drive_id, name, FOLDER, [], datetime.now(UTC), drive_id=drive_id)
        self.items[drive_id] = item
        if member:
            self.member_of.add(drive_id)
        return drive_id

    def folder(self, name: str, parent: str | None = None, *, shared: bool = False, at=None) -> str:
        """A folder (`shared`: shared with the service account, as a person would)."""
        parent_item = self.items.get(parent) if parent else None
        item = Item(
            self._new_id("1F"),
            name,
            FOLDER,
            [parent] if parent else ["root"],
            self._now(at),
            drive_id=parent_item.drive_id if parent_item else None,
        )
        if shared:
            self.shared_with_account.add(item.id)
        self._change(item, item.modified, lambda: None)
        return item.id

    def upload(
        self, name: str, content: bytes, parent: str, *, mime: str | None = None, at=None
    ) -> str:
        parent_item = self.items[parent]
        item = Item(
            self._new_id("1U"),
            name,
            mime or _guess_mime(name),
            [parent],
            self._now(at),
            content=content,
            head_revision=self._new_id("0B"),
            drive_id=parent_item.drive_id,
        )
        self._change(item, item.modified, lambda: None)
        return item.id

    def sheet(self, name: str, xlsx: bytes, parent: str, *, at=None) -> str:
        parent_item = self.items[parent]
        item = Item(
            self._new_id("1S"),
            name,
            SHEET,
            [parent],
            self._now(at),
            export=xlsx,
            drive_id=parent_item.drive_id,
        )
        self._change(item, item.modified, lambda: None)
        return item.id

    def doc(self, name: str, parent: str, *, at=None) -> str:
        item = Item(self._new_id("1D"), name, DOC, [parent], self._now(at))
        self._change(item, item.modified, lambda: None)
        return item.id

    def update(self, file_id: str, content: bytes, *, at=None) -> None:
        """A new revision (the same bytes again still make a new revision, as in Drive)."""
        item, when = self.items[file_id], self._now(at)

        def mutate() -> None:
            item.content, item.modified = content, when
            item.version += 1
            item.head_revision = self._new_id("0B")

        self._change(item, when, mutate)

    def edit_sheet(self, file_id: str, xlsx: bytes, *, at=None) -> None:
        item, when = self.items[file_id], self._now(at)

        def mutate() -> None:
            item.export, item.modified = xlsx, when
            item.version += 1

        self._change(item, when, mutate)

    def rename(self, file_id: str, name: str, *, at=None) -> None:
        item = self.items[file_id]

        def mutate() -> None:
            item.name = name
            item.version += 1

        self._change(item, self._now(at), mutate)

    def trash(self, file_id: str, *, at=None) -> None:
        item = self.items[file_id]

        def mutate() -> None:
            item.trashed = True
            item.version += 1

        self._change(item, self._now(at), mutate)

    def delete(self, file_id: str, *, at=None) -> None:
        item = self.items[file_id]
        self._change(item, self._now(at), lambda: setattr(item, "deleted", True))

    def move(self, file_id: str, new_parent: str, *, at=None) -> None:
        item = self.items[file_id]

        def mutate() -> None:
            item.parents = [new_parent]
            item.version += 1

        self._change(item, self._now(at), mutate)

    def fail(
        self,
        method: str,
        status: int,
        reason: str,
        *,
        times: int = 1,
        retry_after: str | None = None,
        message: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer `times` calls of `method` (e.g. "files.list") with this error, once `after`
        more calls have gone through."""
        reply = google_error(status, reason, message or f"{reason} (fake)")
        if retry_after is not None:
            reply.headers["Retry-After"] = retry_after
        with self._lock:
            self.failures[method] += [None] * after + [reply] * times

    def notification_headers(self, channel_id: str, number: int, state: str = "change") -> dict:
        """What Drive sends to a channel's address when something changed."""
        channel = self.channels[channel_id]
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(number),
            "X-Goog-Channel-Expiration": datetime.fromtimestamp(
                channel.expiration_ms / 1000, UTC
            ).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        return headers

    # --- what the account can see ---------------------------------------------------------

    def _visible(self, item: Item) -> bool:
        if item.deleted:
            return False
        if item.drive_id:
            return item.drive_id in self.member_of
        seen: set[str] = set()
        current: Item | None = item
        while current is not None and current.id not in seen:
            if current.id in self.shared_with_account:
                return True
            seen.add(current.id)
            current = self.items.get(current.parents[0]) if current.parents else None
        return False

    def _reachable(self, item: Item, request: Request, listing: bool) -> bool:
        if not self._visible(item):
            return False
        if item.drive_id:
            flags = _flag(request, "supportsAllDrives")
            return flags and (not listing or _flag(request, "includeItemsFromAllDrives"))
        return True

    # --- routes ---------------------------------------------------------------------------

    def _injected(self, method: str) -> Reply | None:
        with self._lock:
            self.calls[method] += 1
            queue = self.failures.get(method)
            return queue.pop(0) if queue else None

    def _files_list(self, request: Request, _match: re.Match[str]) -> Reply:
        if failure := self._injected("files.list"):
            return failure
        if _flag(request, "includeItemsFromAllDrives") and not _flag(request, "supportsAllDrives"):
            return google_error(
                403,
                "teamDrivesSupportsAllDrivesRequired",
                "The includeItemsFromAllDrives parameter can only be set to true when "
                "supportsAllDrives is also true.",
            )
        try:
            predicate = parse_query(_arg(request, "q") or "trashed = false")
            mask = parse_fields(_arg(request, "fields") or f"files({DEFAULT_FILE_FIELDS})")
        except QueryError as exc:
            return google_error(400, "invalid", str(exc))
        corpora, drive_id = _arg(request, "corpora") or "user", _arg(request, "driveId")
        with self._lock:
            matches = [
                item
                for item in self.items.values()
                if self._reachable(item, request, listing=True)
                and _in_corpus(item, corpora, drive_id)
                and item.id != item.drive_id
                and predicate(item)
            ]
        size = min(int(_arg(request, "pageSize") or 100), 1000)
        offset = int((_arg(request, "pageToken") or "page-0").removeprefix("page-"))
        page = matches[offset : offset + size]
        body: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": [i.resource() for i in page],
        }
        if offset + size < len(matches):
            body["nextPageToken"] = f"page-{offset + size}"
        return Reply(200, apply_fields(mask, body))

    def _item_for(self, request: Request, file_id: str) -> Item | Reply:
        with self._lock:
            item = self.items.get(file_id)
            if item is None or not self._reachable(item, request, listing=False):
                return google_error(404, "notFound", f"File not found: {file_id}.")
            return item

    def _files_get(self, request: Request, match: re.Match[str]) -> Reply:
        media = _arg(request, "alt") == "media"
        if failure := self._injected("files.get_media" if media else "files.get"):
            return failure
        item = self._item_for(request, match.group(1))
        if isinstance(item, Reply):
            return item
        if not media:
            mask = parse_fields(_arg(request, "fields") or DEFAULT_FILE_FIELDS)
            return Reply(200, apply_fields(mask, item.resource()))
        if item.content is None:
            return google_error(
                403,
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs "
                "Editors files.",
            )
        return self._media(request, item.content, item.mime_type)

    def _media(self, request: Request, data: bytes, mime: str) -> Reply:
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("range", ""))
        if not wanted:
            self.bytes_served += len(data)
            return Reply(200, data, content_type=mime)
        first = int(wanted.group(1))
        last = min(int(wanted.group(2) or len(data) - 1), len(data) - 1)
        if first >= len(data):
            return Reply(416, b"", {"Content-Range": f"bytes */{len(data)}"}, mime)
        chunk = data[first : last + 1]
        self.bytes_served += len(chunk)
        return Reply(206, chunk, {"Content-Range": f"bytes {first}-{last}/{len(data)}"}, mime)

    def _files_export(self, request: Request, match: re.Match[str]) -> Reply:
        if failure := self._injected("files.export"):
            return failure
        item = self._item_for(request, match.group(1))
        if isinstance(item, Reply):
            return item
        if item.export is None:
            return google_error(403, "fileNotExportable", "Export only supports Docs Editors.")
        if _arg(request, "mimeType") != XLSX:
            return google_error(400, "badRequest", "The requested conversion is not supported.")
        if len(item.export) > self.export_limit:
            return google_error(
                403, "exportSizeLimitExceeded", "This file is too large to be exported."
            )
        self.bytes_served += len(item.export)
        return Reply(200, item.export, content_type=XLSX)

    def _start_page_token(self, request: Request, _match: re.Match[str]) -> Reply:
        if failure := self._injected("changes.getStartPageToken"):
            return failure
        with self._lock:
            token = str(self.changes[-1][0] + 1 if self.changes else 1)
        return Reply(200, {"kind": "drive#startPageToken", "startPageToken": token})

    def _changes_list(self, request: Request, _match: re.Match[str]) -> Reply:
        if failure := self._injected("changes.list"):
            return failure
        token = _arg(request, "pageToken") or ""
        if not token.isdigit():
            return google_error(400, "invalid", f"Invalid Value: pageToken {token!r}")
        try:
            mask = parse_fields(
                _arg(request, "fields")
                or f"nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,"
                f"fileId,file({DEFAULT_FILE_FIELDS}))"
            )
        except QueryError as exc:
            return google_error(400, "invalid", str(exc))
        size = min(int(_arg(request, "pageSize") or 100), 1000)
        with self._lock:
            later = [c for c in self.changes if c[0] >= int(token)]
            last_of = {file_id: seq for seq, file_id, _ in later}
            effective = [c for c in later if last_of[c[1]] == c[0]]
            entries = []
            for seq, file_id, when in effective:
                item = self.items[file_id]
                if item.drive_id and not (
                    _flag(request, "supportsAllDrives")
                    and _flag(request, "includeItemsFromAllDrives")
                ):
                    continue
                entries.append((seq, self._change_entry(item, when, request)))
            latest = self.changes[-1][0] + 1 if self.changes else 1
        page = entries[:size]
        body: dict[str, Any] = {"kind": "drive#changeList", "changes": [e for _, e in page]}
        if len(entries) > size:
            body["nextPageToken"] = str(entries[size][0])
        else:
            body["newStartPageToken"] = str(max(latest, int(token)))
        return Reply(200, apply_fields(mask, body))

    def _change_entry(self, item: Item, when: datetime, request: Request) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": "drive#change",
            "changeType": "file",
            "time": rfc3339(when),
            "fileId": item.id,
        }
        if self._reachable(item, request, listing=True):
            return {**entry, "removed": False, "file": item.resource()}
        return {**entry, "removed": True}

    def _changes_watch(self, request: Request, _match: re.Match[str]) -> Reply:
        if failure := self._injected("changes.watch"):
            return failure
        if not _arg(request, "pageToken"):
            return google_error(400, "required", "Required parameter: pageToken")
        body = request.json() or {}
        address = str(body.get("address", ""))
        if not address.startswith("https://"):
            return google_error(
                400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS: " + address
            )
        if body.get("type") != "web_hook" or not body.get("id"):
            return google_error(400, "invalid", "Invalid channel: id and type web_hook needed")
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        asked = int(body.get("expiration") or now_ms + DEFAULT_CHANNEL_SECONDS * 1000)
        expiration = min(asked, now_ms + MAX_CHANNEL_SECONDS * 1000)
        with self._lock:
            if body["id"] in self.channels:
                return google_error(400, "channelIdNotUnique", "Channel id not unique")
            channel = Channel(
                body["id"],
                f"res-{next(self._ids)}",
                address,
                body.get("token"),
                expiration,
                _arg(request, "pageToken") or "",
            )
            self.channels[channel.id] = channel
        return Reply(
            200,
            {
                "kind": "api#channel",
                "id": channel.id,
                "resourceId": channel.resource_id,
                "resourceUri": f"{self.google.url}drive/v3/changes?alt=json",
                "token": channel.token,
                "expiration": str(channel.expiration_ms),
            },
        )

    def _channels_stop(self, request: Request, _match: re.Match[str]) -> Reply:
        if failure := self._injected("channels.stop"):
            return failure
        body = request.json() or {}
        with self._lock:
            channel = self.channels.get(str(body.get("id")))
            if channel is None or channel.stopped or channel.resource_id != body.get("resourceId"):
                return google_error(
                    404, "notFound", f"Channel '{body.get('id')}' not found for project 'proj'"
                )
            channel.stopped = True
        return Reply(204, None)

    # --- for assertions -------------------------------------------------------------------

    def open_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.stopped]


def _arg(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


def _flag(request: Request, name: str) -> bool:
    return (_arg(request, name) or "").lower() == "true"


def _in_corpus(item: Item, corpora: str, drive_id: str | None) -> bool:
    if corpora == "drive":
        return item.drive_id == drive_id
    if corpora == "user":
        return item.drive_id is None
    return True  # allDrives


def _guess_mime(name: str) -> str:
    lower = name.lower()
    for suffix, mime in (
        (".csv", "text/csv"),
        (".xlsx", XLSX),
        (".json", "application/json"),
        (".png", "image/png"),
        (".pdf", "application/pdf"),
    ):
        if lower.endswith(suffix):
            return mime
    return "application/octet-stream"


def at_day(day: str, hour: int = 9) -> datetime:
    """A time on a given day (UTC), for files that should arrive on that day."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def later(when: datetime, minutes: int = 1) -> datetime:
    return when + timedelta(minutes=minutes)
