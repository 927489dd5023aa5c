"""Reading what changed in the watched folders, from a cursor of page tokens.

The first read takes `changes.getStartPageToken` (so nothing that changes meanwhile is lost),
then lists the watched folders page by page; every lead file found is a candidate. After that,
each read pages through `changes.list` from the token with `nextPageToken` until
`newStartPageToken`, which becomes the next cursor. A change is placed against the watched tree
(pipeline/drive/tree.py): a lead file inside it is a candidate (the caller decides from its
content key whether the content is new); a file trashed, deleted, no longer shared or moved out
is recorded as removed; a folder that moves in has its subtree listed; a folder that leaves
takes its subtree with it; everything else (other folders, unsupported types) is counted as
ignored.

The cursor is JSON: which folders it watches (a different DRIVE_FOLDER_IDS starts over), the
phase (`listing` or `changes`), the page token, and in the listing phase the walk's state.
Reading stops after `limit` candidates, at the deadline, or when Drive's quota runs out; the
cursor then points at the first page not fully read, and re-reading a page is harmless (the
tree is upserted, and the landing zone knows every content already fetched).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from pipeline.drive import tree as tree_store
from pipeline.drive.api import DriveApi, DriveRetriesExhausted
from pipeline.drive.items import DriveItem
from pipeline.drive.listing import WalkState, next_page, walk
from pipeline.drive.tree import Root, Tree
from pipeline.sources import SourceChanges

OUTSIDE = "outside the watched folders"
REMOVED_OR_UNSHARED = "deleted, or no longer shared with the account"
TRASHED = "trashed"
MOVED_OUT = "moved out of the watched folders"


def roots_key(folder_ids: Sequence[str]) -> str:
    return hashlib.sha256(",".join(sorted(folder_ids)).encode()).hexdigest()[:16]


@dataclass
class DriveCursor:
    roots: str
    phase: str  # "listing" | "changes"
    token: str
    walk: WalkState | None = None
    # The watched folders as resolved when the cursor began (id, name, shared drive), so a
    # tick does not ask Drive for them again.
    folders: list[Root] = field(default_factory=list)

    def encode(self) -> str:
        data: dict[str, Any] = {"roots": self.roots, "phase": self.phase, "token": self.token}
        data["folders"] = [[r.id, r.name, r.drive_id] for r in self.folders]
        if self.walk is not None:
            data["walk"] = self.walk.to_json()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None, folder_ids: Sequence[str]) -> DriveCursor | None:
        """None for no cursor, or one written for other folders (they are listed afresh)."""
        if not raw:
            return None
        data = json.loads(raw)
        if data.get("roots") != roots_key(folder_ids):
            return None
        walk_state = WalkState.from_json(data["walk"]) if data.get("walk") else None
        folders = [Root(*f) for f in data.get("folders", [])]
        return cls(data["roots"], data["phase"], str(data["token"]), walk_state, folders)


@dataclass
class _Read:
    """What one read gathered."""

    candidates: list[DriveItem] = field(default_factory=list)
    resume_at: list[str | None] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)

    def candidate(self, item: DriveItem, resume_at: str) -> None:
        if item.id not in self.seen:  # a file may change twice in one read; once is enough
            self.seen.add(item.id)
            self.candidates.append(item)
            self.resume_at.append(resume_at)


class ChangeReader:
    """One read of the watched folders' changes (see the module doc); `resolve` names the
    watched folders at Drive (called only when the cursor does not know them yet)."""

    def __init__(
        self,
        api: DriveApi,
        engine: Engine,
        folder_ids: Sequence[str],
        resolve: Callable[[], list[Root]],
    ) -> None:
        self.api = api
        self.engine = engine
        self.folder_ids = list(folder_ids)
        self.resolve = resolve
        self.roots: list[Root] = []

    def read(self, raw_cursor: str | None, limit: int, deadline: float | None) -> SourceChanges:
        calls_before = self.api.stats.total
        cursor = DriveCursor.decode(raw_cursor, self.folder_ids)
        got = _Read()
        interrupted: str | None = None
        done = False
        try:
            if cursor is None:
                self.roots = self.resolve()
                cursor = DriveCursor(
                    roots_key(self.folder_ids),
                    "listing",
                    self.api.start_page_token(),
                    WalkState.of(self.roots),
                    self.roots,
                )
            elif not cursor.folders:
                cursor.folders = self.resolve()
            self.roots = cursor.folders
            tree = tree_store.load_tree(self.engine, self.roots)
            while len(got.candidates) < limit and not _past(deadline):
                before = cursor.encode()
                if cursor.phase == "listing":
                    self._listing_page(cursor, tree, got, before)
                else:
                    done = self._changes_page(cursor, tree, got, before)
                    if done:
                        break
        except DriveRetriesExhausted as exc:
            interrupted = str(exc)
        return SourceChanges(
            files=[c.to_source_file() for c in got.candidates],
            resume_at=got.resume_at,
            cursor=cursor.encode() if cursor is not None else raw_cursor,
            more=not done,
            removed=got.removed,
            ignored=got.ignored,
            api_calls=self.api.stats.total - calls_before,
            interrupted=interrupted,
        )

    # --- listing (the first read) ----------------------------------------------------------

    def _listing_page(self, cursor: DriveCursor, tree: Tree, got: _Read, before: str) -> None:
        assert cursor.walk is not None
        page = next_page(self.api, tree.roots, cursor.walk)
        if page is None:
            cursor.phase, cursor.walk = "changes", None
            return
        items, root = page
        self._place_listed([(i, root) for i in items], tree, got, before)

    def _place_listed(
        self, listed: list[tuple[DriveItem, str]], tree: Tree, got: _Read, before: str
    ) -> None:
        placed = []
        for item, root in listed:
            if item.is_folder:
                tree.folders.setdefault(item.id, root)
                placed.append((item, root))
            else:
                _take_file(item, root, got, placed, before)
        tree_store.record_present(self.engine, placed)

    # --- the change feed ---------------------------------------------------------------------

    def _changes_page(self, cursor: DriveCursor, tree: Tree, got: _Read, before: str) -> bool:
        """Read one page of changes; True when it was the last (the feed is caught up)."""
        reply = self.api.changes_page(cursor.token)
        changes = reply.get("changes", [])
        gone: dict[str, str] = {}  # file id -> why it left the tree (if it was in it)
        items: list[DriveItem] = []
        for change in changes:
            if change.get("changeType", "file") != "file":
                got.ignored["shared drive changes"] += 1
            elif change.get("removed") or not change.get("file"):
                gone[str(change["fileId"])] = REMOVED_OR_UNSHARED
            else:
                items.append(DriveItem.from_api(change["file"]))
        # Folders first: a file may change in a folder that changes later in the same page.
        folders = [i for i in items if i.is_folder]
        self._place_folders(folders, tree, got, gone, before)
        placed = []
        for item in (i for i in items if not i.is_folder):
            root = tree.root_of(item)
            if item.trashed:
                gone[item.id] = TRASHED
            elif root is None:
                gone[item.id] = MOVED_OUT
            else:
                _take_file(item, root, got, placed, before)
        tree_store.record_present(self.engine, placed)
        self._record_gone(gone, tree, got)
        next_token = reply.get("nextPageToken")
        if next_token:
            cursor.token = str(next_token)
            return False
        cursor.token = str(reply["newStartPageToken"])
        return True

    def _place_folders(
        self,
        folders: list[DriveItem],
        tree: Tree,
        got: _Read,
        gone: dict[str, str],
        before: str,
    ) -> None:
        # A folder whose parent changes in the same page may come before it: settle until
        # nothing moves (each pass places at least one folder, or stops).
        waiting = list(folders)
        while waiting:
            still: list[DriveItem] = []
            for folder in waiting:
                root = tree.root_of(folder)
                if folder.id in tree.roots:
                    continue  # a watched folder itself (renamed, ...): nothing to place
                if folder.trashed:
                    gone[folder.id] = TRASHED
                elif root is None:
                    still.append(folder)
                elif folder.id not in tree.folders:
                    tree.folders[folder.id] = root
                    tree_store.record_present(self.engine, [(folder, root)])
                    self._list_moved_in(folder, root, tree, got, before)
                else:
                    tree.folders[folder.id] = root
                    tree_store.record_present(self.engine, [(folder, root)])
            if len(still) == len(waiting):
                for folder in still:
                    if folder.id in tree.folders:
                        gone[folder.id] = MOVED_OUT
                    else:
                        got.ignored[OUTSIDE] += 1
                break
            waiting = still

    def _list_moved_in(
        self, folder: DriveItem, root: str, tree: Tree, got: _Read, before: str
    ) -> None:
        """A folder new to the tree brings files that have no change of their own."""
        state = WalkState(pending=[[root, folder.id]])
        self._place_listed(list(walk(self.api, self.roots, state=state)), tree, got, before)

    def _record_gone(self, gone: dict[str, str], tree: Tree, got: _Read) -> None:
        if not gone:
            return
        inside = tree_store.present(self.engine, gone)
        by_reason: dict[str, list[str]] = {}
        for file_id, why in gone.items():
            if file_id not in inside:
                got.ignored[OUTSIDE] += 1
                continue
            below = (
                tree_store.descendants(self.engine, [file_id]) if file_id in tree.folders else []
            )
            for gone_id in [file_id, *below]:
                tree.folders.pop(gone_id, None)
            by_reason.setdefault(why, []).extend([file_id, *below])
        for why, ids in by_reason.items():
            names = tree_store.present(self.engine, ids)
            got.removed += [names[i] for i in ids if i in names]
            tree_store.record_removed(self.engine, ids, why)


def _take_file(
    item: DriveItem,
    root: str,
    got: _Read,
    placed: list[tuple[DriveItem, str]],
    before: str,
) -> None:
    """A file inside the tree: a candidate if it is a lead file, else counted as ignored."""
    if item.lead_kind is None:
        got.ignored[item.ignored_because()] += 1
    else:
        placed.append((item, root))
        got.candidate(item, before)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline
