"""Domain `drive`: with LEADS_SOURCE=drive, the push channels and their renewal schedule.

The Drive lead source itself is the ingest domain's `lead_source` resource (backends.py); the
file-arrival sensor reads its change feed. Without LEADS_SOURCE=drive this domain is empty.
"""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from assets.drive_channels import drive_watch_channels
from pipeline.config import Settings
from pipeline.definitions.backends import Backends
from schedules.drive_channels import build_drive_channel_schedule

drive_channels_job = define_asset_job(
    "drive_channels_job",
    selection=AssetSelection.assets(drive_watch_channels),
    description="Renew the Drive push channels that expire soon.",
)


def drive_definitions(settings: Settings, backends: Backends) -> Definitions:
    if settings.lead_source != "drive":
        return Definitions()
    return Definitions(
        assets=[drive_watch_channels],
        jobs=[drive_channels_job],
        schedules=[build_drive_channel_schedule(drive_channels_job)],
        resources=backends.resources("lead_source", "ops_store", "drive_channel_settings"),
    )
