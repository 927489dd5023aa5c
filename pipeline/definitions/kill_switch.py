"""`pause-all` / `resume-all`: one switch for every side effect of the code location.

Pausing sets the flag in the operational store first (runs in flight stop before their next
write), then turns off every running sensor and schedule of `lead_pipeline` in the Dagster
instance, recording which were on; resuming turns on exactly those, then clears the flag.
The `kill_switch` sensor itself stays on: its ticks say in the UI whether side effects are
paused, by whom and why.

Dagster has no public API to start and stop sensors from Python outside its CLI; this uses
the instance methods the CLI uses, through Dagster's workspace loader (`dagster._core`), so
`pyproject.toml` bounds the dagster version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dagster import DagsterInstance
from sqlalchemy import Engine

from pipeline.config import PROJECT_ROOT
from pipeline.store import pause as pause_flag
from sensors.kill_switch import KILL_SWITCH_SENSOR


@dataclass
class SwitchReport:
    state: pause_flag.PauseState
    changed: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)

    def render(self) -> str:
        names = ", ".join(f"{kind} {name}" for kind, name in self.changed) or "none"
        verb = "turned off" if self.state.paused else "turned back on"
        return f"Side effects {self.state.describe()}.\nAutomations {verb}: {names}."


@contextmanager
def _remote_repository(instance: DagsterInstance) -> Iterator:
    """The code location as the daemon and the UI load it (from workspace.yaml), so the
    sensor states written here are the ones they read."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from pipeline.definitions import CODE_LOCATION

    target = WorkspaceFileTarget(paths=[str(PROJECT_ROOT / "workspace.yaml")])
    with WorkspaceProcessContext(instance, target, code_server_log_level="CRITICAL") as process:
        workspace = process.create_request_context()
        error = workspace.get_code_location_error(CODE_LOCATION)
        if error is not None:
            raise RuntimeError(f"the code location {CODE_LOCATION} does not load: {error.message}")
        location = workspace.get_code_location(CODE_LOCATION)
        yield next(iter(location.get_repositories().values()))


def _running(instance: DagsterInstance, repository) -> list[tuple[str, object]]:
    """(kind, remote sensor or schedule) of everything running now, but the switch itself."""
    running = []
    for kind, items in (
        ("sensor", repository.get_sensors()),
        ("schedule", repository.get_schedules()),
    ):
        for item in items:
            if item.name == KILL_SWITCH_SENSOR:
                continue
            stored = instance.get_instigator_state(item.get_remote_origin_id(), item.selector_id)
            if item.get_current_instigator_state(stored).is_running:
                running.append((kind, item))
    return running


def pause_all(
    engine: Engine, instance: DagsterInstance, by: str, reason: str | None
) -> SwitchReport:
    state = pause_flag.pause(engine, by, reason)  # first: runs in flight stop at their next batch
    stopped: list[tuple[str, str]] = []
    with _remote_repository(instance) as repository:
        for kind, item in _running(instance, repository):
            if kind == "sensor":
                instance.stop_sensor(item.get_remote_origin_id(), item.selector_id, item)
            else:
                instance.stop_schedule(item.get_remote_origin_id(), item.selector_id, item)
            stopped.append((kind, item.name))
            pause_flag.remember_stopped(engine, [(kind, item.name)])
    return SwitchReport(state, stopped)


def resume_all(
    engine: Engine, instance: DagsterInstance, by: str, reason: str | None
) -> SwitchReport:
    started: list[tuple[str, str]] = []
    remembered = set(pause_flag.stopped_automations(engine))
    with _remote_repository(instance) as repository:
        for kind, items in (
            ("sensor", repository.get_sensors()),
            ("schedule", repository.get_schedules()),
        ):
            for item in items:
                if (kind, item.name) not in remembered:
                    continue
                if kind == "sensor":
                    instance.start_sensor(item)
                else:
                    instance.start_schedule(item)
                started.append((kind, item.name))
    pause_flag.forget_stopped(engine)
    state = pause_flag.resume(engine, by, reason)
    return SwitchReport(state, started)
