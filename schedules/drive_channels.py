"""Renew Drive push channels before they expire (only when one is due: otherwise a skip)."""

from __future__ import annotations

from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from pipeline.drive.channels import due_for_renewal
from resources.drive_channels import DriveChannelSettings
from resources.ops_store import OpsStore


def build_drive_channel_schedule(job):  # type: ignore[no-untyped-def]
    """Every hour: a run of `job` (the drive_watch_channels asset) when a channel expires
    within the renewal window; the run key names the channels, so one renewal per set."""

    @schedule(
        name="drive_channel_renewal",
        cron_schedule="17 * * * *",
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Replaces Drive push channels that expire within the renewal window.",
    )
    def drive_channel_renewal(
        context: ScheduleEvaluationContext,
        ops_store: OpsStore,
        drive_channel_settings: DriveChannelSettings,
    ) -> RunRequest | SkipReason:
        within = timedelta(hours=drive_channel_settings.renew_within_hours)
        due = due_for_renewal(ops_store.engine, within)
        if not due:
            return SkipReason(f"no Drive channel expires within {within}")
        ids = ",".join(sorted(c.channel_id for c in due))
        return RunRequest(run_key=f"renew:{ids}", tags={"leads/drive_channels": str(len(due))})

    return drive_channel_renewal
