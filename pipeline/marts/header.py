"""A model's documentation and tests: a YAML header at the top of the SQL file (a leading
`--` comment block, or a leading `/* ... */` block), or a sidecar `<model>.yml` beside it.

```
-- description: Leads per arrival day and source, from files to CRM contacts.
-- columns:
--   arrival_day:
--     description: The day the files arrived (UTC).
--     tests: [not_null]
--   source: Where the files came from.          # a string alone is the description
-- tests:
--   - unique: [arrival_day, source]
--   - row_count: {min: 1}
```

Column tests: `not_null`, `unique`, `accepted_values: [..]` (or `{values: [..]}`),
`relationships: {to: schema.table, field: column}`; model tests: `unique: [columns]` (the
combination), `not_null: [columns]`, `row_count: {min: N, max: M}`, and any column test with a
`column:` key. Any test takes `severity: warn` (the default, `error`, fails the check and
blocks the models downstream).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.marts.errors import ModelError

TEST_KINDS = ("not_null", "unique", "accepted_values", "relationships", "row_count")
SIDECAR_SUFFIXES = (".yml", ".yaml")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelTest:
    kind: str
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    to: str | None = None  # relationships: the table the values must exist in
    field: str | None = None  # relationships: its column
    min_rows: int | None = None
    max_rows: int | None = None
    severity: str = "error"
    line: int | None = None  # where the test is declared (header or sidecar)

    @property
    def name(self) -> str:
        """The asset check's name, unique within a model."""
        parts = [self.kind, *self.columns]
        if self.kind == "relationships" and self.to:
            parts.append(self.to.split(".")[-1])
        return "__".join(parts)

    @property
    def description(self) -> str:
        cols = ", ".join(self.columns)
        if self.kind == "not_null":
            return f"{cols}: never null"
        if self.kind == "unique":
            return (
                f"{cols}: no two rows share a value"
                if len(self.columns) == 1
                else (f"({cols}): no two rows share the combination")
            )
        if self.kind == "accepted_values":
            shown = ", ".join(map(str, self.values))
            return f"{cols}: one of {shown}"
        if self.kind == "relationships":
            return f"{cols}: every value exists in {self.to}.{self.field}"
        bounds = []
        if self.min_rows is not None:
            bounds.append(f"at least {self.min_rows:,}")
        if self.max_rows is not None:
            bounds.append(f"at most {self.max_rows:,}")
        return "rows: " + " and ".join(bounds)


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str = ""
    type: str | None = None


@dataclass(frozen=True)
class ModelDoc:
    description: str = ""
    columns: tuple[ColumnDoc, ...] = ()
    tests: tuple[ModelTest, ...] = ()
    source: Path | None = None  # the file the YAML came from (the SQL file or the sidecar)


@dataclass(frozen=True)
class _Header:
    text: str  # the YAML, comment markers removed
    first_line: int  # the file line of the YAML's first line


def _leading_header(sql: str) -> _Header | None:
    lines = sql.splitlines()
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        return None
    if lines[i].lstrip().startswith("/*"):
        end = next((j for j in range(i, len(lines)) if "*/" in lines[j]), None)
        if end is None:
            return None
        body = lines[i : end + 1]
        body[0] = body[0].lstrip()[2:]
        body[-1] = body[-1][: body[-1].rindex("*/")]
        return _Header("\n".join(body), i + 1)
    block: list[str] = []
    j = i
    while j < len(lines) and lines[j].lstrip().startswith("--"):
        content = lines[j].lstrip()[2:]
        block.append(content[1:] if content.startswith(" ") else content)
        j += 1
    return _Header("\n".join(block), i + 1) if block else None


def _load_yaml(path: Path, text: str, first_line: int) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc)
        raise ModelError(path, line, f"the YAML header does not parse: {problem}") from None


def _line_of(text: str, first_line: int, needle: str) -> int:
    """The file line where `needle` first appears in the YAML (for errors about a value)."""
    for offset, line in enumerate(text.splitlines()):
        if needle in line:
            return first_line + offset
    return first_line


def read_doc(sql_path: Path, sql: str) -> ModelDoc:
    """The header of the SQL file, or its sidecar. Both at once is an error (which would
    win?), except that a plain prose comment above a model with a sidecar is just a comment."""
    header = _leading_header(sql)
    data = _load_yaml(sql_path, header.text, header.first_line) if header else None
    sidecar = next(
        (sql_path.with_suffix(s) for s in SIDECAR_SUFFIXES if sql_path.with_suffix(s).is_file()),
        None,
    )
    if sidecar is not None:
        if isinstance(data, dict) and data:
            raise ModelError(
                sidecar,
                None,
                f"both this sidecar and a YAML header in {sql_path.name} describe the model; "
                "keep one",
            )
        text = sidecar.read_text(encoding="utf-8")
        return _doc(sidecar, _load_yaml(sidecar, text, 1), text, 1)
    if header is None or data is None:
        return ModelDoc(source=sql_path)
    if isinstance(data, str):  # a plain comment at the top: prose, taken as the description
        data = {"description": data}
    return _doc(sql_path, data, header.text, header.first_line)


