"""Watch the lead source and request one ingest run per arrival day with new content.

State lives in the cursor: the backend's own opaque position (a folder's last (change time,
path) looked at; Drive's change-feed page token), so a tick only looks at what changed since,
and pages through a large backlog across ticks. A file whose content is already in the landing
zone (an identical re-upload, a `touch`, a renamed Drive file) is skipped; new content under
the same name gets a new run key, because the key is built from content identities (a folder
file's sha256; a Drive file's md5Checksum and size, or a Sheet's version).

A backend with push notifications (Drive) is read when one arrived since the last read, or
every DRIVE_POLL_SECONDS without one; the cursor remembers the newest notification seen.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.partitions import arrival_partition_key
from resources.lead_source import LeadSource
from resources.settings import PipelineSettings

PAGE_SIZE = 5_000
# Stop well before Dagster's 60 s tick limit; the cursor resumes where we stopped.
TICK_BUDGET_SECONDS = 20.0


@dataclass(frozen=True)
class ArrivalCursor:
    backend: str
    position: str | None = None  # the backend's own cursor
    wake_mark: int = 0  # newest push notification seen
    read_at: float | None = None  # when the source was last read (unix time)

    def encode(self) -> str:
        return json.dumps({"v": 2, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None, backend: str) -> ArrivalCursor:
        """The cursor for `backend`: a cursor another backend left starts afresh; the first
        format (a folder's change_ns and file_id) is read as the folder's position."""
        if not raw:
            return cls(backend)
        data = json.loads(raw)
        if "change_ns" in data:
            return cls("folder", raw) if backend == "folder" else cls(backend)
        if data.get("backend") != backend:
            return cls(backend)
        return cls(
            backend, data.get("position"), int(data.get("wake_mark", 0)), data.get("read_at")
        )


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
            "(run keys carry the content identities); Drive is read from its change feed, "
            "woken by push notifications or polled."
        ),
    )
    def file_arrival_sensor(
        context: SensorEvaluationContext, lead_source: LeadSource, settings: PipelineSettings
    ) -> SensorResult | SkipReason:
        started = time.monotonic()
        cursor = ArrivalCursor.decode(context.cursor, lead_source.kind)
        poll = lead_source.poll(cursor.read_at, cursor.wake_mark)
        if not poll.due:
            return SkipReason(poll.why)
        deadline = started + TICK_BUDGET_SECONDS
        page = lead_source.read_changes(cursor.position, page_size, deadline)
        position, more = page.cursor, page.more or bool(page.interrupted)
        new_by_day: dict[str, list[tuple[str, str]]] = defaultdict(list)
        looked_at = 0
        for i, file in enumerate(page.files):
            if time.monotonic() > deadline:
                position, more = page.resume_at[i], True
                break
            identity = lead_source.content_identity(file, settings.landing_dir)
            looked_at += 1
            if not identity.landed:
                new_by_day[arrival_partition_key(file.arrived_at)].append(
                    (file.file_id, identity.key)
                )
        run_requests = []
        for day, files in sorted(new_by_day.items()):
            fingerprint = hashlib.sha256(
                "\n".join(f"{fid}:{key}" for fid, key in sorted(files)).encode()
            ).hexdigest()[:20]
            run_requests.append(
                RunRequest(
                    run_key=f"{day}:{fingerprint}",
                    partition_key=day,
                    tags={"leads/new_files": str(len(files)), "leads/source": lead_source.kind},
                )
            )
        report = _report(lead_source.describe(), looked_at, new_by_day, page, more, poll.why)
        context.log.info(report)
        read_at = time.time() if lead_source.kind != "folder" else None
        new_cursor = ArrivalCursor(lead_source.kind, position, poll.wake_mark, read_at)
        if not run_requests and position == cursor.position and read_at is None:
            return SkipReason(report if page.files else f"no changes in {lead_source.describe()}")
        return SensorResult(
            run_requests=run_requests,
            cursor=new_cursor.encode(),
            skip_reason=None if run_requests else report,
        )

    return file_arrival_sensor


def _report(where: str, looked_at: int, new_by_day: dict, page, more: bool, why: str) -> str:
    """One line for the tick's log: what was looked at, what is new, removed and ignored."""
    new = sum(map(len, new_by_day.values()))
    parts = [f"{where} ({why}): looked at {looked_at} changed file(s); {new} with new content"]
    parts[0] += f" on {len(new_by_day)} day(s)" if new_by_day else ""
    if page.removed:
        shown = ", ".join(page.removed[:5]) + (" ..." if len(page.removed) > 5 else "")
        parts.append(f"{len(page.removed)} removed ({shown})")
    if page.ignored:
        parts.append(
            "ignored: " + ", ".join(f"{n} {why}" for why, n in sorted(page.ignored.items()))
        )
    if page.api_calls:
        parts.append(f"{page.api_calls} API call(s)")
    if page.interrupted:
        parts.append(f"stopped early: {page.interrupted}")
    elif more:
        parts.append("more to page through")
    return "; ".join(parts)
