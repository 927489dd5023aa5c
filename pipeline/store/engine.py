"""One SQLAlchemy engine per store URL: a WAL-mode SQLite file on a laptop, Postgres for a team.

The same code and schema serve both; only the connection settings differ. SQLite gets WAL (so
readers never block the webhook receiver's writer), a busy timeout (so two processes wait for
each other instead of failing), `synchronous=FULL` (a 2xx answer means the row survives a power
cut, not just a crash) and foreign keys on.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Page size of a new SQLite store (SQLite's default is 4 KiB). The CRM sync writes ~200 MB
# per 100,000 contacts (outbox, ledger, their indexes) in one transaction; 16 KiB pages take a
# quarter of the WAL frames, B-tree splits and checkpoint work off it (benchmarks/crm/README).
# Only a new, empty database takes it: an existing store keeps the size it was made with.
SQLITE_PAGE_SIZE = 16_384


def redact_url(url: str) -> str:
    """The URL with its password hidden, for logs and errors."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own transaction handling is disabled so BEGIN IMMEDIATE can take the write
    # lock up front (no deadlock-prone read-to-write upgrades between processes).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # before WAL; no-op once made
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    # 64 MiB of page cache (default 2 MiB), used only as needed: the CRM sync writes 100,000s
    # of outbox and ledger rows per transaction, and index pages evicted mid-statement are
    # read back again.
    cursor.execute("PRAGMA cache_size = -65536")
    cursor.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_store_engine(url: str) -> Engine:
    """An engine for `url`; SQLite parents are created, Postgres connections are pre-pinged."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ValueError(
        f"LEADS_DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {redact_url(url)}"
    )
