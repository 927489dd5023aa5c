"""The warehouse IO manager keeps working when a table's contract gains columns: an
upgraded pipeline writes into a warehouse made by the previous version without a manual
migration, and no other partition's rows are lost."""

from __future__ import annotations

import duckdb
import polars as pl
from dagster import DailyPartitionsDefinition, asset, materialize

from resources.io_manager import LeadsWarehouseIOManager

DAYS = DailyPartitionsDefinition(start_date="2026-11-01")


def _io(tmp_path) -> LeadsWarehouseIOManager:
    return LeadsWarehouseIOManager(database=str(tmp_path / "w.duckdb"), schema="leads")


def _read(tmp_path, table: str) -> pl.DataFrame:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.sql(f"select * from leads.{table} order by all").pl()


def test_a_partitioned_table_gains_new_columns_and_keeps_old_partitions(tmp_path):
    @asset(name="days", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def old(context) -> pl.DataFrame:
        day = pl.lit(context.partition_key).str.to_datetime("%Y-%m-%d")
        return pl.DataFrame({"id": ["a"]}).with_columns(day=day)

    assert materialize([old], resources={"io_manager": _io(tmp_path)}, partition_key="2026-11-01")

    @asset(name="days", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def new(context) -> pl.DataFrame:
        day = pl.lit(context.partition_key).str.to_datetime("%Y-%m-%d")
        return pl.DataFrame({"id": ["b"], "added": [7]}).with_columns(day=day)

    result = materialize([new], resources={"io_manager": _io(tmp_path)}, partition_key="2026-11-02")
    assert result.success
    table = _read(tmp_path, "days")
    assert table["id"].to_list() == ["a", "b"]
    assert table["added"].to_list() == [None, 7]
    metadata = result.asset_materializations_for_node("days")[0].metadata
    assert metadata["dagster/row_count"].value == 1
    assert [c.name for c in metadata["dagster/column_schema"].value.columns] == [
        "id",
        "added",
        "day",
    ]


def test_an_unpartitioned_table_is_rebuilt_with_the_new_columns(tmp_path):
    @asset(name="whole")
    def old() -> pl.DataFrame:
        return pl.DataFrame({"id": ["a"]})

    @asset(name="whole")
    def new() -> pl.DataFrame:
        return pl.DataFrame({"id": ["b"], "added": ["x"]})

    assert materialize([old], resources={"io_manager": _io(tmp_path)}).success
    assert materialize([new], resources={"io_manager": _io(tmp_path)}).success
    assert _read(tmp_path, "whole").to_dicts() == [{"id": "b", "added": "x"}]
