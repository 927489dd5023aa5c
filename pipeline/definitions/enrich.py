"""Domain `enrich`: golden leads -> enriched and scored leads, following new golden records."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationCondition,
    Definitions,
    define_asset_job,
    load_assets_from_modules,
)

from assets import enrich, scoring
from pipeline.config import Settings
from pipeline.definitions.backends import Backends

enrich_job = define_asset_job(
    "enrich_job",
    selection=AssetSelection.groups("enrich"),
    description="Enrich and score the golden leads.",
)


def enrich_definitions(settings: Settings, backends: Backends) -> Definitions:
    # Enrichment follows new golden records on its own; its paid calls stay within the
    # configured budgets and the enrichment_api pool, whoever starts the run.
    assets = [
        a.map_asset_specs(
            lambda spec: spec.replace_attributes(automation_condition=AutomationCondition.eager())
        )
        for a in load_assets_from_modules([enrich, scoring])
    ]
    return Definitions(
        assets=assets,
        jobs=[enrich_job],
        resources=backends.resources("enrichment", "ops_store", "icp", "io_manager"),
    )
