"""Domain `webhooks`: the inbox sensor that turns received events into runs, and the report."""

from __future__ import annotations

from dagster import Definitions, load_assets_from_modules

from assets import webhooks
from assets.agent import agent_job
from pipeline.config import Settings
from pipeline.definitions.backends import Backends
from pipeline.definitions.ingest import ingest_job
from sensors.webhook_inbox import build_webhook_inbox_sensor


def webhooks_definitions(settings: Settings, backends: Backends) -> Definitions:
    return Definitions(
        assets=load_assets_from_modules([webhooks]),
        jobs=[webhooks.process_webhook_events],
        sensors=[
            build_webhook_inbox_sensor(
                webhooks.process_webhook_events,
                ingest_job,
                drive_wakes_file_arrival=settings.lead_source == "drive",
                form_job=agent_job,
            )
        ],
        resources=backends.resources("ops_store", "io_manager"),
    )
