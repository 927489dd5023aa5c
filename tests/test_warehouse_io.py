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


def _range(first: str, last: str) -> dict[str, str]:
    """A single run over a range of days, as a backfill launches it."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def _day_asset(rows_per_day: dict[str, list[str]]):
    @asset(name="days", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def days(context) -> pl.DataFrame:
        frames = [
            pl.DataFrame({"id": ids}).with_columns(day=pl.lit(day).str.to_datetime("%Y-%m-%d"))
            for day, ids in rows_per_day.items()
            if day in context.partition_keys
        ]
        return pl.concat(frames) if frames else pl.DataFrame(schema={"id": pl.String})

    return days


def test_a_rerun_partition_replaces_its_rows_and_keeps_the_other_days(tmp_path):
    first = _day_asset({"2026-11-01": ["a"], "2026-11-02": ["b"]})
    for day in ("2026-11-01", "2026-11-02"):
        assert materialize([first], resources={"io_manager": _io(tmp_path)}, partition_key=day)
    again = _day_asset({"2026-11-02": ["c", "d"]})
    assert materialize([again], resources={"io_manager": _io(tmp_path)}, partition_key="2026-11-02")
    assert _read(tmp_path, "days")["id"].to_list() == ["a", "c", "d"]
    files = sorted(p.name for p in (tmp_path / "w_tables" / "leads" / "days").iterdir())
    assert files == ["2026-11-01.parquet", "2026-11-02.parquet"]


def test_a_backfill_of_several_days_in_one_run_writes_one_file_per_day(tmp_path):
    days = _day_asset({"2026-11-01": ["a"], "2026-11-02": ["b", "c"], "2026-11-03": ["d"]})
    result = materialize(
        [days],
        resources={"io_manager": _io(tmp_path)},
        tags=_range("2026-11-01", "2026-11-03"),
    )
    assert result.success
    folder = tmp_path / "w_tables" / "leads" / "days"
    assert pl.read_parquet(folder / "2026-11-02.parquet")["id"].to_list() == ["b", "c"]
    assert _read(tmp_path, "days")["id"].to_list() == ["a", "b", "c", "d"]


def test_rows_outside_the_runs_partitions_fail_the_write_instead_of_overwriting_a_day(tmp_path):
    @asset(name="days", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def stray(context) -> pl.DataFrame:
        return pl.DataFrame({"id": ["a", "b"], "day": ["2026-11-01", "2026-11-09"]}).with_columns(
            pl.col("day").str.to_datetime("%Y-%m-%d")
        )

    result = materialize(
        [stray],
        resources={"io_manager": _io(tmp_path)},
        tags=_range("2026-11-01", "2026-11-02"),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = str(failure.event_specific_data.error.cause)
    assert "1 of 2 rows" in error and "'day'" in error, error


def test_a_downstream_partition_reads_only_its_own_day(tmp_path):
    days = _day_asset({"2026-11-01": ["a"], "2026-11-02": ["b"]})

    @asset(partitions_def=DAYS, metadata={"partition_expr": "day"})
    def seen(days: pl.DataFrame) -> pl.DataFrame:
        return days

    for day in ("2026-11-01", "2026-11-02"):
        assert materialize([days], resources={"io_manager": _io(tmp_path)}, partition_key=day)
    result = materialize(
        [days.to_source_asset(), seen],
        resources={"io_manager": _io(tmp_path)},
        partition_key="2026-11-02",
        selection=[seen],
    )
    assert result.success
    assert pl.read_parquet(tmp_path / "w_tables" / "leads" / "seen" / "2026-11-02.parquet")[
        "id"
    ].to_list() == ["b"]


def test_a_warehouse_of_real_tables_is_taken_over_without_losing_rows(tmp_path):
    """An earlier version stored DuckDB tables: the first write keeps the other days' rows
    and re-running a day that is only in the old table replaces it there."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema leads")
        con.execute(
            "create table leads.days as select * from (values "
            "('old-1', timestamp '2026-11-01'), ('old-2', timestamp '2026-11-02')) t(id, day)"
        )
        con.execute("create table leads.whole as select 'old' as id")
    days = _day_asset({"2026-11-03": ["new-3"], "2026-11-02": ["new-2"]})
    for day in ("2026-11-03", "2026-11-02"):
        assert materialize([days], resources={"io_manager": _io(tmp_path)}, partition_key=day)
    assert _read(tmp_path, "days")["id"].to_list() == ["new-2", "new-3", "old-1"]

    @asset(name="whole")
    def whole() -> pl.DataFrame:
        return pl.DataFrame({"id": ["new"]})

    assert materialize([whole], resources={"io_manager": _io(tmp_path)}).success
    assert _read(tmp_path, "whole")["id"].to_list() == ["new"]


def test_an_output_without_columns_fails_naming_the_table(tmp_path):
    @asset(name="shapeless")
    def shapeless() -> pl.DataFrame:
        return pl.DataFrame()

    result = materialize([shapeless], resources={"io_manager": _io(tmp_path)}, raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "leads.shapeless: the output has no columns" in str(
        failure.event_specific_data.error.cause
    )
