"""Where the warehouse's asset tables live on disk, and the DuckDB views over them.

Each asset is Parquet beside the DuckDB file (`warehouse.duckdb` -> `warehouse_tables/
<schema>/<table>.parquet`, or `<table>/<partition>.parquet` when partitioned) and the DuckDB
file holds a view `<schema>.<table>` over it. DuckDB keeps a view's file paths as written
(absolute), so a data folder that was moved or restored elsewhere has views pointing at the
old place: `repair_views` points them back at the files beside the DuckDB file.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


def tables_folder(database: str | os.PathLike) -> Path:
    """Where the warehouse's Parquet files live: beside the DuckDB file that catalogues them."""
    path = Path(database).resolve()
    return path.parent / f"{path.stem}_tables"


def table_file(database: str | os.PathLike, schema: str, table: str) -> Path:
    """An unpartitioned asset's one file."""
    return tables_folder(database) / schema / f"{table}.parquet"


def partitions_folder(database: str | os.PathLike, schema: str, table: str) -> Path:
    """A partitioned asset's folder: one file per partition key."""
    return tables_folder(database) / schema / table


def quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def view_sql(schema: str, table: str, files: Path) -> str:
    """The view over an asset's file (or its partitions' glob)."""
    return (
        f"create or replace view {schema}.{table} as select * from "
        f"read_parquet({quoted(files)}, union_by_name = true)"
    )


def expected_views(database: str | os.PathLike) -> dict[tuple[str, str], Path]:
    """(schema, table) -> the files its view should read, from what is on disk."""
    views: dict[tuple[str, str], Path] = {}
    root = tables_folder(database)
    if not root.exists():
        return views
    for schema_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for entry in sorted(schema_dir.iterdir()):
            if entry.is_file() and entry.suffix == ".parquet":
                views[(schema_dir.name, entry.stem)] = entry
            elif entry.is_dir() and any(entry.glob("*.parquet")):
                views[(schema_dir.name, entry.name)] = entry / "*.parquet"
    return views


def repair_views(connection: duckdb.DuckDBPyConnection, database: str | os.PathLike) -> list[str]:
    """Re-point the views whose files are not where they are now (a moved data folder), and
    create missing ones; tables of an earlier version with the same name are left alone.
    Returns the views changed."""
    current = {
        (schema, name): sql
        for schema, name, sql in connection.execute(
            "select schema_name, view_name, sql from duckdb_views() where not internal"
        ).fetchall()
    }
    tables = {
        (schema, name)
        for schema, name in connection.execute(
            "select schema_name, table_name from duckdb_tables()"
        ).fetchall()
    }
    changed = []
    for (schema, table), files in expected_views(database).items():
        if (schema, table) in tables:
            continue
        sql = current.get((schema, table))
        if sql is not None and quoted(files) in sql:
            continue
        connection.execute(f"create schema if not exists {schema}")
        connection.execute(view_sql(schema, table, files))
        changed.append(f"{schema}.{table}")
    return changed
