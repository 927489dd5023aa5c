"""Group `monitoring`, the telling half: `notifications` (instant alerts, requested by the
`monitoring_alerts_sensor` when new events are classified), `digests` (daily and weekly, from
the `daily_digest` and `weekly_digest` schedules, at each user's local morning) and
`email_logs` (every monitoring email with its delivery status).

The schedules' health is a check on `monitoring_events` and on `digests`: it fails while a
monitoring schedule has paused itself (the sensor that pauses it also reports the failed
check at once, without waiting for a run).
"""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Config,
    MetadataValue,
    Output,
    asset,
    asset_check,
)
from pydantic import Field
from sqlalchemy import Engine

from assets.metadata import counts, preview
from pipeline.email.mailer import Mailer
from pipeline.monitoring import health
from pipeline.monitoring.email_logs import email_logs as build_email_logs
from pipeline.monitoring.notify import Notifier
from pipeline.monitoring.store import digests_table, notifications_table
from resources.email import EmailResource
from resources.monitoring import MonitoringResource
from resources.ops_store import OpsStore


def notification_mailer(email: EmailResource, engine: Engine) -> Mailer:
    """Digests and alerts are subscribed notifications: sent whatever EMAIL_SEND_MODE says
    for outreach (the kill switch and the suppression list still hold)."""
    return Mailer(engine, email.settings().email_backend(engine), sending_allowed=True)


def _notifier(
    context: AssetExecutionContext,
    accounts: pl.DataFrame,
    monitoring: MonitoringResource,
    ops_store: OpsStore,
    email: EmailResource,
) -> Notifier:
    engine = ops_store.engine
    return Notifier(
        engine,
        notification_mailer(email, engine),
        email.links(engine),
        monitoring.sender,
        accounts,
        monitoring.preferences().preferences(),
        progress=context.log.info,
    )


@asset(
    group_name="monitoring",
    kinds={"email", "polars"},
    deps=["classified_events"],
    description=(
        "Instant alerts: each user whose frequency is instant gets one email per run with the "
        "new classified events above their relevance threshold, in their categories, about "
        "their accounts (NOTIFY_PREFERENCES), published within alert_max_age_hours; one row "
        "per user and event, never sent twice."
    ),
)
def notifications(
    context: AssetExecutionContext,
    monitored_accounts: pl.DataFrame,
    monitoring: MonitoringResource,
    ops_store: OpsStore,
    email: EmailResource,
):
    notifier = _notifier(context, monitored_accounts, monitoring, ops_store, email)
    try:
        report = notifier.instant()
    finally:
        notifier.mailer.backend.close()
    table = notifications_table(ops_store.engine)
    return Output(
        table,
        metadata={
            "alerts_due": MetadataValue.int(report.due),
            "outcomes": MetadataValue.json(report.sent),
            "sent_now": MetadataValue.json(report.details),
            "by_user": counts(table, "user_email"),
            "preview": preview(table.sort("notification_id", descending=True)),
        },
    )


class DigestConfig(Config):
    frequency: str = Field(default="daily", description="daily | weekly")
    at: str | None = Field(
        default=None, description="Act as if it were this time (ISO 8601, UTC if no zone)."
    )


def parse_at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@asset(
    group_name="monitoring",
    kinds={"email", "polars"},
    deps=["classified_events"],
    description=(
        "Daily and weekly digests: at each user's digest hour (their time zone), the events "
        "classified since their previous digest that pass their filters, as HTML and text; one "
        "per user and period (a local date, an ISO week), never two; empty ones are recorded "
        "and not sent unless the user asked (send_empty)."
    ),
)
def digests(
    context: AssetExecutionContext,
    config: DigestConfig,
    monitored_accounts: pl.DataFrame,
    monitoring: MonitoringResource,
    ops_store: OpsStore,
    email: EmailResource,
):
    if config.frequency not in ("daily", "weekly"):
        raise ValueError(f"frequency must be daily or weekly, not {config.frequency!r}")
    at = parse_at(config.at)
    notifier = _notifier(context, monitored_accounts, monitoring, ops_store, email)
    try:
        report = notifier.digests(config.frequency, at)
    finally:
        notifier.mailer.backend.close()
    table = digests_table(ops_store.engine)
    return Output(
        table,
        metadata={
            "frequency": config.frequency,
            "as_of": at.isoformat(),
            "due": MetadataValue.int(report.due),
            "empty_not_sent": MetadataValue.int(report.empty),
            "already_done": MetadataValue.int(report.already),
            "outcomes": MetadataValue.json(report.sent),
            "this_run": MetadataValue.json(report.details),
            "preview": preview(table.sort("digest_id", descending=True)),
        },
    )


@asset(
    group_name="monitoring",
    kinds={"email", "polars"},
    deps=["notifications", "digests"],
    description=(
        "Every monitoring email (alerts, digests, admin notices) with its status in the email "
        "ledger and its delivery: delivered, bounced or complained (from /webhooks/email-events)."
    ),
)
def email_logs(ops_store: OpsStore):
    table = build_email_logs(ops_store.engine)
    return Output(
        table,
        metadata={
            "by_status": counts(table, "status"),
            "by_delivery": counts(table, "delivery"),
            "by_kind": counts(table, "kind"),
            "preview": preview(table.sort("email_id", descending=True)),
        },
    )


def schedules_check(engine: Engine) -> AssetCheckResult:
    states = health.states(engine)
    paused = {s.name: s.paused_reason for s in states if s.paused}
    return AssetCheckResult(
        passed=not paused,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "paused": MetadataValue.json(paused),
            "failures_in_a_row": MetadataValue.json(
                {s.name: s.consecutive_failures for s in states}
            ),
            "what_to_do": "fix the cause, then `python -m pipeline monitoring resume NAME`",
        },
    )


CHECK_NAME = "monitoring_schedules_running"


def _schedules_running(asset: str):  # type: ignore[no-untyped-def]
    @asset_check(
        asset=asset,
        name=CHECK_NAME,
        description="No monitoring schedule paused itself (MONITORING_MAX_FAILURES failed runs).",
    )
    def _check(ops_store: OpsStore) -> AssetCheckResult:
        return schedules_check(ops_store.engine)

    return _check


events_schedules_running = _schedules_running("monitoring_events")
digests_schedules_running = _schedules_running("digests")
