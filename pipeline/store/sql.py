"""Small SQL helpers shared by the store's modules."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def dialect_insert(bind: Engine | Connection, table: Table):  # type: ignore[no-untyped-def]
    """An INSERT with `on_conflict_do_nothing/update` for the engine's or connection's
    dialect (both SQLite and Postgres speak ON CONFLICT)."""
    return (postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert)(table)
