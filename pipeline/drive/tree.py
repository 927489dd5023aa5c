"""The watched tree, remembered in the operational store (`drive_items`).

Drive's change feed names a file and its parents, not whether it lies below a watched folder.
Every folder and lead file found below DRIVE_FOLDER_IDS is recorded here, so a change is placed
from one in-memory map of folders (no call per file to walk up its ancestors), and a file that
leaves the tree (trashed, deleted, access lost, moved out) is recorded as removed, with why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC

from sqlalchemy import Engine, and_, select, update

from pipeline.drive.items import DriveItem
from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import drive_items

PRESENT, REMOVED = "present", "removed"
_BATCH = 500


@dataclass(frozen=True)
class Root:
    """A watched folder (DRIVE_FOLDER_IDS), with its shared drive when it lies in one."""

    id: str
    name: str
    drive_id: str | None = None


@dataclass
class Tree:
    """Folder id -> the watched folder it lies under, for every folder known to be inside."""

    roots: dict[str, Root]
    folders: dict[str, str] = field(default_factory=dict)

    def root_of(self, item: DriveItem) -> str | None:
        """The watched folder an item lies under (by its parents), or None when outside."""
        for parent in item.parents:
            root = self.folders.get(parent)
            if root is not None:
                return root
        return None


def load_tree(engine: Engine, roots: Sequence[Root]) -> Tree:
    tree = Tree({r.id: r for r in roots}, {r.id: r.id for r in roots})
    t = drive_items
    query = select(t.c.file_id, t.c.root_id).where(
        t.c.is_folder.is_(True), t.c.state == PRESENT, t.c.root_id.in_([r.id for r in roots])
    )
    with engine.connect() as conn:
        for file_id, root_id in conn.execute(query):
            tree.folders.setdefault(file_id, root_id)
    return tree


def record_present(engine: Engine, placed: Iterable[tuple[DriveItem, str]]) -> None:
    """Upsert folders and lead files found inside the tree (item, its watched folder)."""
    now = utcnow()
    rows = [
        {
            "file_id": item.id,
            "root_id": root,
            "parent_id": item.parents[0] if item.parents else None,
            "name": item.name[:1024],
            "mime_type": item.mime_type[:255],
            "is_folder": item.is_folder,
            "drive_id": item.drive_id,
            "content_key": None if item.is_folder else item.content_key[:200],
            "size_bytes": item.size,
            "modified_at": item.modified_at.replace(tzinfo=UTC),
            "state": PRESENT,
            "removed_reason": None,
            "removed_at": None,
            "updated_at": now,
        }
        for item, root in placed
    ]
    if not rows:
        return
    with engine.begin() as conn:
        for start in range(0, len(rows), _BATCH):
            stmt = dialect_insert(conn, drive_items)
            columns = {c: stmt.excluded[c] for c in rows[0] if c != "file_id"}
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["file_id"], set_=columns),
                rows[start : start + _BATCH],
            )


def present(engine: Engine, file_ids: Iterable[str]) -> dict[str, str]:
    """Of these ids, those recorded as inside the tree now (id -> name)."""
    ids = list(dict.fromkeys(file_ids))
    found: dict[str, str] = {}
    t = drive_items
    with engine.connect() as conn:
        for start in range(0, len(ids), _BATCH):
            query = select(t.c.file_id, t.c.name).where(
                t.c.file_id.in_(ids[start : start + _BATCH]), t.c.state == PRESENT
            )
            found.update({row.file_id: row.name for row in conn.execute(query)})
    return found


def descendants(engine: Engine, folder_ids: Iterable[str]) -> list[str]:
    """Every item recorded below these folders (present ones), breadth first."""
    t = drive_items
    found: list[str] = []
    level = list(folder_ids)
    with engine.connect() as conn:
        while level:
            below: list[str] = []
            for start in range(0, len(level), _BATCH):
                query = select(t.c.file_id).where(
                    t.c.parent_id.in_(level[start : start + _BATCH]), t.c.state == PRESENT
                )
                below += [row.file_id for row in conn.execute(query)]
            found += below
            level = below
    return found


def record_removed(engine: Engine, file_ids: Iterable[str], reason: str) -> None:
    ids = list(dict.fromkeys(file_ids))
    if not ids:
        return
    now = utcnow()
    t = drive_items
    with engine.begin() as conn:
        for start in range(0, len(ids), _BATCH):
            conn.execute(
                update(t)
                .where(and_(t.c.file_id.in_(ids[start : start + _BATCH]), t.c.state == PRESENT))
                .values(state=REMOVED, removed_reason=reason[:120], removed_at=now, updated_at=now)
            )


def removed_items(engine: Engine, limit: int = 1000) -> list[dict]:
    """The most recently removed files, with why (for `drive check` and tests)."""
    t = drive_items
    query = (
        select(t.c.file_id, t.c.name, t.c.removed_reason, t.c.removed_at)
        .where(t.c.state == REMOVED)
        .order_by(t.c.removed_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
