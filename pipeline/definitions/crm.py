"""Domain `crm`: the CRM read as a source (crm_records -> crm_leads, into the dedupe), merge
proposals for duplicates inside it, and scored golden leads -> CRM contacts (automatic
unless CRM_AUTO_SYNC=false)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationCondition,
    Definitions,
    define_asset_job,
    load_assets_from_modules,
)

from assets import crm, crm_merges, crm_source
from pipeline.config import Settings
from pipeline.definitions.backends import Backends

CRM_IMPORT = AssetSelection.assets("crm_records", "crm_import_rejections", "crm_leads")

crm_import_job = define_asset_job(
    "crm_import_job",
    selection=CRM_IMPORT,
    description="Read what changed in the CRM (contacts, companies) and turn its contacts into "
    "leads for the dedupe.",
)

crm_job = define_asset_job(
    "crm_job",
    selection=AssetSelection.groups("crm") - CRM_IMPORT,
    description="Propose merges of duplicates inside the CRM, then sync the scored golden "
    "leads to the CRM (outbox or HubSpot), carrying out approved merges first.",
)


def _with(condition: AutomationCondition, assets: list) -> list:  # type: ignore[type-arg]
    return [
        a.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition))
        for a in assets
    ]


def crm_definitions(settings: Settings, backends: Backends) -> Definitions:
    assets = load_assets_from_modules([crm, crm_merges])
    if settings.crm_auto_sync:
        assets = _with(AutomationCondition.eager(), assets)
    # The CRM is read on a schedule (and once, when never read); its leads follow each read.
    records = _with(
        AutomationCondition.on_cron(settings.crm_import_cron) | AutomationCondition.on_missing(),
        [crm_source.crm_records],
    )
    leads = _with(AutomationCondition.eager(), [crm_source.crm_leads])
    return Definitions(
        assets=[*records, *leads, *assets],
        jobs=[crm_import_job, crm_job],
        resources=backends.resources("crm", "ops_store", "io_manager", "warehouse", "settings"),
    )
