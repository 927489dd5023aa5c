"""Running a model's tests against its table: each is one query counting the offending rows
(or values), plus a few of them to show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from pipeline.marts.header import ModelTest
from pipeline.marts.project import Relation, SqlModel

SAMPLE = 5


@dataclass(frozen=True)
class TestOutcome:
    test: ModelTest
    passed: bool
    failures: int  # offending rows (or values, for unique); for row_count, the row count
    sample: tuple[Any, ...]  # a few offending values
    sql: str  # the query that counted them

    @property
    def summary(self) -> str:
        if self.test.kind == "row_count":
            return f"{self.failures:,} rows" + ("" if self.passed else " (out of range)")
        if self.passed:
            return "ok"
        what = "duplicated value(s)" if self.test.kind == "unique" else "row(s)"
        shown = ", ".join(repr(v) for v in self.sample)
        return f"{self.failures:,} {what}" + (f", e.g. {shown}" if shown else "")


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _offenders(test: ModelTest, table: str, parent: Relation | None) -> str:
    """A query returning one row per offending row (per duplicated value for unique)."""
    cols = [_col(c) for c in test.columns]
    if test.kind == "not_null":
        nulls = " or ".join(f"{c} is null" for c in cols)
        return f"select {', '.join(cols)} from {table} where {nulls}"
    if test.kind == "unique":
        keys = ", ".join(cols)
        present = " and ".join(f"{c} is not null" for c in cols)
        return f"select {keys} from {table} where {present} group by {keys} having count(*) > 1"
    if test.kind == "accepted_values":
        (col,) = cols
        return (
            f"select {col} from {table} where {col} is not null "
            f"and not list_contains($allowed, {col}::varchar)"
        )
    if test.kind == "relationships":
        (col,) = cols
        assert parent is not None and test.field is not None
        return (
            f"select c.{col} from {table} c where c.{col} is not null and not exists "
            f"(select 1 from {parent.sql} p where p.{_col(test.field)} = c.{col})"
        )
    raise ValueError(f"no offender query for {test.kind}")


def run_tests(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> list[TestOutcome]:
    """Every test of the model, on its freshly built table."""
    table = model.relation.sql
    outcomes: list[TestOutcome] = []
    for test in model.tests:
        if test.kind == "row_count":
            sql = f"select count(*) from {table}"
            (rows,) = connection.execute(sql).fetchall()[0]
            low_ok = test.min_rows is None or rows >= test.min_rows
            high_ok = test.max_rows is None or rows <= test.max_rows
            outcomes.append(TestOutcome(test, low_ok and high_ok, int(rows), (), sql))
            continue
        sql = _offenders(test, table, model.test_targets.get(test.name))
        params = (
            {"allowed": [str(v) for v in test.values]} if test.kind == "accepted_values" else None
        )
        (count,) = connection.execute(f"select count(*) from ({sql})", params).fetchall()[0]
        sample: tuple[Any, ...] = ()
        if count:
            rows = connection.execute(f"{sql} limit {SAMPLE}", params).fetchall()
            sample = tuple(r[0] if len(r) == 1 else tuple(r) for r in rows)
        outcomes.append(TestOutcome(test, count == 0, int(count), sample, sql))
    return outcomes
