"""Small SQL helpers shared by the store's modules."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def dialect_insert(bind: Engine | Connection, table: Table):  # type: ignore[no-untyped-def]
    """An INSERT with `on_conflict_do_nothing/update` for the engine's or connection's
    dialect (both SQLite and Postgres speak ON CONFLICT)."""
    return (postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert)(table)


def execute_many(
    conn: Connection,
    stmt: Executable,
    rows: pl.DataFrame,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Run `stmt` (an INSERT/UPDATE with one bind parameter per column of `rows` and per
    key of `constants`) for every row through the driver's own executemany, compiled once.

    SQLAlchemy's executemany builds and processes a parameter dict per row, which cost more
    than SQLite's own work at 100,000s of rows (the CRM outbox and ledger). The driver reads
    the rows from an iterator over the columns' lists (`zip`, constants repeated), so no
    list of row tuples is built (polars' `rows()` took ~0.6 s per 290,000 rows of the CRM
    sync, the lists ~0.3 s). Row values must be strings or None (no type processing is
    applied to them); the constants are processed once by their types. Runs in the
    connection's transaction (begun here if none is). Returns the driver's row count (-1 if
    unknown).
    """
    if rows.is_empty():
        return 0
    dialect = conn.dialect
    columns = rows.columns
    compiled = stmt.compile(dialect=dialect, column_keys=[*columns, *(constants or {})])
    # Every other bind parameter's value, processed once by its type: the constants, and
    # literal values inside the statement (an ON CONFLICT's SET status = 'synced').
    fixed: dict[str, Any] = {}
    for name, value in compiled.construct_params(
        dict.fromkeys(columns) | dict(constants or {})
    ).items():
        if name in columns:
            continue
        processor = compiled.binds[name].type.bind_processor(dialect)
        if processor is not None and value is not None:
            value = processor(value)
        if isinstance(value, datetime) and dialect.name == "sqlite":
            value = value.isoformat(" ")  # what sqlite3's adapter would do for every row
        fixed[name] = value
    names = list(compiled.positiontup or []) if compiled.positional else list(fixed) + columns
    values = [
        repeat(fixed[name], rows.height) if name in fixed else rows[name].to_list()
        for name in names
    ]
    params: Iterator[Any] = zip(*values, strict=True)
    if not compiled.positional:
        params = (dict(zip(names, row, strict=True)) for row in params)
    if not conn.in_transaction():
        conn.begin()  # what exec_driver_sql's autobegin would do (BEGIN IMMEDIATE on SQLite)
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(str(compiled), params)
        return cursor.rowcount
    finally:
        cursor.close()


def fetch_frame(conn: Connection, query: Executable, schema: Mapping[str, Any]) -> pl.DataFrame:
    """The rows of `query` as a polars frame with `schema`, read through the driver's own
    cursor: SQLAlchemy's Row objects cost ~a third of the time at 100,000s of rows (the CRM
    ledger). Columns must come out of the driver as the schema's types (strings here)."""
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    if compiled.positional:
        bound: Any = tuple(params[name] for name in compiled.positiontup or [])
    else:
        bound = params
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), bound)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    # Built by polars from the row tuples (half the time of transposing them in Python).
    return pl.DataFrame(rows, schema=dict(schema), orient="row")
