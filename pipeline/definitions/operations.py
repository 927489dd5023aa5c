"""Domain `operations`: the automation sensor that moves the chain along, and the kill
switch's sensor (see pipeline/definitions/kill_switch.py)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
)

from pipeline.config import Settings
from pipeline.definitions.backends import Backends
from sensors.kill_switch import kill_switch


def operations_definitions(settings: Settings, backends: Backends) -> Definitions:
    # Dagster's implicit automation sensor starts stopped; the chain from a dropped file to
    # the CRM should follow on its own, so this one starts running (pause-all stops it).
    automation = AutomationConditionSensorDefinition(
        "automation",
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Evaluates the assets' automation conditions (eager dedupe, enrich, CRM).",
    )
    return Definitions(sensors=[automation, kill_switch], resources=backends.resources("ops_store"))
