"""Domain `crm`: scored golden leads -> CRM contacts (automatic unless CRM_AUTO_SYNC=false)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationCondition,
    Definitions,
    define_asset_job,
    load_assets_from_modules,
)

from assets import crm
from pipeline.config import Settings
from pipeline.definitions.backends import Backends

crm_job = define_asset_job(
    "crm_job",
    selection=AssetSelection.groups("crm"),
    description="Sync the scored golden leads to the CRM (outbox or HubSpot).",
)


def crm_definitions(settings: Settings, backends: Backends) -> Definitions:
    assets = load_assets_from_modules([crm])
    if settings.crm_auto_sync:
        assets = [
            a.map_asset_specs(
                lambda spec: spec.replace_attributes(
                    automation_condition=AutomationCondition.eager()
                )
            )
            for a in assets
        ]
    return Definitions(
        assets=assets,
        jobs=[crm_job],
        resources=backends.resources("crm", "ops_store", "io_manager"),
    )
