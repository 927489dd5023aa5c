"""The store's bulk helpers (`pipeline.store.sql`) on SQLite and Postgres: rows streamed to the
driver's executemany inside the caller's transaction, constants processed once, nulls kept;
and the SQLite page size of a new store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import bindparam, select, update

from pipeline.store import open_store
from pipeline.store.engine import SQLITE_PAGE_SIZE, create_store_engine
from pipeline.store.sql import dialect_insert, execute_many, fetch_frame
from pipeline.store.tables import crm_companies

WHEN = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SCHEMA = {"domain": pl.String, "crm_id": pl.String, "name": pl.String}


def companies(n: int, start: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "domain": [f"d{i:06d}.example" for i in range(start, start + n)],
            "crm_id": [None if i % 3 == 0 else f"c{i}" for i in range(start, start + n)],
            "name": [f"Company {i} – ünïcode" for i in range(start, start + n)],
        },
        schema=SCHEMA,
    )


def stored(engine) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    c = crm_companies
    query = select(c.c.domain, c.c.crm_id, c.c.name).order_by(c.c.domain)
    with engine.connect() as conn:
        return fetch_frame(conn, query, SCHEMA)


def test_execute_many_inserts_every_row_with_its_constants_and_nulls(store):
    rows = companies(2_500)
    stmt = dialect_insert(store, crm_companies).on_conflict_do_nothing()
    with store.begin() as conn:
        count = execute_many(conn, stmt, rows, {"backend": "outbox", "synced_at": WHEN})
    assert count == 2_500
    assert stored(store).equals(rows)
    c = crm_companies
    with store.connect() as conn:
        backends = conn.execute(select(c.c.backend, c.c.synced_at).distinct()).all()
    assert [(b, at.replace(tzinfo=at.tzinfo or UTC)) for b, at in backends] == [("outbox", WHEN)]


def test_execute_many_skips_conflicts_and_updates_through_bound_keys(store):
    insert = dialect_insert(store, crm_companies).on_conflict_do_nothing()
    constants = {"backend": "outbox", "synced_at": WHEN}
    with store.begin() as conn:
        execute_many(conn, insert, companies(10), constants)
    with store.begin() as conn:
        # 5 already stored, 5 new: only the new ones count
        assert execute_many(conn, insert, companies(10, start=5), constants) == 5
    c = crm_companies
    change = (
        update(c)
        .where(c.c.backend == bindparam("b_backend"), c.c.domain == bindparam("b_domain"))
        .values(name=bindparam("b_name"))
    )
    renamed = pl.DataFrame(
        {"b_domain": ["d000001.example", "d000014.example"], "b_name": ["A", "B"]}
    )
    with store.begin() as conn:
        assert execute_many(conn, change, renamed, {"b_backend": "outbox"}) == 2
    names = dict(stored(store).select("domain", "name").iter_rows())
    assert len(names) == 15
    assert (names["d000001.example"], names["d000014.example"]) == ("A", "B")


def test_execute_many_runs_in_the_callers_transaction(store):
    stmt = dialect_insert(store, crm_companies).on_conflict_do_nothing()
    with pytest.raises(RuntimeError), store.begin() as conn:
        execute_many(conn, stmt, companies(100), {"backend": "outbox", "synced_at": WHEN})
        raise RuntimeError("crash before the commit")
    assert stored(store).is_empty()  # rolled back with the caller's transaction
    with store.connect() as conn:  # no transaction open yet: it begins one, the caller commits
        execute_many(conn, stmt, companies(3), {"backend": "outbox", "synced_at": WHEN})
        conn.commit()
    assert stored(store).height == 3


def test_a_new_sqlite_store_gets_large_pages_and_an_existing_one_keeps_its_own(tmp_path):
    new = open_store(f"sqlite:///{tmp_path / 'new.sqlite'}")
    with new.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    old_path = tmp_path / "old.sqlite"
    with sqlite3.connect(old_path) as old:  # a store made before: 4 KiB pages, WAL
        old.execute("PRAGMA journal_mode = WAL")
        old.execute("CREATE TABLE t (x)")
    engine = create_store_engine(f"sqlite:///{old_path}")
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
