"""HubSpot's request contract as JSON schemas we wrote from HubSpot's documentation
(tests/contracts/hubspot/), and the check of every request a test's fake portal received.

`violations(requests)` names each request that matches no documented operation or whose body
breaks its operation's schema; `assert_conforms(requests)` fails with all of them at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).with_name("hubspot")


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: re.Pattern[str]
    validator: Draft202012Validator
    query: Draft202012Validator | None = None  # the query string, where the index gives one


@cache
def operations() -> tuple[Operation, ...]:
    registry: Registry = Registry()
    for path in SCHEMAS.glob("*.json"):
        if path.name != "index.json":
            registry = registry.with_resource(path.name, Resource.from_contents(_load(path)))
    index = _load(SCHEMAS / "index.json")["operations"]
    found = []
    for entry in index:
        schema = _load(SCHEMAS / entry["schema"])
        Draft202012Validator.check_schema(schema)
        query = None
        if "query" in entry:
            query_schema = _load(SCHEMAS / entry["query"])
            Draft202012Validator.check_schema(query_schema)
            query = Draft202012Validator(query_schema, registry=registry)
        found.append(
            Operation(
                entry["name"],
                entry["method"],
                re.compile(entry["path"]),
                Draft202012Validator(schema, registry=registry),
                query,
            )
        )
    return tuple(found)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def operation_for(method: str, path: str) -> Operation | None:
    return next((op for op in operations() if op.method == method and op.path.match(path)), None)


def violations(requests: Iterable[Any]) -> list[str]:
    """Each request (anything with method, path, body and, for reads, query) that breaks the
    contract, explained."""
    problems = []
    for number, seen in enumerate(requests, start=1):
        op = operation_for(seen.method, seen.path)
        if op is None:
            problems.append(f"#{number} {seen.method} {seen.path}: no documented operation")
            continue
        for error in sorted(op.validator.iter_errors(seen.body), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(body)"
            problems.append(
                f"#{number} {seen.method} {seen.path} ({op.name}) at {where}: {error.message}"
            )
        query = getattr(seen, "query", None) or {}
        if op.query is not None:
            for error in op.query.iter_errors(query):
                where = "/".join(str(p) for p in error.absolute_path) or "(query)"
                problems.append(
                    f"#{number} {seen.method} {seen.path} ({op.name}) query {where}: "
                    f"{error.message}"
                )
    return problems


def assert_conforms(requests: Iterable[Any]) -> None:
    problems = violations(requests)
    assert not problems, f"{len(problems)} contract violations:\n" + "\n".join(problems[:40])
