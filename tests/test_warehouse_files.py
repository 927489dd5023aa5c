"""A data folder moved or restored elsewhere: the DuckDB views keep the files' old absolute
paths, and `repair_views` points them back at the files beside the DuckDB file."""

from __future__ import annotations

import shutil

import duckdb
import polars as pl
from dagster import asset, materialize

from pipeline.warehouse_files import repair_views
from resources.io_manager import LeadsWarehouseIOManager


def test_views_of_a_moved_data_folder_are_repointed_and_read_the_same_rows(tmp_path):
    @asset(name="golden")
    def golden() -> pl.DataFrame:
        return pl.DataFrame({"id": ["a", "b"]})

    old = tmp_path / "old"
    old.mkdir()
    io = LeadsWarehouseIOManager(database=str(old / "w.duckdb"), schema="leads")
    assert materialize([golden], resources={"io_manager": io}).success
    new = tmp_path / "new"
    shutil.copytree(old, new)
    shutil.rmtree(old)

    with duckdb.connect(str(new / "w.duckdb")) as con:
        assert repair_views(con, new / "w.duckdb") == ["leads.golden"]
        assert con.sql("select id from leads.golden order by id").fetchall() == [("a",), ("b",)]
        assert repair_views(con, new / "w.duckdb") == []  # nothing left to repair


def test_a_table_of_an_earlier_version_is_left_alone(tmp_path):
    database = tmp_path / "w.duckdb"
    folder = tmp_path / "w_tables" / "leads"
    folder.mkdir(parents=True)
    pl.DataFrame({"id": ["new"]}).write_parquet(folder / "golden.parquet")
    with duckdb.connect(str(database)) as con:
        con.execute("create schema leads")
        con.execute("create table leads.golden as select 'old' as id")
        assert repair_views(con, database) == []
        assert con.sql("select id from leads.golden").fetchall() == [("old",)]
