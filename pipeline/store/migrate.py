"""Bring the store's schema up to date, safely when several processes start at once.

The webhook receiver, the Dagster daemon and a run worker may all start together against the
same database. Postgres serializes them on an advisory lock; SQLite on a lock file beside the
database (SQLite's own locks do not cover Alembic's read-then-write of its version table).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every process ("leadsops" in ASCII).
PG_LOCK_KEY = 0x6C656164736F7073 & 0x7FFFFFFFFFFFFFFF


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    lock_path = f"{database}.migrate.lock" if database and database != ":memory:" else None
    if lock_path is None:
        with engine.connect() as conn:
            yield conn
        return
    with FileLock(lock_path, timeout=120), engine.connect() as conn:
        yield conn


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply pending migrations; a no-op (one cheap query) when the schema is current."""
    if current_revision(engine) == head_revision() and revision == "head":
        return
    with _migration_lock(engine) as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()


def downgrade(engine: Engine, revision: str = "base") -> None:
    with _migration_lock(engine) as conn:
        command.downgrade(alembic_config(conn), revision)
        conn.commit()
