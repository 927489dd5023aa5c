"""Building a model in the warehouse: `CREATE OR REPLACE TABLE <layer>.<name> AS <its SQL>`
in one transaction, then its tests.

The SQL that runs is the file as written (header comments included) with unqualified table
names qualified, so a line number in DuckDB's error is the file's line. A build that fails
leaves the previous table as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

from pipeline.marts.checks import TestOutcome, run_tests
from pipeline.marts.errors import BuildError, shown
from pipeline.marts.project import Relation, SqlModel, SqlProject


@dataclass(frozen=True)
class BuiltModel:
    model: SqlModel
    rows: int
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), in order
    tests: tuple[TestOutcome, ...]
    seconds: float

    @property
    def failed_tests(self) -> list[TestOutcome]:
        return [t for t in self.tests if not t.passed]

    @property
    def undocumented(self) -> list[str]:
        documented = {c.name for c in self.model.doc.columns}
        return [name for name, _ in self.columns if name not in documented]


def existing_relations(connection: duckdb.DuckDBPyConnection) -> set[Relation]:
    rows = connection.execute(
        "select table_schema, table_name from information_schema.tables"
    ).fetchall()
    return {Relation(s.lower(), t.lower()) for s, t in rows}


def build_model(
    connection: duckdb.DuckDBPyConnection, project: SqlProject, model: SqlModel
) -> BuiltModel:
    """Replace the model's table with its query's result and run its tests."""
    started = time.perf_counter()
    where = shown(model.path)
    missing = [r for r in model.upstream if r not in existing_relations(connection)]
    if missing:
        needs = []
        for relation in missing:
            upstream = project.model_for(relation)
            needs.append(
                f"{relation} (build the model {upstream.name} first)"
                if upstream
                else f"{relation} (materialize the asset {relation.name} first)"
            )
        raise BuildError(f"{where}: not in the warehouse yet: {'; '.join(needs)}")
    documented = [c.name for c in model.doc.columns]
    connection.execute("begin transaction")
    try:
        connection.execute(f'create schema if not exists "{model.layer}"')
        connection.execute(f"create or replace table {model.relation.sql} as {model.executable}")
        described = connection.execute(f"describe {model.relation.sql}").fetchall()
        columns = tuple((str(row[0]), str(row[1])) for row in described)
        absent = [c for c in documented if c not in {name for name, _ in columns}]
        if absent:
            raise BuildError(
                f"{where}: the header documents column(s) the query does not produce: "
                f"{', '.join(absent)} (the query gives {', '.join(n for n, _ in columns)})"
            )
        connection.execute("commit")
    except duckdb.Error as exc:
        connection.execute("rollback")
        raise BuildError(f"{where}: {exc}") from exc
    except BaseException:
        connection.execute("rollback")
        raise
    (rows,) = connection.execute(f"select count(*) from {model.relation.sql}").fetchall()[0]
    outcomes = run_tests(connection, model)
    return BuiltModel(
        model=model,
        rows=int(rows),
        columns=columns,
        tests=tuple(outcomes),
        seconds=time.perf_counter() - started,
    )
