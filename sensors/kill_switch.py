"""The kill switch's face in the UI: a sensor that never requests a run, whose every tick
says whether side effects are paused, by whom, when and why. `pause-all` leaves it on."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from pipeline.store import pause
from resources.ops_store import OpsStore

KILL_SWITCH_SENSOR = "kill_switch"


@sensor(
    name=KILL_SWITCH_SENSOR,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Shows whether side effects (CRM writes, paid enrichment, email, Drive channels) are "
        "paused: `python -m pipeline pause-all` / `resume-all`."
    ),
)
def kill_switch(context: SensorEvaluationContext, ops_store: OpsStore) -> SkipReason:
    state = pause.current(ops_store.engine)
    if state is not None and state.paused:
        return SkipReason(f"PAUSED - side effects {state.describe()}")
    return SkipReason("side effects are on (`python -m pipeline pause-all` stops them all)")
