"""Listing the watched folders, subfolders included, page by page.

One files.list query covers up to `PARENTS_PER_QUERY` folders of the same watched folder
(`'a' in parents or 'b' in parents ...`), so a tree is listed level by level in few calls.
The walk's state (`WalkState`: folders still to list, the current batch and its page token)
is plain data, so a sensor can stop after any page and carry on from its cursor next tick.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.drive.api import FOLDER_MIME, DriveAccessError, DriveApi, DriveNotFound
from pipeline.drive.items import DriveItem, drive_time
from pipeline.drive.tree import Root

PARENTS_PER_QUERY = 20


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def children_query(
    parents: Sequence[str], start: datetime | None = None, end: datetime | None = None
) -> str:
    """Children of these folders, not trashed; with a window, folders (to walk on) and files
    modified in [start, end)."""
    q = "(" + " or ".join(f"{_quoted(p)} in parents" for p in parents) + ") and trashed = false"
    if start is None and end is None:
        return q
    window = []
    if start is not None:
        window.append(f"modifiedTime >= {_quoted(drive_time(start))}")
    if end is not None:
        window.append(f"modifiedTime < {_quoted(drive_time(end))}")
    return f"{q} and (mimeType = {_quoted(FOLDER_MIME)} or ({' and '.join(window)}))"


def resolve_roots(api: DriveApi, folder_ids: Sequence[str]) -> list[Root]:
    """The watched folders as Drive knows them; a wrong id or an unshared folder says so."""
    roots = []
    for folder_id in folder_ids:
        try:
            data = api.get_item(folder_id, f"opening folder {folder_id} (DRIVE_FOLDER_IDS)")
        except DriveNotFound:
            raise DriveNotFound(
                f"folder {folder_id} not found: check DRIVE_FOLDER_IDS, and share the folder "
                f"with {api.principal} (Drive answers 'not found' for a folder it does not show "
                "the account)"
            ) from None
        item = DriveItem.from_api(data)
        if not item.is_folder:
            raise DriveAccessError(
                f"DRIVE_FOLDER_IDS: {folder_id} is {item.name!r} ({item.mime_type}), not a folder"
            )
        if item.trashed:
            raise DriveAccessError(f"DRIVE_FOLDER_IDS: folder {item.name!r} is in the trash")
        roots.append(Root(item.id, item.name, item.drive_id))
    return roots


@dataclass
class WalkState:
    """What is left of a walk: [root id, folder id] pairs to list, and the query in progress."""

    pending: list[list[str]] = field(default_factory=list)
    batch: list[str] = field(default_factory=list)
    batch_root: str | None = None
    page_token: str | None = None

    @classmethod
    def of(cls, roots: Sequence[Root]) -> WalkState:
        return cls(pending=[[r.id, r.id] for r in roots])

    @property
    def done(self) -> bool:
        return not self.pending and not self.batch

    def to_json(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "batch": self.batch,
            "batch_root": self.batch_root,
            "page_token": self.page_token,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WalkState:
        return cls(
            [list(p) for p in data.get("pending", [])],
            list(data.get("batch", [])),
            data.get("batch_root"),
            data.get("page_token"),
        )


def next_page(
    api: DriveApi,
    roots: dict[str, Root],
    state: WalkState,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[DriveItem], str] | None:
    """List one page and advance `state` (subfolders found join the queue); returns the page's
    items with the watched folder they lie under, or None when the walk is done."""
    if not state.batch:
        if not state.pending:
            return None
        root = state.pending[0][0]
        batch: list[str] = []
        rest: list[list[str]] = []
        for pair in state.pending:
            if pair[0] == root and len(batch) < PARENTS_PER_QUERY:
                batch.append(pair[1])
            else:
                rest.append(pair)
        state.pending = rest
        state.batch, state.batch_root, state.page_token = batch, root, None
    root_id = state.batch_root
    assert root_id is not None
    root = roots[root_id]
    reply = api.list_page(
        children_query(state.batch, start, end),
        state.page_token,
        root.drive_id,
        f"listing folder {root.name!r} ({root.id})",
    )
    items = [DriveItem.from_api(f) for f in reply.get("files", [])]
    state.pending += [[root_id, i.id] for i in items if i.is_folder]
    state.page_token = reply.get("nextPageToken")
    if not state.page_token:
        state.batch, state.batch_root = [], None
    return items, root_id


def walk(
    api: DriveApi,
    roots: Sequence[Root],
    start: datetime | None = None,
    end: datetime | None = None,
    state: WalkState | None = None,
) -> Iterator[tuple[DriveItem, str]]:
    """Every folder and file below the roots (or below `state`'s folders), with its root."""
    by_id = {r.id: r for r in roots}
    state = state or WalkState.of(roots)
    while (page := next_page(api, by_id, state, start, end)) is not None:
        items, root = page
        for item in items:
            yield item, root
