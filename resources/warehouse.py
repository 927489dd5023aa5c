"""Read access to the warehouse outside the IO manager: the previous state of an asset
(last run's entities, the fitted match model) that the next run builds on."""

import duckdb
import polars as pl
from dagster import ConfigurableResource
from pydantic import Field

from pipeline.warehouse_files import table_file


class Warehouse(ConfigurableResource):
    database: str = Field(description="Path of the DuckDB warehouse file.")
    schema_name: str = Field(default="leads", description="Schema the asset tables live in.")

    def read(self, table: str) -> pl.DataFrame | None:
        """The table as it is now, or None if it has never been written."""
        whole = table_file(self.database, self.schema_name, table)
        if whole.exists():  # an unpartitioned asset's file: no trip through DuckDB
            return pl.read_parquet(whole)
        return self.read_where(table, "true")

    def read_where(self, table: str, where: str) -> pl.DataFrame | None:
        """The table's rows matching a SQL condition (a few rows of a large table), or None
        if it has never been written. `where` is code, never a value a user typed."""
        with duckdb.connect(self.database) as con:
            exists = con.sql(
                "select count(*) from information_schema.tables "
                "where table_schema = $schema and table_name = $table",
                params={"schema": self.schema_name, "table": table},
            ).fetchall()[0][0]
            if not exists:
                return None
            return con.sql(f'select * from "{self.schema_name}"."{table}" where {where}').pl()
