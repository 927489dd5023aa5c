"""The warehouse IO manager: polars frames stored as Parquet files, catalogued as views in
one DuckDB file.

Why files under views rather than DuckDB tables: DuckDB compresses every string column as
it inserts, which made writing the wide lead tables the largest single cost of a run
(`scored_leads`, 109k rows x 63 columns: 1.5 s as a DuckDB insert, 0.3 s as Parquet from
polars, measured in benchmarks/crm/README.md). Reading back is also faster with polars
straight from the file. The DuckDB file stays the one place to query: each asset is a view
`<schema>.<table>` over its files, so SQL marts, the CLIs and anyone with `duckdb` see the
same tables as before.

Layout, beside the DuckDB file (`warehouse.duckdb` -> `warehouse_tables/`):
- an unpartitioned asset: `<schema>/<table>.parquet`, replaced whole by each run;
- a partitioned one: `<schema>/<table>/<partition key>.parquet`, one file per partition,
  so re-running a day replaces that day and keeps the others (the DELETE + INSERT of
  dagster-duckdb, without a window where the day is missing: files are replaced atomically).

Losing nothing across versions:
- an empty frame still writes a typed, empty file, so an empty arrival day is an empty
  table downstream rather than a missing one;
- a contract that gained columns reads the older partitions' rows as null there (the views
  and the loader unite files by column name);
- a warehouse written by an earlier version (real tables) is taken over on the first write:
  an unpartitioned table is replaced, a partitioned one's rows move to `_legacy.parquet`,
  from which each later write of a partition removes that partition's rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from dagster import (
    InputContext,
    MetadataValue,
    MultiPartitionsDefinition,
    OutputContext,
    TableColumn,
    TableSchema,
    TimeWindowPartitionsDefinition,
)
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient, _partition_where_clause

from pipeline.warehouse_files import partitions_folder, quoted, table_file, view_sql

LEGACY_FILE = "_legacy.parquet"


def _key_file(key: str) -> str:
    """A partition key as a file name (time keys like `2026-12-01-10:00` carry colons)."""
    return key.replace("/", "_").replace(":", "-").replace("|", "__") + ".parquet"


def _table_type(connection, table_slice: TableSlice) -> str | None:
    rows = connection.execute(
        "select table_type from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        [table_slice.schema, table_slice.table],
    ).fetchall()
    return rows[0][0] if rows else None


class _TableFiles:
    """The files of one asset's table."""

    def __init__(self, database: str, table_slice: TableSlice) -> None:
        self.table_slice = table_slice
        self.name = f"{table_slice.schema}.{table_slice.table}"
        self.partitioned = bool(table_slice.partition_dimensions)
        self.folder = partitions_folder(database, table_slice.schema, table_slice.table)
        self.whole = table_file(database, table_slice.schema, table_slice.table)

    @property
    def legacy(self) -> Path:
        return self.folder / LEGACY_FILE

    def partition(self, key: str) -> Path:
        return self.folder / _key_file(key)

    def present(self) -> list[Path]:
        if not self.partitioned:
            return [self.whole] if self.whole.exists() else []
        if not self.folder.exists():
            return []
        return sorted(p for p in self.folder.iterdir() if p.suffix == ".parquet")

    def glob(self) -> Path:
        return self.folder / "*.parquet" if self.partitioned else self.whole


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write beside the target, then rename: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frame.write_parquet(partial, compression="zstd", compression_level=1, statistics=True)
    os.replace(partial, path)


def _window_filter(context: OutputContext, expr: str, key: str, dtype: pl.DataType) -> pl.Expr:
    """Rows of one partition key, as dagster-duckdb's DELETE would select them."""
    partitions_def = context.asset_partitions_def
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        window = partitions_def.time_window_for_partition_key(key)
        start, end = window.start, window.end
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        elif isinstance(dtype, pl.Date):
            start, end = start.date(), end.date()
        elif dtype == pl.String:
            fmt = "%Y-%m-%d %H:%M:%S"
            return (pl.col(expr) >= start.strftime(fmt)) & (pl.col(expr) < end.strftime(fmt))
        return (pl.col(expr) >= start) & (pl.col(expr) < end)
    return pl.col(expr).cast(pl.String) == key


