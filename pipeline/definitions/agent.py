"""Domain `agent`: the prospecting agent's seven assets, its job and the retry sensor (form
webhooks reach it through the webhooks domain's inbox sensor)."""

from __future__ import annotations

import logging

from dagster import Definitions, load_assets_from_modules

from assets import agent
from assets.agent import agent_job
from pipeline.config import Settings
from pipeline.definitions.backends import Backends
from sensors.agent import build_agent_retry_sensor

log = logging.getLogger("pipeline")


def agent_definitions(settings: Settings, backends: Backends) -> Definitions:
    backends.agent.config()  # a bad AGENT_CONFIG fails the load, naming the file and key
    log.info(backends.agent.describe())
    return Definitions(
        assets=load_assets_from_modules([agent]),
        jobs=[agent_job],
        sensors=[build_agent_retry_sensor(agent_job)],
        resources=backends.resources(
            "ops_store", "agent", "crm", "email", "llm", "enrichment", "io_manager"
        ),
    )
