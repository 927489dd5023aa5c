"""Turn webhook inbox rows into runs.

The cursor is the last inbox id looked at. HubSpot and email events go, in chunks, to the
processing job; Drive notifications only say "something changed". With the Drive lead source
(LEADS_SOURCE=drive) they wake the file-arrival sensor, which reads Drive's change feed and
requests runs for the days that have new content; the inbox sensor only marks them dispatched
to it. Otherwise a burst of them becomes one ingest run for today's arrival day, the same work
the file-arrival sensor would request (files it lands are then already landed when that sensor
looks). Run keys are built from the
events' fingerprints (and attempt counts, for retries and replays), so a tick that is evaluated
twice never starts a second run for the same events.
"""

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from dagster import (
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.partitions import arrival_partition_key
from pipeline.store.inbox import StoredEvent, events_after, events_to_retry, mark_dispatched
from resources.ops_store import OpsStore

PAGE_SIZE = 1_000
# The "run key" Drive notifications are dispatched to when the file-arrival sensor reads them.
WOKE_FILE_ARRIVAL = "file_arrival_sensor"
EVENTS_PER_RUN = 200
TICK_BUDGET_SECONDS = 20.0


def _key(prefix: str, events: list[StoredEvent]) -> str:
    digest = hashlib.sha256()
    for e in events:
        digest.update(f"{e.fingerprint}:{e.replays}:{e.attempts}\n".encode())
    return f"{prefix}:{digest.hexdigest()[:24]}"


def plan_runs(
    events: list[StoredEvent],
    process_job: str,
    ingest_job: str,
    today: str,
    drive_wakes_file_arrival: bool = False,
    form_job: str | None = None,
) -> tuple[list[RunRequest], dict[int, str]]:
    """Run requests for a page of events, and the run key each event went to. Form
    submissions (source `forms`) go to `form_job`, the prospecting agent's job."""
    requests: list[RunRequest] = []
    keys: dict[int, str] = {}
    forms = [e for e in events if e.source == "forms"] if form_job else []
    for start in range(0, len(forms), EVENTS_PER_RUN):
        chunk = forms[start : start + EVENTS_PER_RUN]
        key = _key("form-submissions", chunk)
        requests.append(
            RunRequest(
                run_key=key,
                job_name=form_job,
                run_config=RunConfig(
                    ops={"form_submissions": {"config": {"inbox_ids": [e.id for e in chunk]}}}
                ),
                tags={"leads/trigger": "form_webhook", "leads/events": str(len(chunk))},
            )
        )
        keys.update(dict.fromkeys((e.id for e in chunk), key))
    if forms:
        events = [e for e in events if e.source != "forms"]
    drive = [e for e in events if e.source == "drive"]
    if drive and drive_wakes_file_arrival:
        keys.update(dict.fromkeys((e.id for e in drive), WOKE_FILE_ARRIVAL))
    elif drive:
        key = _key("drive-changes", drive)
        requests.append(
            RunRequest(
                run_key=key,
                job_name=ingest_job,
                partition_key=today,
                tags={"leads/trigger": "drive_webhook", "leads/events": str(len(drive))},
            )
        )
        keys.update(dict.fromkeys((e.id for e in drive), key))
    rest = [e for e in events if e.source != "drive"]
    for start in range(0, len(rest), EVENTS_PER_RUN):
        chunk = rest[start : start + EVENTS_PER_RUN]
        key = _key("webhook-events", chunk)
        requests.append(
            RunRequest(
                run_key=key,
                job_name=process_job,
                run_config=RunConfig(
                    ops={"process_inbox_events": {"config": {"inbox_ids": [e.id for e in chunk]}}}
                ),
                tags={"leads/events": str(len(chunk))},
            )
        )
        keys.update(dict.fromkeys((e.id for e in chunk), key))
    return requests, keys


def build_webhook_inbox_sensor(
    process_job: Any,
    ingest_job: Any,
    minimum_interval_seconds: int = 15,
    drive_wakes_file_arrival: bool = False,
    form_job: Any | None = None,
):
    """`process_job` and `ingest_job` are job definitions (op job and asset job);
    `drive_wakes_file_arrival` (the Drive lead source): Drive notifications are left to the
    file-arrival sensor instead of requesting an ingest run of today; form submissions go to
    `form_job` (the agent's asset job) when given."""
    form_name = form_job.name if form_job is not None else None

    @sensor(
        name="webhook_inbox_sensor",
        jobs=[process_job, ingest_job, *([form_job] if form_job is not None else [])],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Pages through the webhook inbox from the last id seen and requests processing "
            "runs (HubSpot, email events), an ingest run (Drive change notifications) or "
            "prospecting agent runs (form submissions)."
        ),
    )
    def webhook_inbox_sensor(
        context: SensorEvaluationContext, ops_store: OpsStore
    ) -> SensorResult | SkipReason:
        started = time.monotonic()
        engine = ops_store.engine
        cursor = int(context.cursor or 0)
        today = arrival_partition_key(datetime.now(UTC).replace(tzinfo=None))
        requests: list[RunRequest] = []
        seen = 0
        retries = events_to_retry(engine, cursor, PAGE_SIZE)
        if retries:
            planned, keys = plan_runs(
                retries,
                process_job.name,
                ingest_job.name,
                today,
                drive_wakes_file_arrival=drive_wakes_file_arrival,
                form_job=form_name,
            )
            requests += planned
            mark_dispatched(engine, keys)
        while time.monotonic() - started < TICK_BUDGET_SECONDS:
            page = events_after(engine, cursor, PAGE_SIZE)
            if not page:
                break
            planned, keys = plan_runs(
                page,
                process_job.name,
                ingest_job.name,
                today,
                drive_wakes_file_arrival=drive_wakes_file_arrival,
                form_job=form_name,
            )
            requests += planned
            mark_dispatched(engine, keys)
            cursor = page[-1].id
            seen += len(page)
            if len(page) < PAGE_SIZE:
                break
        if not requests and seen == 0 and not retries:
            return SkipReason("webhook inbox: nothing new")
        context.log.info(
            f"webhook inbox: {seen} new and {len(retries)} retried event(s) -> "
            f"{len(requests)} run request(s); cursor at id {cursor}"
        )
        return SensorResult(run_requests=requests, cursor=str(cursor))

    return webhook_inbox_sensor
