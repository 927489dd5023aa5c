"""Watch the lead source and request one ingest run per arrival day with new content.

State lives in the cursor: the (change time, file id) of the last file looked at, so a tick
only hashes files changed since then and pages through a large backlog across ticks. A file
whose content is already in the landing zone (an identical re-upload, a `touch`) is skipped;
new content on the same path gets a new run key, because the key is built from content hashes.
"""

import hashlib
import json
import time
from collections import defaultdict

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.partitions import arrival_partition_key
from pipeline.landing import is_landed
from resources.lead_source import LeadSource
from resources.settings import PipelineSettings

PAGE_SIZE = 5_000
# Stop hashing well before Dagster's 60 s tick limit; the cursor resumes where we stopped.
TICK_BUDGET_SECONDS = 20.0


def _decode_cursor(raw: str | None) -> tuple[int, str] | None:
    if not raw:
        return None
    data = json.loads(raw)
    return int(data["change_ns"]), str(data["file_id"])


def _encode_cursor(position: tuple[int, str]) -> str:
    return json.dumps({"change_ns": position[0], "file_id": position[1]})


def build_file_arrival_sensor(
    job_name: str, minimum_interval_seconds: int = 30, page_size: int = PAGE_SIZE
):
    @sensor(
        name="file_arrival_sensor",
        job_name=job_name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Requests an ingest run for each arrival day that has files with new content "
            "(run keys carry the content hashes)."
        ),
    )
    def file_arrival_sensor(
        context: SensorEvaluationContext, lead_source: LeadSource, settings: PipelineSettings
    ) -> SensorResult | SkipReason:
        started = time.monotonic()
        cursor = _decode_cursor(context.cursor)
        changed, more = lead_source.changed_since(cursor, page_size)
        if not changed:
            return SkipReason(f"no changes in {lead_source.describe()}")
        new_by_day: dict[str, list[tuple[str, str]]] = defaultdict(list)
        position = cursor
        for file in changed:
            if time.monotonic() - started > TICK_BUDGET_SECONDS:
                more = True
                break
            digest = lead_source.content_hash(file)
            position = (file.change_ns, file.file_id)
            if not is_landed(settings.landing_dir, digest):
                new_by_day[arrival_partition_key(file.arrived_at)].append((file.file_id, digest))
        run_requests = []
        for day, files in sorted(new_by_day.items()):
            fingerprint = hashlib.sha256(
                "\n".join(f"{fid}:{sha}" for fid, sha in sorted(files)).encode()
            ).hexdigest()[:20]
            run_requests.append(
                RunRequest(
                    run_key=f"{day}:{fingerprint}",
                    partition_key=day,
                    tags={"leads/new_files": str(len(files))},
                )
            )
        context.log.info(
            f"looked at {len(changed)} changed file(s); {sum(map(len, new_by_day.values()))} with "
            f"new content on {len(new_by_day)} day(s){'; more to page through' if more else ''}"
        )
        assert position is not None
        return SensorResult(run_requests=run_requests, cursor=_encode_cursor(position))

    return file_arrival_sensor