def _by_partition(
    context: OutputContext, table_slice: TableSlice, frame: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The frame split into one frame per partition key of this output."""
    keys = list(context.asset_partition_keys)
    if len(keys) == 1:
        return {keys[0]: frame}
    if isinstance(context.asset_partitions_def, MultiPartitionsDefinition):
        raise NotImplementedError(
            f"{table_slice.schema}.{table_slice.table}: the warehouse writes one partition key "
            "of a multi-dimensional partitioning per run; run the keys one by one"
        )
    expr = table_slice.partition_dimensions[0].partition_expr
    if expr not in frame.columns:
        raise ValueError(
            f"{table_slice.schema}.{table_slice.table}: the partition column {expr!r} "
            f"(metadata partition_expr) is not in the output's columns {frame.columns}"
        )
    dtype = frame.schema[expr]
    parts: dict[str, pl.DataFrame] = {}
    placed = 0
    for key in keys:
        parts[key] = frame.filter(_window_filter(context, expr, key, dtype))
        placed += parts[key].height
    if placed != frame.height:
        raise ValueError(
            f"{table_slice.schema}.{table_slice.table}: {frame.height - placed} of "
            f"{frame.height} rows have a {expr!r} outside the partitions of this run "
            f"({keys[0]} .. {keys[-1]}); they would be lost or overwrite another run's rows"
        )
    return parts


def _take_over_legacy(connection, files: _TableFiles) -> None:
    """A real table left by an earlier version: replaced (unpartitioned) or moved to the
    legacy file (partitioned), then dropped so the name can become a view."""
    if _table_type(connection, files.table_slice) != "BASE TABLE":
        return
    if files.partitioned:
        files.folder.mkdir(parents=True, exist_ok=True)
        partial = files.legacy.with_name(f".{LEGACY_FILE}.partial")
        connection.execute(
            f"copy (select * from {files.name}) to {quoted(partial)} (format parquet)"
        )
        os.replace(partial, files.legacy)
    connection.execute(f"drop table {files.name}")


def _trim_legacy(connection, files: _TableFiles) -> None:
    """Remove this output's partitions from the legacy rows (dagster-duckdb's DELETE)."""
    if not files.legacy.exists():
        return
    where = _partition_where_clause(files.table_slice.partition_dimensions)
    kept = connection.sql(
        f"select * from read_parquet({quoted(files.legacy)}) where not ({where})"
    ).pl()
    if kept.height:
        _write(kept, files.legacy)
    else:
        files.legacy.unlink()


def _only(table: pl.DataFrame, columns: Sequence[str] | None) -> pl.DataFrame:
    """The input's requested columns (metadata `columns`), those the table has."""
    return table.select([c for c in columns if c in table.columns]) if columns else table


def _read_files(paths: Sequence[Path], columns: Sequence[str] | None) -> pl.DataFrame:
    frames = [pl.read_parquet(path) for path in paths]
    schemas = {tuple(frame.schema.items()) for frame in frames}
    return _only(
        pl.concat(frames, how="vertical" if len(schemas) == 1 else "diagonal_relaxed"), columns
    )


class PolarsParquetTypeHandler(DbTypeHandler[pl.DataFrame]):
    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection
    ) -> None:
        files = _TableFiles(context.resource_config["database"], table_slice)
        if not obj.width:
            raise ValueError(
                f"{files.name}: the output has no columns; a warehouse table needs at least "
                "one (return an empty frame with the table's schema instead)"
            )
        _take_over_legacy(connection, files)
        if files.partitioned:
            _trim_legacy(connection, files)
            for key, part in _by_partition(context, table_slice, obj).items():
                _write(part, files.partition(key))
        else:
            _write(obj, files.whole)
        connection.execute(view_sql(table_slice.schema, table_slice.table, files.glob()))
        context.add_output_metadata(
            {
                # Dagster's standard keys: the catalog's row count and Columns tab read these.
                "dagster/row_count": MetadataValue.int(obj.height),
                "dagster/column_schema": MetadataValue.table_schema(
                    TableSchema(
                        columns=[
                            TableColumn(name=name, type=str(dtype))
                            for name, dtype in obj.schema.items()
                        ]
                    )
                ),
                "dagster/uri": MetadataValue.path(str(files.glob())),
            }
        )

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection
    ) -> pl.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pl.DataFrame()
        files = _TableFiles(context.resource_config["database"], table_slice)
        present = files.present()
        if not present:
            # Never written by this version: an earlier version's table, or the missing
            # table's own error from DuckDB.
            return connection.sql(DuckDbClient.get_select_statement(table_slice)).pl()
        if not files.partitioned:
            return _read_files(present, table_slice.columns)
        wanted = {files.partition(key) for key in context.asset_partition_keys}
        chosen = [path for path in present if path in wanted]
        table = _read_files(chosen, table_slice.columns) if chosen else None
        if files.legacy.exists():
            where = _partition_where_clause(table_slice.partition_dimensions)
            legacy = _only(
                connection.sql(
                    f"select * from read_parquet({quoted(files.legacy)}) where {where}"
                ).pl(),
                table_slice.columns,
            )
            table = legacy if table is None else pl.concat([legacy, table], how="diagonal_relaxed")
        if table is None:  # none of the requested partitions written yet: typed and empty
            return _read_files(present[:1], table_slice.columns).clear()
        return table

    @property
    def supported_types(self) -> Sequence[type]:
        return [pl.DataFrame]


class _ParquetCatalogClient(DuckDbClient):
    """dagster-duckdb's client, minus the DELETE before each write: the type handler
    replaces the output's files itself (the old rows stay readable until the new ones are
    in place)."""

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        return None


class LeadsWarehouseIOManager(DuckDBIOManager):
    """The pipeline's polars assets as Parquet files, catalogued in a DuckDB file."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PolarsParquetTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=_ParquetCatalogClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="LeadsWarehouseIOManager",
        )
