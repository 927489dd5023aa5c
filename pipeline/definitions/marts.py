"""Domain `marts`: the SQL models of `dbt_like_sql/` as assets over the warehouse, and the
per-run CRM sync tables they read (`crm_sync_runs`, `crm_sync_rejections`, group crm).

A model may read any table the warehouse IO manager writes: the assets of
WAREHOUSE_ASSET_MODULES (a test checks that list covers every such asset of the code
location). A model naming another table stops the code location from loading, with the file
and line.
"""

from __future__ import annotations

from dagster import (
    AssetKey,
    AssetSelection,
    Definitions,
    define_asset_job,
    load_assets_from_modules,
)

from assets import (
    agent,
    crm,
    crm_merges,
    crm_source,
    crm_sync_runs,
    dedupe,
    enrich,
    ingest,
    monitoring,
    monitoring_notify,
    normalize,
    outreach,
    scoring,
    webhooks,
)
from assets.marts import GROUP, build_mart_assets, warehouse_tables
from pipeline.config import Settings
from pipeline.definitions.backends import WAREHOUSE_SCHEMA, Backends
from pipeline.marts import SqlProject, load_project

# Every module whose assets the warehouse IO manager stores: the tables models may read.
WAREHOUSE_ASSET_MODULES = (
    ingest,
    normalize,
    dedupe,
    enrich,
    scoring,
    crm,
    crm_source,
    crm_merges,
    crm_sync_runs,
    webhooks,
    outreach,
    agent,
    monitoring,
    monitoring_notify,
)

marts_job = define_asset_job(
    "marts_job",
    selection=AssetSelection.groups(GROUP)
    | AssetSelection.assets("crm_sync_runs", "crm_sync_rejections"),
    description="Rebuild every SQL model of dbt_like_sql/ (and the CRM sync run tables).",
)


def warehouse_catalog() -> dict[str, AssetKey]:
    """`leads.<table>` -> asset key, for every pipeline asset stored in the warehouse."""
    return warehouse_tables(
        load_assets_from_modules(list(WAREHOUSE_ASSET_MODULES)), WAREHOUSE_SCHEMA
    )


def marts_project(settings: Settings) -> tuple[SqlProject, dict[str, AssetKey]]:
    """The models (parsed and checked against the warehouse's tables) and that catalog."""
    catalog = warehouse_catalog()
    sources = [tuple(name.split(".", 1)) for name in catalog]
    return load_project(settings.sql_models_dir, sources), catalog


def marts_definitions(settings: Settings, backends: Backends) -> Definitions:
    project, catalog = marts_project(settings)
    return Definitions(
        assets=[
            *load_assets_from_modules([crm_sync_runs]),
            *build_mart_assets(project, catalog),
        ],
        jobs=[marts_job],
        resources=backends.resources("warehouse", "ops_store", "io_manager"),
    )
