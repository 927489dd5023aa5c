"""Monitoring's schedules: `monitoring_refresh` (fetch, match, classify: MONITORING_REFRESH_CRON,
hourly by default) and `daily_digest` / `weekly_digest` (hourly: each run sends the digests of
the users whose local digest hour has come).

Each reads its row in the operational store before launching: a schedule that paused itself
after MONITORING_MAX_FAILURES failed runs skips with the reason until `python -m pipeline
monitoring resume NAME` (the `monitoring_schedule_health` sensor counts the failures).
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from assets.news_days import news_day, news_day_key
from pipeline.monitoring import health
from resources.ops_store import OpsStore

monitoring_refresh_job = define_asset_job(
    "monitoring_refresh_job",
    selection=AssetSelection.assets("monitored_accounts", "monitoring_events", "classified_events"),
    partitions_def=news_day,
    description="Fetch every source for a news day, dedupe, match to accounts, classify.",
)
monitoring_alerts_job = define_asset_job(
    "monitoring_alerts_job",
    selection=AssetSelection.assets("notifications", "email_logs"),
    description="Send instant alerts for newly classified events; refresh the email log.",
)
monitoring_digest_job = define_asset_job(
    "monitoring_digest_job",
    selection=AssetSelection.assets("digests", "email_logs"),
    description="Send the daily or weekly digests that are due; refresh the email log.",
)


def _paused(ops_store: OpsStore, name: str) -> SkipReason | None:
    state = health.state(ops_store.engine, name)
    return SkipReason(state.describe()) if state.paused else None


def build_schedules(refresh_cron: str) -> list:
    @schedule(
        name="monitoring_refresh",
        cron_schedule=refresh_cron,
        job=monitoring_refresh_job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Fetch, match and classify today's news (MONITORING_REFRESH_CRON); pauses "
        "itself after MONITORING_MAX_FAILURES failed runs.",
    )
    def monitoring_refresh(context: ScheduleEvaluationContext, ops_store: OpsStore):
        skip = _paused(ops_store, "monitoring_refresh")
        if skip is not None:
            return skip
        when = context.scheduled_execution_time
        return RunRequest(
            run_key=f"monitoring_refresh:{when.isoformat()}",
            partition_key=news_day_key(when),
        )

    def digest_schedule(frequency: str):
        name = f"{frequency}_digest"

        @schedule(
            name=name,
            cron_schedule="0 * * * *",
            job=monitoring_digest_job,
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.RUNNING,
            description=f"Every hour: the {frequency} digests of the users whose local digest "
            "hour has come; pauses itself after MONITORING_MAX_FAILURES failed runs.",
        )
        def _digest(context: ScheduleEvaluationContext, ops_store: OpsStore):
            skip = _paused(ops_store, name)
            if skip is not None:
                return skip
            when = context.scheduled_execution_time
            return RunRequest(
                run_key=f"{name}:{when.isoformat()}",
                run_config={
                    "ops": {"digests": {"config": {"frequency": frequency, "at": when.isoformat()}}}
                },
            )

        return _digest

    return [monitoring_refresh, digest_schedule("daily"), digest_schedule("weekly")]