def _doc(path: Path, data: Any, text: str, first_line: int) -> ModelDoc:
    if not isinstance(data, dict):
        raise ModelError(path, first_line, "the YAML header must be a mapping (description:, ...)")
    unknown = set(data) - {"description", "columns", "tests"}
    if unknown:
        key = sorted(unknown)[0]
        raise ModelError(
            path,
            _line_of(text, first_line, f"{key}:"),
            f"unknown key {key!r} (expected description, columns, tests)",
        )
    columns: list[ColumnDoc] = []
    tests: list[ModelTest] = []
    raw_columns = data.get("columns") or {}
    if not isinstance(raw_columns, dict):
        raise ModelError(
            path, _line_of(text, first_line, "columns:"), "columns: a mapping of name -> doc"
        )
    for name, spec in raw_columns.items():
        line = _line_of(text, first_line, f"{name}:")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ModelError(path, line, f"column {name!r}: not a plain column name")
        if spec is None or isinstance(spec, str):
            columns.append(ColumnDoc(name, (spec or "").strip()))
            continue
        if not isinstance(spec, dict):
            raise ModelError(path, line, f"column {name}: a description or a mapping")
        extra = set(spec) - {"description", "type", "tests"}
        if extra:
            raise ModelError(path, line, f"column {name}: unknown key {sorted(extra)[0]!r}")
        columns.append(
            ColumnDoc(name, str(spec.get("description") or "").strip(), spec.get("type"))
        )
        for item in spec.get("tests") or []:
            tests.append(_test(path, item, (name,), text, first_line))
    for item in data.get("tests") or []:
        tests.append(_test(path, item, (), text, first_line))
    seen: dict[str, ModelTest] = {}
    for test in tests:
        if test.name in seen:
            raise ModelError(path, test.line, f"test {test.name} is declared twice")
        seen[test.name] = test
    return ModelDoc(
        description=str(data.get("description") or "").strip(),
        columns=tuple(columns),
        tests=tuple(tests),
        source=path,
    )


def _test(path: Path, item: Any, column: tuple[str, ...], text: str, first_line: int) -> ModelTest:
    if isinstance(item, str):
        kind, params = item, {}
    elif isinstance(item, dict) and len(item) == 1:
        kind, params = next(iter(item.items()))
    else:
        raise ModelError(path, first_line, f"a test is a name or a one-key mapping, not {item!r}")
    line = _line_of(text, first_line, str(kind))
    if kind not in TEST_KINDS:
        raise ModelError(
            path, line, f"unknown test {kind!r} (expected one of {', '.join(TEST_KINDS)})"
        )
    # Shorthands: `unique: [a, b]` (model level), `accepted_values: [x, y]`.
    if isinstance(params, list):
        params = {"values": params} if kind == "accepted_values" else {"columns": params}
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ModelError(path, line, f"{kind}: expected a mapping of options")
    params = dict(params)
    severity = str(params.pop("severity", "error")).lower()
    if severity not in {"error", "warn"}:
        raise ModelError(path, line, f"{kind}: severity is error or warn, not {severity!r}")
    columns = column
    if "column" in params:
        columns = (str(params.pop("column")),)
    if "columns" in params:
        columns = tuple(str(c) for c in params.pop("columns"))
    if kind != "row_count" and not columns:
        raise ModelError(path, line, f"{kind}: which column? (put it under a column, or column:)")
    for name in columns:
        if not _NAME.match(name):
            raise ModelError(path, line, f"{kind}: {name!r} is not a plain column name")
    if kind in {"accepted_values", "relationships"} and len(columns) != 1:
        raise ModelError(path, line, f"{kind}: one column at a time")
    test = ModelTest(kind=kind, columns=columns, severity=severity, line=line)
    if kind == "accepted_values":
        values = params.pop("values", None)
        if not values:
            raise ModelError(path, line, "accepted_values: values: [the allowed values]")
        test = replace(test, values=tuple(values))
    elif kind == "relationships":
        to, target_field = params.pop("to", None), params.pop("field", None)
        if not to or not target_field:
            raise ModelError(path, line, "relationships: needs to: schema.table and field: column")
        test = replace(
            test,
            to=str(to).lower(),
            field=str(target_field),
            line=_line_of(text, first_line, str(to)),
        )
    elif kind == "row_count":
        low, high = params.pop("min", None), params.pop("max", None)
        if low is None and high is None:
            raise ModelError(path, line, "row_count: give min:, max: or both")
        test = replace(test, min_rows=low, max_rows=high)
    if params:
        raise ModelError(path, line, f"{kind}: unknown option {sorted(params)[0]!r}")
    return test
