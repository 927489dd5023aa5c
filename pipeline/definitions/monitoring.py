"""Domain `monitoring`: accounts, news events (news-day partitions), classification, instant
alerts, digests and the email log; the refresh and digest schedules; the alert and
schedule-health sensors."""

from __future__ import annotations

import logging

from dagster import Definitions, load_assets_from_modules

from assets import monitoring, monitoring_notify
from pipeline.config import ConfigError, Settings
from pipeline.definitions.backends import Backends
from pipeline.monitoring.classify.rules import load_rules
from schedules.monitoring import (
    build_schedules,
    monitoring_alerts_job,
    monitoring_digest_job,
    monitoring_refresh_job,
)
from sensors.monitoring import build_alerts_sensor, monitoring_schedule_health

log = logging.getLogger("pipeline")


def monitoring_definitions(settings: Settings, backends: Backends) -> Definitions:
    resource = backends.monitoring
    # A bad MONITORING_* file fails the load, naming the file and the key.
    resource.accounts_file()
    sources = resource.sources()
    resource.preferences()
    # Checked here without opening the operational store (building definitions opens nothing).
    if settings.monitoring_classifier == "rules":
        load_rules(resource.rules_path)
    elif settings.llm_backend != "openai":
        raise ConfigError(
            "MONITORING_CLASSIFIER=llm needs the LLM resource: LLM_BACKEND=openai with "
            "OPENAI_API_KEY / OPENAI_BASE_URL"
        )
    for source in sources.sources:
        if source.enabled and source.type == "newsapi" and settings.news_api_key is None:
            log.warning(
                "MONITORING_SOURCES has a newsapi source but NEWS_API_KEY is not set: "
                f"source {source.name} will fail each run (the others go on)"
            )
        if (
            source.enabled
            and source.type == "google_cse"
            and not (settings.google_cse_key and settings.google_cse_id)
        ):
            log.warning(
                "MONITORING_SOURCES has a google_cse source but GOOGLE_CSE_KEY/"
                f"GOOGLE_CSE_ID are not set: source {source.name} will fail each run"
            )
    return Definitions(
        assets=load_assets_from_modules([monitoring, monitoring_notify]),
        asset_checks=[
            monitoring_notify.events_schedules_running,
            monitoring_notify.digests_schedules_running,
        ],
        jobs=[monitoring_refresh_job, monitoring_alerts_job, monitoring_digest_job],
        schedules=build_schedules(settings.monitoring_refresh_cron),
        sensors=[build_alerts_sensor(monitoring_alerts_job), monitoring_schedule_health],
        resources=backends.resources("ops_store", "email", "monitoring", "llm", "io_manager"),
    )
