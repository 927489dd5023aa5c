"""The `enrich` group's first stage: golden leads plus what the enrichment providers know.

Paid lookups go through the `enrichment_api` concurrency pool, so concurrent runs share the
providers' rate limits instead of tripping them.
"""

import json

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from assets.metadata import counts, preview
from resources.enrichment import EnrichmentProvider
from resources.ops_store import OpsStore

ENRICHMENT_POOL = "enrichment_api"


@asset(
    group_name="enrich",
    kinds={"polars", "duckdb"},
    pool=ENRICHMENT_POOL,
    description=(
        "Golden leads with email quality flags (free-mail, disposable, role, deliverability), "
        "company, website, country, firmographics and found emails from the provider "
        "waterfall; `enrichment_provenance` says which provider supplied each field and when, "
        "`enrichment_status` what happened to the row (enriched, not found, not enriched: "
        "budget / provider error)."
    ),
    check_specs=[
        AssetCheckSpec(
            "providers_healthy",
            asset="enriched_leads",
            description="No provider failed, tripped its circuit breaker or refused its key.",
        )
    ],
)
def enriched_leads(
    context: AssetExecutionContext,
    golden_leads: pl.DataFrame,
    enrichment: EnrichmentProvider,
    ops_store: OpsStore,
):
    context.log.info(f"enriching {golden_leads.height:,} golden leads with {enrichment.describe()}")
    frame, report = enrichment.enrich(golden_leads, ops_store.engine, context.log.info)
    totals = report.totals()
    providers = {name: stats.as_dict() for name, stats in report.providers.items()}
    context.log.info(f"enrichment done: {totals}; per provider: {json.dumps(providers)}")
    if report.auth_failures:
        raise Failure(
            description="enrichment provider refused its key: " + "; ".join(report.auth_failures),
            metadata={"providers": MetadataValue.json(providers)},
        )
    yield Output(
        frame,
        metadata={
            "leads": frame.height,
            **{k: MetadataValue.int(v) for k, v in totals.items()},
            "status": counts(frame, "enrichment_status"),
            "providers": MetadataValue.json(providers),
            "http": MetadataValue.json(report.http),
            "preview": preview(
                frame.select(
                    "email",
                    "company",
                    "industry",
                    "employee_range",
                    "country",
                    "email_deliverability",
                    "enrichment_status",
                )
            ),
        },
    )
    failed = totals["failed"]
    yield AssetCheckResult(
        check_name="providers_healthy",
        passed=failed == 0 and not report.circuit_opened,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "failed_lookups": failed,
            "circuit_opened": MetadataValue.json(report.circuit_opened),
        },
        description=None if failed == 0 else f"{failed} lookups failed; see the run log",
    )
