"""The `marts` group: one asset per SQL model in `dbt_like_sql/` (the engine is pipeline.marts).

Each model's asset is keyed `marts/<name>`, depends on the tables its SQL reads (the pipeline's
assets and other models, parsed with sqlglot), and carries its YAML tests as asset checks and
its column docs in the catalog's Columns tab. Materializing it replaces the table in its
layer's schema and runs the tests.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)
from dagster_duckdb import DuckDBResource

from assets.automation import FOLLOW_UPSTREAM
from assets.metadata import preview
from pipeline.marts import BuildError, BuiltModel, SqlModel, SqlProject, build_model
from pipeline.marts.errors import shown
from pipeline.warehouse_files import repair_views
from resources.warehouse import Warehouse

GROUP = "marts"
KEY_PREFIX = "marts"
WAREHOUSE_IO_MANAGER = "io_manager"

MART_AUTOMATION = FOLLOW_UPSTREAM


def mart_key(model: SqlModel) -> AssetKey:
    return AssetKey([KEY_PREFIX, model.name])


def warehouse_tables(assets_defs: Iterable[AssetsDefinition], schema: str) -> dict[str, AssetKey]:
    """`schema.table` -> asset key, for every asset the warehouse IO manager stores (the
    tables a model may read)."""
    tables: dict[str, AssetKey] = {}
    for assets_def in assets_defs:
        for key in assets_def.keys:
            if assets_def.get_io_manager_key_for_asset_key(key) == WAREHOUSE_IO_MANAGER:
                tables[f"{schema}.{key.path[-1]}"] = key
    return tables


def column_schema(model: SqlModel, types: Mapping[str, str] | None = None) -> TableSchema:
    """The documented columns (and, once built, every column with its DuckDB type)."""
    docs = {c.name: c for c in model.doc.columns}
    names = list(types) if types is not None else list(docs)
    return TableSchema(
        columns=[
            TableColumn(
                name=name,
                type=(types or {}).get(name) or docs[name].type or "unknown",
                description=docs[name].description if name in docs else None,
            )
            for name in names
        ]
    )


def _definition_metadata(model: SqlModel) -> dict[str, object]:
    return {
        "dagster/table_name": str(model.relation),
        "dagster/column_schema": column_schema(model),
        "model_file": MetadataValue.path(shown(model.path)),
        "reads": MetadataValue.json([str(r) for r in model.upstream]),
        "sql": MetadataValue.md(f"```sql\n{model.text.strip()}\n```"),
    }


def _check_results(built: BuiltModel) -> list[AssetCheckResult]:
    return [
        AssetCheckResult(
            check_name=outcome.test.name,
            passed=outcome.passed,
            severity=(
                AssetCheckSeverity.WARN
                if outcome.test.severity == "warn"
                else AssetCheckSeverity.ERROR
            ),
            description=outcome.summary,
            metadata={
                "failures": outcome.failures,
                "sample": MetadataValue.json([str(v) for v in outcome.sample]),
                "query": MetadataValue.md(f"```sql\n{outcome.sql}\n```"),
            },
        )
        for outcome in built.tests
    ]


def _materialization(built: BuiltModel, head: pl.DataFrame) -> MaterializeResult:
    types = dict(built.columns)
    metadata: dict[str, object] = {
        "dagster/row_count": MetadataValue.int(built.rows),
        "dagster/column_schema": MetadataValue.table_schema(column_schema(built.model, types)),
        "dagster/table_name": str(built.model.relation),
        "seconds": MetadataValue.float(round(built.seconds, 3)),
        "preview": preview(head),
    }
    if built.undocumented:
        metadata["undocumented_columns"] = MetadataValue.json(built.undocumented)
    return MaterializeResult(metadata=metadata, check_results=_check_results(built))


def mart_asset(
    project: SqlProject, model: SqlModel, source_keys: Mapping[str, AssetKey]
) -> AssetsDefinition:
    key = mart_key(model)
    deps = [
        mart_key(upstream)
        if (upstream := project.model_for(relation))
        else source_keys[str(relation)]
        for relation in model.upstream
    ]

    @asset(
        key=key,
        group_name=GROUP,
        deps=deps,
        kinds={"sql", "duckdb"},
        description=model.doc.description or f"SQL model {model.path.name}",
        metadata=_definition_metadata(model),
        code_version=hashlib.sha256(model.text.encode()).hexdigest()[:16],
        automation_condition=MART_AUTOMATION,
        check_specs=[
            AssetCheckSpec(
                test.name,
                asset=key,
                description=test.description,
                blocking=test.severity == "error",
            )
            for test in model.tests
        ],
    )
    def _mart(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        with DuckDBResource(database=warehouse.database).get_connection() as connection:
            try:
                moved = repair_views(connection, warehouse.database)
                if moved:  # the data folder was moved or restored elsewhere
                    context.log.info(f"views re-pointed at their files: {', '.join(moved)}")
                built = build_model(connection, project, model)
                head = connection.sql(f"select * from {model.relation.sql} limit 10").pl()
            except BuildError as exc:
                raise Failure(description=str(exc)) from None
            finally:
                connection.close()
        failed = [o.test.name for o in built.failed_tests]
        context.log.info(
            f"{model.relation}: {built.rows:,} rows in {built.seconds:.2f}s; tests: "
            f"{len(built.tests) - len(failed)} passed"
            + (f", failed: {', '.join(failed)}" if failed else "")
        )
        return _materialization(built, head)

    return _mart


def build_mart_assets(
    project: SqlProject, source_keys: Mapping[str, AssetKey]
) -> Sequence[AssetsDefinition]:
    """One asset per model, in build order; `source_keys` from `warehouse_tables`."""
    return [mart_asset(project, model, source_keys) for model in project.models.values()]
