"""Group `monitoring`, the collecting half: `monitored_accounts` -> `monitoring_events` ->
`classified_events` (news-day partitions, backfillable from the UI).

The engine (`pipeline/monitoring`) does the work; the operational store holds the items,
events and classifications (dedupe across days and sources, the alert sensor's cursor), and
each partition's table here is the store's view of that day.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AutomationCondition,
    MetadataValue,
    Output,
    asset,
)

from assets.metadata import bar_chart, counts, preview
from assets.news_days import PARTITIONED, news_day
from pipeline.monitoring.accounts import monitored_accounts as build_accounts
from pipeline.monitoring.names import build_index
from pipeline.monitoring.refresh import classify_day, refresh_day
from pipeline.monitoring.store import EVENT_COLUMNS, events_of_day
from resources.llm import LlmResource
from resources.monitoring import MonitoringResource
from resources.ops_store import OpsStore


def _day(context: AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _with_day(frame: pl.DataFrame) -> pl.DataFrame:
    """The partition column as the IO manager replaces it (a timestamp at the day's start)."""
    return frame.with_columns(pl.col("news_day").cast(pl.Datetime("us")))


@asset(
    group_name="monitoring",
    kinds={"polars"},
    automation_condition=AutomationCondition.eager(),
    description=(
        "Companies to watch: one per company domain of the CRM-synced golden leads, plus "
        "MONITORING_ACCOUNTS' extra accounts and names, minus its exclusions; with aliases, "
        "subsidiaries, context words, the owner (and where it came from) and the names that "
        "need capitals and context to count (common words such as 'Apple')."
    ),
)
def monitored_accounts(
    context: AssetExecutionContext,
    scored_leads: pl.DataFrame,
    crm_contacts: pl.DataFrame,
    monitoring: MonitoringResource,
    ops_store: OpsStore,
):
    config = monitoring.accounts_file()
    accounts, removed = build_accounts(scored_leads, crm_contacts, config, ops_store.engine)
    index = build_index(accounts, config.matching)
    ambiguous = index.ambiguous
    return Output(
        accounts,
        metadata={
            "by_source": counts(accounts, "source"),
            "by_owner": counts(accounts.with_columns(pl.col("owner").fill_null("(none)")), "owner"),
            "owner_from": counts(
                accounts.with_columns(pl.col("owner_from").fill_null("(none)")), "owner_from"
            ),
            "without_owner": MetadataValue.int(accounts.filter(pl.col("owner").is_null()).height),
            "excluded": MetadataValue.json(removed),
            "patterns": MetadataValue.int(index.lower.height),
            "names_needing_context": preview(ambiguous, rows=20),
            "preview": preview(
                accounts.select("account_key", "name", "aliases", "owner", "country", "source")
            ),
        },
    )


@asset(
    group_name="monitoring",
    kinds={"polars"},
    partitions_def=news_day,
    metadata=PARTITIONED,
    check_specs=[
        AssetCheckSpec(
            "sources_healthy",
            asset="monitoring_events",
            description="Every enabled source answered (a failed, refused or out-of-quota "
            "source warns).",
        )
    ],
    description=(
        "News items about the monitored accounts, one row per item and account: from the "
        "sources in MONITORING_SOURCES (feed folder, RSS/Atom, NewsAPI-style, Google "
        "Programmable Search), deduplicated across sources and days (canonical URL, content "
        "hash), matched by name, alias, subsidiary, domain or link, with what the match rests "
        "on. The run for today collects anything new; a past day's run (backfill) the items "
        "published that day. Raw answers are kept under LEADS_DATA_DIR/monitoring/raw."
    ),
)
def monitoring_events(
    context: AssetExecutionContext,
    monitored_accounts: pl.DataFrame,
    monitoring: MonitoringResource,
    ops_store: OpsStore,
):
    engine = ops_store.engine
    day = _day(context)
    now = datetime.now(UTC)
    refreshed = refresh_day(
        engine,
        monitored_accounts,
        monitoring.accounts_file(),
        monitoring.sources(),
        monitoring.provider_keys(),
        day=day,
        now=now,
        data_dir=Path(monitoring.data_dir),
        run_id=context.run_id,
        progress=context.log.info,
    )
    fetch, collected = refreshed.fetch, refreshed.collected
    for report in fetch.failed:
        context.log.warning(
            f"source {report.name}: {report.status}: {'; '.join(report.errors[:2])}"
        )
    if fetch.all_failed:
        problems = "; ".join(
            f"{r.name}: {r.status}: {' | '.join(r.errors[:1])}" for r in fetch.failed
        )
        raise RuntimeError(f"every monitoring source failed for {day}: {problems}")
    events = events_of_day(engine, day)
    shares = fetch.shares()
    yield Output(
        _with_day(events.select(list(EVENT_COLUMNS))),
        metadata={
            "live": MetadataValue.bool(day == now.date()),
            "new_items": MetadataValue.int(collected.items_new),
            "new_events": MetadataValue.int(collected.events_new),
            "unmatched_items": MetadataValue.int(collected.unmatched),
            "dedupe": MetadataValue.json(collected.dedupe.as_dict()),
            "sources": MetadataValue.json(shares),
            "items_by_source": bar_chart({k: v["items"] for k, v in shares.items()}, "items"),
            "by_account": counts(events, "account_key"),
            "matched_by": counts(events, "matched_by"),
            "preview": preview(
                events.select(
                    "account_key", "title", "matched_by", "match_text", "source", "published_at"
                )
            ),
        },
    )
    bad = {
        r.name: {"status": r.status, "errors": r.errors[:3], "share": shares[r.name]["share"]}
        for r in fetch.failed
    }
    partial = {r.name: r.errors[:3] for r in fetch.reports if r.status == "partial"}
    yield AssetCheckResult(
        check_name="sources_healthy",
        passed=not bad,
        severity=AssetCheckSeverity.WARN,
        metadata={"failed": MetadataValue.json(bad), "partial": MetadataValue.json(partial)},
    )


@asset(
    group_name="monitoring",
    kinds={"polars"},
    partitions_def=news_day,
    metadata=PARTITIONED,
    deps=["monitoring_events"],
    check_specs=[
        AssetCheckSpec(
            "every_event_classified",
            asset="classified_events",
            description="Every event of the day has a classification (an LLM budget spent "
            "leaves some for the next run).",
        )
    ],
    description=(
        "The day's events with relevance (0..1), category (funding, leadership_change, "
        "m_and_a, product_launch, layoffs, legal, partnership, earnings, other) and a one-line "
        "reason. MONITORING_CLASSIFIER: rules (offline keyword/pattern rules, MONITORING_RULES) "
        "or llm (the project's LLM resource, one cached answer per content). Only events "
        "without a classification are classified."
    ),
)
def classified_events(
    context: AssetExecutionContext,
    monitored_accounts: pl.DataFrame,
    monitoring: MonitoringResource,
    ops_store: OpsStore,
    llm: LlmResource,
):
    engine = ops_store.engine
    day = _day(context)
    classifier = monitoring.make_classifier(engine, llm, context.run_id)
    result, saved = classify_day(engine, day, monitored_accounts, classifier, datetime.now(UTC))
    for note in result.notes:
        context.log.warning(note)
    if result.failed and not saved:
        raise RuntimeError(
            f"the {classifier.name} classifier failed on every event of {day}: "
            + "; ".join(result.notes[:2])
        )
    events = events_of_day(engine, day)
    unclassified = events.filter(pl.col("classification_id").is_null()).height
    yield Output(
        _with_day(events),
        metadata={
            "classifier": classifier.name,
            "model": classifier.model or "",
            "classified_now": MetadataValue.int(saved),
            "left_for_next_run": MetadataValue.int(unclassified),
            "by_category": counts(events.filter(pl.col("category").is_not_null()), "category"),
            "relevance_bins": bar_chart(_bins(events), "events"),
            "preview": preview(
                events.select("account_key", "title", "relevance", "category", "reason").sort(
                    "relevance", descending=True, nulls_last=True
                )
            ),
        },
    )
    yield AssetCheckResult(
        check_name="every_event_classified",
        passed=unclassified == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"unclassified": unclassified, "notes": MetadataValue.json(result.notes[:5])},
    )


def _bins(events: pl.DataFrame) -> dict[str, int]:
    """Events per tenth of relevance (0.0-0.1 ... 0.9-1.0)."""
    out = {f"{b / 10:.1f}-{(b + 1) / 10:.1f}": 0 for b in range(10)}
    binned = (
        events.filter(pl.col("relevance").is_not_null())
        .select((pl.col("relevance") * 10).floor().clip(0, 9).cast(pl.Int32).alias("bin"))
        .group_by("bin")
        .len()
    )
    for b, n in binned.iter_rows():
        out[f"{b / 10:.1f}-{(b + 1) / 10:.1f}"] = n
    return out
