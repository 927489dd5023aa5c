"""Domain `outreach`: `sequence_state` and the `sequence_tick` schedule (every 15 minutes)."""

from __future__ import annotations

import logging

from dagster import Definitions, load_assets_from_modules

from assets import outreach
from pipeline.config import Settings
from pipeline.definitions.backends import Backends
from schedules.outreach import outreach_tick_job, sequence_tick

log = logging.getLogger("pipeline")


def outreach_definitions(settings: Settings, backends: Backends) -> Definitions:
    config = backends.sequences.load()  # a bad SEQUENCES_CONFIG fails the load, naming the key
    has_tasks = any(s.channel == "crm_task" for q in config.sequences for s in q.steps)
    if has_tasks and settings.crm_backend != "outbox":
        log.warning(
            "SEQUENCES_CONFIG has crm_task steps, which only CRM_BACKEND=outbox can create so "
            "far: enrolments wait at those steps (remove them from the sequences)"
        )
    return Definitions(
        assets=load_assets_from_modules([outreach]),
        jobs=[outreach_tick_job],
        schedules=[sequence_tick],
        resources=backends.resources("ops_store", "email", "sequences", "crm", "io_manager"),
    )
