"""Are two runs of the lead path the same? Compares what `bench_e2e.py --keep DIR` kept.

For each run folder (its `data/` and `dagster_home/`):
- every warehouse table: columns and types, row count, and the rows themselves, in the
  order the table holds them;
- every non-empty operational-store table: the rows, sorted;
- every asset materialization's and asset check's metadata in the Dagster instance, and
  each check's outcome.

Values that differ by construction between two runs are left out and listed: run ids,
timestamps of when something happened, paths under the run folder, per-stage timings.
Exit status 1 on any other difference.

    .venv/bin/python benchmarks/crm/compare_runs.py /tmp/run_a /tmp/run_b
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import duckdb
import polars as pl

# Columns (any table) and metadata keys whose values are per run by construction.
VOLATILE_COLUMNS = {
    "run_id",
    "landed_path",
    "quarantine_path",
    "synced_at",
    "created_at_utc",
    "recorded_at",
    "at",
    "started_at",
    "finished_at",
    "updated_at",
    "queued_at",
    "sent_at",
    "acknowledged_at",
    "received_at",
    "first_seen_at",
    "last_synced_at",
    "changed_at",
    "occurred_at",
    "rejected_at",
}
# Columns per run in one table only (elsewhere they are data).
VOLATILE_IN = {"store crm_outbox": {"created_at"}}
VOLATILE_METADATA = {
    "timings_s",
    "as_of",
    "icp_path",
    "source",
    "Query",
    "dagster/uri",
    "dagster/table_name",  # the warehouse file's path
}
# ISO times of the run itself inside values (enrichment provenance: when a field was found).
RUN_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"


def warehouse_tables(run: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(run / "data" / "warehouse.duckdb"), read_only=True) as con:
        names = [
            (s, t)
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables order by all"
            ).fetchall()
        ]
        return {f"{s}.{t}": con.sql(f'select * from "{s}"."{t}"').pl() for s, t in names}


def store_tables(run: Path) -> dict[str, pl.DataFrame]:
    with sqlite3.connect(run / "data" / "ops.sqlite") as con:
        names = [
            n
            for (n,) in con.execute(
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' "
                "and name != 'alembic_version' order by name"
            )
        ]
        out = {}
        for name in names:
            cursor = con.execute(f'select * from "{name}"')
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            if rows:
                out[name] = pl.DataFrame(
                    rows, schema=columns, orient="row", infer_schema_length=None
                )
        return out


def instance_metadata(run: Path) -> dict[str, object]:
    """asset (and partition) -> its materialization metadata; check -> outcome and metadata."""
    os.environ["DAGSTER_HOME"] = str(run / "dagster_home")
    from dagster import DagsterEventType, DagsterInstance, EventRecordsFilter

    out: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with DagsterInstance.get() as instance:
            for record in instance.get_event_records(
                EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION)
            ):
                m = record.asset_materialization
                key = f"materialization {m.asset_key.to_user_string()} {m.partition or ''}"
                out[key] = {k: _plain(v) for k, v in m.metadata.items()}
            for record in instance.get_event_records(
                EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            ):
                data = record.event_log_entry.dagster_event.event_specific_data
                key = f"check {data.asset_key.to_user_string()}.{data.check_name}"
                out[key] = {
                    "passed": data.passed,
                    "description": data.description,
                    **{k: _plain(v) for k, v in data.metadata.items()},
                }
    return out


def _plain(value: object) -> object:
    """A metadata value as comparable plain data (Dagster's own serialization)."""
    from dagster_shared.serdes import serialize_value

    return json.loads(serialize_value(value))


def _stable(name: str, frame: pl.DataFrame, run: Path) -> pl.DataFrame:
    """The frame without per-run columns; paths under the run folder and the run's times
    inside values replaced by placeholders."""
    volatile = VOLATILE_COLUMNS | VOLATILE_IN.get(name, set())
    frame = frame.drop([c for c in frame.columns if c in volatile])
    strings = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.col(strings)
        .str.replace_all(str(run), "<run>", literal=True)
        .str.replace_all(RUN_TIME, "<time>")
    )


def compare_frames(name: str, a: pl.DataFrame, b: pl.DataFrame, *, ordered: bool) -> list[str]:
    problems = []
    if a.schema != b.schema:
        problems.append(f"{name}: schema {dict(a.schema)} != {dict(b.schema)}")
        return problems
    if a.height != b.height:
        return [f"{name}: {a.height} rows != {b.height}"]
    if not ordered:
        a, b = a.sort(pl.all(), nulls_last=True), b.sort(pl.all(), nulls_last=True)
    for column in a.columns:
        if not a[column].equals(b[column]):
            differing = (a[column] != b[column]).fill_null(True) & ~(
                a[column].is_null() & b[column].is_null()
            )
            problems.append(
                f"{name}.{column}: {int(differing.sum())} of {a.height} values differ"
                + ("" if ordered else " (rows sorted)")
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    problems: list[str] = []
    counts: dict[str, list[int]] = defaultdict(list)

    wa, wb = warehouse_tables(args.a), warehouse_tables(args.b)
    if set(wa) != set(wb):
        problems.append(f"warehouse tables differ: {sorted(set(wa) ^ set(wb))}")
    for name in sorted(set(wa) & set(wb)):
        counts[name] = [wa[name].height, wb[name].height]
        problems += compare_frames(
            name, _stable(name, wa[name], args.a), _stable(name, wb[name], args.b), ordered=True
        )

    sa, sb = store_tables(args.a), store_tables(args.b)
    if set(sa) != set(sb):
        problems.append(f"store tables differ: {sorted(set(sa) ^ set(sb))}")
    for name in sorted(set(sa) & set(sb)):
        counts[f"store {name}"] = [sa[name].height, sb[name].height]
        problems += compare_frames(
            f"store {name}",
            _stable(f"store {name}", sa[name], args.a),
            _stable(f"store {name}", sb[name], args.b),
            ordered=False,
        )

    ma, mb = instance_metadata(args.a), instance_metadata(args.b)
    if set(ma) != set(mb):
        problems.append(f"materializations/checks differ: {sorted(set(ma) ^ set(mb))}")
    checks = 0
    for key in sorted(set(ma) & set(mb)):
        checks += key.startswith("check ")
        left, right = ma[key], mb[key]
        assert isinstance(left, dict) and isinstance(right, dict)
        for name in sorted(set(left) | set(right)):
            if name in VOLATILE_METADATA:
                continue
            if _scrub(left.get(name), args.a) != _scrub(right.get(name), args.b):
                problems.append(f"{key}: metadata {name!r} differs")

    for name, (x, y) in counts.items():
        print(f"  {name:40s} {x:>9,} {y:>9,}")
    print(f"{len(ma)} materializations and check evaluations compared ({checks} checks)")
    print(
        "left out as per-run: columns "
        + ", ".join(sorted(VOLATILE_COLUMNS))
        + "; metadata "
        + ", ".join(sorted(VOLATILE_METADATA))
    )
    for problem in problems:
        print("DIFFERS", problem)
    print("identical" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


# In metadata (the crm_sync_runs preview): run ids and the times runs started and ended.
RUN_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TODAY = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"


def _scrub(value: object, run: Path) -> object:
    text = json.dumps(value).replace(str(run), "<run>")
    text = re.sub(RUN_ID, "<run id>", text)
    if "<run id>" in text:  # a table of runs: their times are per run too
        text = re.sub(TODAY, "<time>", text)
    return json.loads(re.sub(RUN_TIME, "<time>", text))


if __name__ == "__main__":
    sys.exit(main())
