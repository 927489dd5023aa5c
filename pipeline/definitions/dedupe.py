"""Domain `dedupe`: normalized leads -> entities and golden records (eager on new leads)."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, load_assets_from_modules

from assets import dedupe
from pipeline.config import Settings
from pipeline.definitions.backends import Backends

dedupe_job = define_asset_job(
    "dedupe_job",
    selection=AssetSelection.groups("dedupe"),
    description="Resolve all normalized leads to entities and golden records.",
)


def dedupe_definitions(settings: Settings, backends: Backends) -> Definitions:
    return Definitions(
        assets=load_assets_from_modules([dedupe]),
        jobs=[dedupe_job],
        resources=backends.resources("warehouse", "io_manager"),
    )
