"""Domain `ingest`: arrived files -> raw rows -> normalized leads, per arrival day."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, load_assets_from_modules

from assets import ingest, normalize
from assets.partitions import arrival_day
from pipeline.config import Settings
from pipeline.definitions.backends import Backends
from sensors.file_arrival import build_file_arrival_sensor

ingest_job = define_asset_job(
    "ingest_job",
    selection=AssetSelection.groups("ingest"),
    partitions_def=arrival_day,
    description="Land the day's files, parse them, normalize the rows.",
)


def ingest_definitions(settings: Settings, backends: Backends) -> Definitions:
    return Definitions(
        assets=load_assets_from_modules([ingest, normalize]),
        jobs=[ingest_job],
        # Drive: a tick every 15 s that reads the change feed only when a push notification
        # arrived or DRIVE_POLL_SECONDS passed (cheap otherwise); a folder: every 30 s.
        sensors=[
            build_file_arrival_sensor(
                ingest_job.name,
                minimum_interval_seconds=15 if settings.lead_source == "drive" else 30,
            )
        ],
        resources=backends.resources("lead_source", "settings", "io_manager"),
    )
