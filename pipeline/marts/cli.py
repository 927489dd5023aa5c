"""`python -m pipeline sql list | run NAME`: the SQL models from the terminal.

`list` shows each model, the table it writes, what it reads and its tests (and, when the
warehouse holds it, its row count). `run NAME` materializes that model's asset through Dagster
against the configured warehouse (on the instance under DAGSTER_HOME, so the UI shows the run
and its checks) and prints its tests. The Dagster layer is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys

import duckdb

from pipeline.config import Settings, load_settings
from pipeline.marts.errors import ModelError, shown
from pipeline.marts.project import Relation, SqlProject


def add_parser(sub: argparse._SubParsersAction) -> None:
    sql = sub.add_parser("sql", help="the SQL models of dbt_like_sql/: list them, build one")
    verbs = sql.add_subparsers(dest="sql_command", required=True)
    listing = verbs.add_parser("list", help="each model, what it reads, its tests")
    listing.set_defaults(func=run_list)
    run = verbs.add_parser(
        "run", help="build one model in the warehouse (through Dagster) and run its tests"
    )
    run.add_argument("name", help="the model's name (its file name without .sql)")
    run.set_defaults(func=run_model)


def _project(settings: Settings) -> SqlProject:
    from pipeline.definitions.marts import marts_project  # the Dagster layer

    project, _ = marts_project(settings)
    return project


def _row_counts(settings: Settings, relations: list[Relation]) -> dict[Relation, int]:
    """Rows of the relations the warehouse holds (none if it does not exist yet)."""
    path = settings.warehouse_path
    if not path.exists():
        return {}
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            present = {
                Relation(s.lower(), t.lower())
                for s, t in con.execute(
                    "select table_schema, table_name from information_schema.tables"
                ).fetchall()
            }
            return {
                r: int(con.execute(f"select count(*) from {r.sql}").fetchall()[0][0])
                for r in relations
                if r in present
            }
    except duckdb.IOException:  # another process holds the write lock: rows are a nicety
        return {}


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        project = _project(settings)
    except (ModelError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    models = list(project.models.values())
    rows = _row_counts(settings, [m.relation for m in models])
    print(f"{len(models)} model(s) in {shown(project.folder)} (in build order):")
    for model in models:
        built = f"{rows[model.relation]:,} rows" if model.relation in rows else "not built yet"
        print(f"\n{model.name}  -> {model.relation} ({built})  [{shown(model.path)}]")
        if model.doc.description:
            print(f"  {' '.join(model.doc.description.split())}")
        print(f"  reads: {', '.join(str(r) for r in model.upstream) or '(nothing)'}")
        if model.tests:
            print("  tests:")
            for test in model.tests:
                severity = " (warn)" if test.severity == "warn" else ""
                print(f"    - {test.name}{severity}: {test.description}")
        else:
            print("  tests: none")
    return 0


def run_model(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance, materialize

    from assets.marts import mart_asset
    from pipeline.definitions.backends import Backends
    from pipeline.definitions.marts import marts_project
    from pipeline.definitions.runner import QUIET, failed_run

    settings = load_settings()
    try:
        project, catalog = marts_project(settings)
        model = project.model(args.name)
    except (ModelError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    asset_def = mart_asset(project, model, catalog)
    backends = Backends(settings)
    persistent = bool(os.environ.get("DAGSTER_HOME"))
    instance = DagsterInstance.get() if persistent else DagsterInstance.ephemeral()
    print(f"building {model.relation} from {shown(model.path)} in {settings.warehouse_path} ...")
    with instance:
        result = materialize(
            [asset_def],
            instance=instance,
            resources=backends.resources("warehouse"),
            raise_on_error=False,
            run_config=QUIET,
        )
    if not persistent:
        print(
            "note: DAGSTER_HOME is not set, so this run is not recorded in the Dagster UI "
            "(the Makefile sets it; export DAGSTER_HOME=$PWD/.dagster_home to record runs)"
        )
    materializations = result.asset_materializations_for_node(asset_def.node_def.name)
    if not materializations:  # the build itself failed: one paragraph, as `make demo` does
        print(failed_run(f"sql run {model.name}", result).paragraph(), file=sys.stderr)
        return 1
    # A failed blocking (error) test fails Dagster's step after the table is built.
    metadata = materializations[0].metadata
    print(
        f"built {model.relation}: {metadata['dagster/row_count'].value:,} rows "
        f"in {metadata['seconds'].value:.2f}s"
    )
    failed_errors = 0
    evaluations = result.get_asset_check_evaluations()
    for evaluation in evaluations:
        mark = "ok  " if evaluation.passed else "FAIL"
        severity = evaluation.severity.value.lower()
        if not evaluation.passed and severity == "error":
            failed_errors += 1
        detail = evaluation.description or ""
        print(f"  {mark} {evaluation.check_name} ({severity}): {detail}")
    if not evaluations:
        print("  (no tests)")
    if failed_errors:
        print(f"{failed_errors} test(s) failed", file=sys.stderr)
    return 1 if failed_errors or not result.success else 0
