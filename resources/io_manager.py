"""The warehouse IO manager: polars frames in DuckDB, via dagster-duckdb's DbIOManager.

Two differences from dagster-duckdb-polars' handler, both about losing nothing:
- an empty frame still creates (or keeps) its table with the right columns, so an empty
  arrival day is a typed, empty table downstream rather than a missing one;
- reading uses the relation API's `.pl()`, the same on DuckDB 1.x and 2.x.
"""

from collections.abc import Sequence

import polars as pl
from dagster import InputContext, MetadataValue, OutputContext, TableColumn, TableSchema
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient


def _evolve(connection, table_slice: TableSlice, table: str) -> None:
    """Bring an existing table to the frame's columns when the contract changed.

    An unpartitioned table was just emptied for this output, so it is recreated; a
    partitioned one keeps the other partitions' rows and gains the new columns (their
    old rows read null there), so an upgrade never needs a manual migration.
    """
    existing = connection.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [table_slice.schema, table_slice.table],
    ).fetchall()
    if not existing:
        return
    have = {name for (name,) in existing}
    incoming = connection.execute("describe select * from incoming_frame").fetchall()
    missing = [(name, dtype) for name, dtype, *_ in incoming if name not in have]
    if not missing:
        return
    if not table_slice.partition_dimensions:
        connection.execute(f"drop table {table}")
        return
    for name, dtype in missing:
        connection.execute(f'alter table {table} add column "{name}" {dtype}')


class PolarsDuckDBTypeHandler(DbTypeHandler[pl.DataFrame]):
    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection
    ) -> None:
        table = f"{table_slice.schema}.{table_slice.table}"
        # Polars' own string layout (Arrow string views), which DuckDB reads as it is: the
        # default (large strings) copied every string column once more per write.
        arrow = obj.to_arrow(compat_level=pl.CompatLevel.newest())
        connection.register("incoming_frame", arrow)
        try:
            connection.execute(f"create schema if not exists {table_slice.schema}")
            _evolve(connection, table_slice, table)
            connection.execute(
                f"create table if not exists {table} as select * from incoming_frame limit 0"
            )
            if obj.height:
                connection.execute(f"insert into {table} by name select * from incoming_frame")
        finally:
            connection.unregister("incoming_frame")
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
            }
        )

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection
    ) -> pl.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pl.DataFrame()
        query = DuckDbClient.get_select_statement(table_slice=table_slice)
        return connection.sql(query).pl()

    @property
    def supported_types(self) -> Sequence[type]:
        return [pl.DataFrame]


class LeadsWarehouseIOManager(DuckDBIOManager):
    """DuckDB warehouse for the pipeline's polars assets."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PolarsDuckDBTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame
