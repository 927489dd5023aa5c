"""The tables a model's SQL reads, found by parsing it with sqlglot (DuckDB dialect).

Each reference keeps its line and character offset in the file, so an unknown table is an
error naming the line, and an unqualified name can be qualified in place (the text that runs
is the author's text, with the same line numbers in DuckDB's errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from pipeline.marts.errors import ModelError

DIALECT = "duckdb"
# Table functions that generate rows rather than read something outside the warehouse.
GENERATORS = (exp.GenerateSeries, exp.Unnest, exp.ExplodeOuter)


@dataclass(frozen=True)
class TableReference:
    """`schema.name` (schema None when the SQL left it out) at a line of the file; `start`
    is the character offset of the name, where a schema is inserted when qualifying."""

    schema: str | None
    name: str
    line: int
    start: int

    @property
    def shown(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def _line(node: exp.Expression) -> int | None:
    for child in node.walk():
        line = child.meta.get("line") if child.meta else None
        if line:
            return int(line)
    return None


def parse_query(path: Path, text: str) -> exp.Query:
    """The one SELECT (or WITH ... SELECT, UNION ...) statement of a model file."""
    try:
        statements = [s for s in sqlglot.parse(text, read=DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise ModelError(
            path, first.get("line"), f"SQL does not parse: {first.get('description', exc)}"
        ) from None
    except TokenError as exc:
        raise ModelError(path, None, f"SQL does not parse: {exc}") from None
    if not statements:
        raise ModelError(path, None, "no SQL statement: a model is one SELECT")
    if len(statements) > 1:
        raise ModelError(
            path, _line(statements[1]), "more than one statement: a model is one SELECT"
        )
    query = statements[0]
    if not isinstance(query, exp.Query):
        kind = type(query).__name__.upper()
        raise ModelError(
            path,
            _line(query),
            f"a model is one SELECT (its result becomes the table), not {kind}",
        )
    return query


def table_references(path: Path, query: exp.Query) -> list[TableReference]:
    """Every table the query reads, in order of appearance (CTE names are not tables)."""
    found: dict[int, TableReference] = {}
    try:
        scopes = traverse_scope(query)
    except Exception as exc:  # sqlglot's scope analysis names what it could not follow
        raise ModelError(path, _line(query), f"cannot follow the query's scopes: {exc}") from None
    for scope in scopes:
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue
            if not isinstance(source.this, exp.Identifier):
                if isinstance(source.this, GENERATORS):
                    continue
                function = source.this.sql(DIALECT).split("(")[0]
                raise ModelError(
                    path,
                    _line(source),
                    f"table function {function}(...) reads outside the warehouse; "
                    "a model reads the pipeline's tables and other models only",
                )
            if source.catalog:
                raise ModelError(
                    path,
                    _line(source),
                    f"{source.sql(DIALECT)}: a database-qualified name; the warehouse is one "
                    "DuckDB file, name tables as schema.table",
                )
            meta = source.this.meta
            found[int(meta["start"])] = TableReference(
                schema=source.db.lower() or None,
                name=source.name.lower(),
                line=int(meta["line"]),
                start=int(meta["start"]) if not source.db else _schema_start(source),
            )
    return [found[k] for k in sorted(found)]


def _schema_start(table: exp.Table) -> int:
    schema = table.args.get("db")
    return int(schema.meta["start"]) if schema is not None and schema.meta else -1


def qualify(text: str, references: list[TableReference], schemas: dict[int, str]) -> str:
    """The text with `schema.` put before each unqualified reference (by its offset);
    everything else, line breaks included, stays as written."""
    out = text
    for ref in sorted(references, key=lambda r: r.start, reverse=True):
        if ref.schema is None and ref.start in schemas:
            out = out[: ref.start] + f'"{schemas[ref.start]}".' + out[ref.start :]
    return out


def statement_body(text: str) -> str:
    """The text without its trailing semicolon (and what follows it: comments, blanks), so it
    can follow `CREATE TABLE ... AS` on the same line."""
    tokens = sqlglot.Tokenizer(dialect=DIALECT).tokenize(text) if text.strip() else []
    semicolons = [t for t in tokens if t.token_type == sqlglot.TokenType.SEMICOLON]
    if semicolons and semicolons[-1] is tokens[-1]:
        return text[: semicolons[-1].start]
    return text
