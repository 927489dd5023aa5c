"""Monitoring's sensors.

- `monitoring_alerts_sensor`: new classified events (the store's classification ids, from
  the cursor) -> a `monitoring_alerts_job` run, when an instant user could want one of them.
- `monitoring_schedule_health`: every finished run of a monitoring schedule is counted in
  the store; at MONITORING_MAX_FAILURES failures in a row the schedule pauses itself, the
  audit log says why, the admin gets an email and the `monitoring_schedules_running` check
  fails at once in the UI.
"""

import json
from datetime import UTC, datetime

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from sqlalchemy import func, select

from pipeline.monitoring import health
from pipeline.store.tables import monitoring_classifications
from resources.email import EmailResource
from resources.monitoring import MonitoringResource
from resources.ops_store import OpsStore

CHECKED_ASSETS = ("monitoring_events", "digests")
CHECK_NAME = "monitoring_schedules_running"


def build_alerts_sensor(job):  # type: ignore[no-untyped-def]
    @sensor(
        name="monitoring_alerts_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="New classified events -> instant alerts (a monitoring_alerts_job run).",
    )
    def monitoring_alerts_sensor(
        context: SensorEvaluationContext, ops_store: OpsStore, monitoring: MonitoringResource
    ):
        engine = ops_store.engine
        cursor = int(context.cursor or 0)
        t = monitoring_classifications
        with engine.connect() as conn:
            latest = conn.execute(select(func.max(t.c.id))).scalar() or 0
            users = [p for p in monitoring.preferences().preferences() if p.frequency == "instant"]
            lowest = min((p.relevance_threshold for p in users), default=None)
            wanted = (
                conn.execute(
                    select(func.count()).where(t.c.id > cursor, t.c.relevance >= lowest)
                ).scalar()
                if lowest is not None
                else 0
            )
        if latest <= cursor:
            return SkipReason(f"no new classified events (last id {cursor})")
        if not users:
            return SensorResult(skip_reason="nobody has frequency: instant", cursor=str(latest))
        if not wanted:
            return SensorResult(
                skip_reason=f"{latest - cursor} new event(s), none above an instant threshold",
                cursor=str(latest),
            )
        return SensorResult(
            run_requests=[RunRequest(run_key=f"monitoring_alerts:{latest}")], cursor=str(latest)
        )

    return monitoring_alerts_sensor


def failure_reason(instance, run_id: str) -> str:  # type: ignore[no-untyped-def]
    """The first step failure's error (or the run failure's message)."""
    for kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
        records = instance.get_records_for_run(run_id, of_type=kind, limit=1).records
        if not records:
            continue
        event = records[0].event_log_entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            while error.cause is not None and error.cls_name in (
                "DagsterExecutionStepExecutionError",
                "DagsterUserCodeExecutionError",
            ):
                error = error.cause
            return f"{error.cls_name}: {error.message.strip()}"[:1000]
        if event.message:
            return event.message[:1000]
    return "the run failed"


def check_evaluation(asset: str, passed: bool, metadata: dict) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=AssetKey(asset),
        check_name=CHECK_NAME,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


@sensor(
    name="monitoring_schedule_health",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Counts failed runs of the monitoring schedules; pauses one after "
    "MONITORING_MAX_FAILURES in a row, with an audit entry, an email and a failed check.",
)
def monitoring_schedule_health(
    context: SensorEvaluationContext,
    ops_store: OpsStore,
    monitoring: MonitoringResource,
    email: EmailResource,
):
    from assets.monitoring_notify import notification_mailer

    engine = ops_store.engine
    cursor: dict[str, float] = json.loads(context.cursor or "{}")
    evaluations: list[AssetCheckEvaluation] = []
    counted = 0
    for name in health.SCHEDULES:
        after = datetime.fromtimestamp(cursor.get(name, 0.0), tz=UTC)
        records = context.instance.get_run_records(
            filters=RunsFilter(
                tags={"dagster/schedule_name": name},
                statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE],
                updated_after=after,
            ),
            order_by="update_timestamp",
            ascending=True,
            limit=200,
        )
        for record in records:
            run = record.dagster_run
            ok = run.status == DagsterRunStatus.SUCCESS
            error = None if ok else failure_reason(context.instance, run.run_id)
            state, paused_now = health.record_run(
                engine,
                name,
                run.run_id,
                ok=ok,
                error=error,
                max_failures=monitoring.max_failures,
                at=record.update_timestamp.astimezone(UTC),
            )
            counted += 1
            cursor[name] = max(cursor.get(name, 0.0), record.update_timestamp.timestamp())
            if paused_now:
                context.log.error(f"ALERT: {state.describe()}")
                mailer = notification_mailer(email, engine)
                try:
                    outcome = health.alert_admin(
                        mailer, monitoring.sender, monitoring.admin_email, state
                    )
                except Exception as exc:  # the pause stands even if the email cannot go
                    context.log.error(f"could not email the admin: {exc}")
                    outcome = None
                finally:
                    mailer.backend.close()
                if outcome is not None:
                    context.log.info(f"admin told ({monitoring.admin_email}): {outcome.status}")
                meta = {
                    "paused": MetadataValue.json({name: state.paused_reason}),
                    "what_to_do": f"python -m pipeline monitoring resume {name}",
                }
                evaluations += [check_evaluation(a, False, meta) for a in CHECKED_ASSETS]
    if not counted:
        return SkipReason("no finished monitoring schedule runs since the last look")
    return SensorResult(asset_events=evaluations, cursor=json.dumps(cursor))
