"""The `webhooks` group: processing inbox events, and what arrived per day.

`process_webhook_events` is an op job (processing events is an action, not a dataset); the
`webhook_events` asset is the daily report a data engineer reads in the UI.
"""

import polars as pl
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    Config,
    MetadataValue,
    OpExecutionContext,
    Output,
    asset,
    job,
    op,
)
from sqlalchemy import func, select

from assets.metadata import preview
from pipeline.store.inbox import events_by_id, mark_processed, receipt_counts, record_failure
from pipeline.store.tables import webhook_inbox
from pipeline.webhooks.handlers import HANDLERS, EventRejected
from resources.ops_store import OpsStore

REJECTED_OUTCOMES = ("bad_signature", "malformed", "too_large", "disabled")


class InboxEventsConfig(Config):
    inbox_ids: list[int]


@op(description="Process the given inbox events; failures are retried, then dead-lettered.")
def process_inbox_events(
    context: OpExecutionContext, config: InboxEventsConfig, ops_store: OpsStore
) -> None:
    engine = ops_store.engine
    done: list[int] = []
    failed = dead = skipped = 0
    for event in events_by_id(engine, config.inbox_ids):
        if event.status in {"processed", "dead"}:
            skipped += 1
            continue
        handler = HANDLERS.get(event.source)
        try:
            if handler is None:
                raise EventRejected(f"inbox id {event.id}: no handler for source {event.source!r}")
            context.log.debug(handler(engine, event))
        except Exception as exc:
            status = record_failure(
                engine, event.id, f"{type(exc).__name__}: {exc}", ops_store.max_attempts
            )
            failed += 1
            dead += status == "dead"
            context.log.warning(f"inbox id {event.id} ({event.event_type}) failed: {exc}")
            continue
        done.append(event.id)
    mark_processed(engine, done)
    context.log.info(
        f"processed {len(done)}, failed {failed} (dead-lettered {dead}), "
        f"already handled {skipped} of {len(config.inbox_ids)} event(s)"
    )


@job(description="Process webhook inbox events handed over by `webhook_inbox_sensor`.")
def process_webhook_events() -> None:
    process_inbox_events()


def daily_webhook_report(receipts: list[dict], statuses: list[dict]) -> pl.DataFrame:
    """Per day and source: accepted, duplicate, rejected, dead-lettered, and where the
    accepted events are now (pending, processed, ...)."""
    schema = {"day": pl.Date, "source": pl.String, "outcome": pl.String, "count": pl.Int64}
    frame = pl.DataFrame(receipts, schema=schema) if receipts else pl.DataFrame(schema=schema)
    wide = (
        frame.with_columns(
            pl.when(pl.col("outcome").is_in(REJECTED_OUTCOMES))
            .then(pl.lit("rejected"))
            .otherwise(pl.col("outcome"))
            .alias("outcome")
        )
        .group_by("day", "source")
        .agg(
            *[
                pl.col("count").filter(pl.col("outcome") == name).sum().alias(name)
                for name in ("accepted", "duplicate", "rejected", "dead_lettered")
            ]
        )
    )
    status_schema = {"day": pl.Date, "source": pl.String, "status": pl.String, "n": pl.Int64}
    status_frame = (
        pl.DataFrame(statuses, schema=status_schema)
        if statuses
        else pl.DataFrame(schema=status_schema)
    )
    by_status = (
        status_frame.pivot(
            on="status", index=["day", "source"], values="n", aggregate_function="sum"
        )
        if statuses
        else pl.DataFrame(schema={"day": pl.Date, "source": pl.String})
    )
    for status in ("pending", "dispatched", "retry", "processed", "dead"):
        if status not in by_status.columns:
            by_status = by_status.with_columns(pl.lit(0, pl.Int64).alias(status))
    return (
        wide.join(by_status, on=["day", "source"], how="full", coalesce=True)
        .fill_null(0)
        .select(
            "day",
            "source",
            "accepted",
            "duplicate",
            "rejected",
            "dead_lettered",
            pl.col("pending").alias("now_pending"),
            (pl.col("dispatched") + pl.col("retry")).alias("now_in_flight"),
            pl.col("processed").alias("now_processed"),
            pl.col("dead").alias("now_dead"),
        )
        .sort("day", "source")
    )


@asset(
    group_name="webhooks",
    description=(
        "What the webhook receiver took in per day and source: accepted, duplicate, rejected "
        "(bad signature, malformed, too large, endpoint disabled) and dead-lettered events, "
        "and where the accepted ones are now. Refreshed hourly."
    ),
    automation_condition=AutomationCondition.on_cron("0 * * * *"),
)
def webhook_events(context: AssetExecutionContext, ops_store: OpsStore) -> Output[pl.DataFrame]:
    engine = ops_store.engine
    t = webhook_inbox
    day = func.date(t.c.received_at)
    with engine.connect() as conn:
        statuses = [
            {"day": r.day, "source": r.source, "status": r.status, "n": r.n}
            for r in conn.execute(
                select(day.label("day"), t.c.source, t.c.status, func.count().label("n")).group_by(
                    day, t.c.source, t.c.status
                )
            )
        ]
    for row in statuses:  # SQLite's date() gives text, Postgres a date
        if isinstance(row["day"], str):
            row["day"] = pl.Series([row["day"]]).str.to_date()[0]
    report = daily_webhook_report(receipt_counts(engine), statuses)
    totals = report.select(pl.exclude("day", "source")).sum().row(0, named=True)
    context.log.info(f"webhook events: {totals}")
    return Output(
        report,
        metadata={
            **{k: MetadataValue.int(int(v or 0)) for k, v in totals.items()},
            "days": MetadataValue.int(report["day"].n_unique()),
            "last_30_rows": preview(report.tail(30), rows=30),
        },
    )
