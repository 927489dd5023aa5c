"""The normalize stage: clean, typed leads, and the rows that could not become leads."""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    MetadataValue,
    Output,
    multi_asset,
)

from assets.metadata import bar_chart, counts, date_orders_table, preview, unique_ids_check
from assets.partitions import PARTITIONED, arrival_day
from pipeline.normalize.leads import REJECT_REASONS, normalize_leads
from pipeline.quality import validate_normalized_leads
from resources.settings import PipelineSettings

GROUP = "ingest"
# Above this share of nulls a matching field is close to useless for the dedupe stage.
MAX_NULL_RATE = 0.95
NULL_RATE_COLUMNS = ("email_canonical", "phone_e164", "full_name", "company", "domain", "country")


@multi_asset(
    group_name=GROUP,
    partitions_def=arrival_day,
    outs={
        "normalized_leads": AssetOut(
            metadata=PARTITIONED,
            kinds={"polars", "duckdb"},
            description=(
                "One row per usable raw row: email (valid flag, canonical form, role and "
                "free-mail flags), names split and case-fixed, company and matching key, "
                "registrable domain, E.164 phone and its extension, ISO country, seniority "
                "and department, created_at read in each file's day/month order (metadata: "
                "date_orders)."
            ),
        ),
        "rejected_rows": AssetOut(
            metadata=PARTITIONED,
            kinds={"polars", "duckdb"},
            description=(
                "Raw rows that cannot become a lead, each with a reason code and a message "
                "naming the file, row and fields; the original values are kept."
            ),
        ),
    },
    check_specs=[
        AssetCheckSpec(
            "normalized_lead_ids_unique",
            asset="normalized_leads",
            blocking=True,
            description="No lead appears twice.",
        ),
        AssetCheckSpec(
            "valid_email_share",
            asset="normalized_leads",
            description="Warn when fewer leads than configured carry a valid email.",
        ),
        AssetCheckSpec(
            "null_rates",
            asset="normalized_leads",
            description="Warn when a field the dedupe stage matches on is nearly always missing.",
        ),
        AssetCheckSpec(
            "great_expectations_suite",
            asset="normalized_leads",
            blocking=True,
            description=(
                "The Great Expectations suite in pipeline/quality.py (the same as CI), "
                "evaluated with polars; CI holds that evaluation to Great Expectations' own."
            ),
        ),
    ],
)
def normalized_leads(
    context: AssetExecutionContext, raw_leads: pl.DataFrame, settings: PipelineSettings
):
    result = normalize_leads(raw_leads, settings.default_country)
    leads, rejected = result.leads, result.rejected
    context.log.info(
        f"{raw_leads.height} raw rows -> {leads.height} leads, {rejected.height} rejected"
    )
    by_convention = result.date_orders.filter(pl.col("decided_by").str.contains("convention"))
    for file, column, order in by_convention.select("source_file", "column", "order").rows():
        context.log.info(
            f"{file} ({column}): no value decides the day/month order; read {order}, the "
            f"convention of LEADS_DEFAULT_COUNTRY={settings.default_country}"
        )
    yield Output(
        leads,
        output_name="normalized_leads",
        metadata={
            "rows": leads.height,
            "valid_emails": int(leads["email_valid"].sum()),
            "valid_phones": int(leads["phone_valid"].sum()),
            "by_country": counts(leads, "country"),
            # Numeric dates (05/09/2026): the day/month order each file was read in, and why.
            "date_orders": date_orders_table(result.date_orders),
            "dates_read_by_country_convention": MetadataValue.json(
                {
                    "default_country": settings.default_country,
                    "files": by_convention["source_file"].to_list(),
                }
            ),
            "preview": preview(
                leads.select(
                    "full_name", "email_canonical", "phone_e164", "company", "domain", "country"
                )
            ),
        },
    )
    yield Output(
        rejected,
        output_name="rejected_rows",
        metadata={
            "rows": rejected.height,
            "by_reason": counts(rejected, "reason"),
            "reasons_chart": bar_chart(
                {r: int((rejected["reason"] == r).sum()) for r in REJECT_REASONS}, "rows"
            ),
            "reasons": MetadataValue.json(REJECT_REASONS),
            "preview": preview(rejected.select("source_file", "row_number", "reason", "detail")),
        },
    )

    yield unique_ids_check("normalized_lead_ids_unique", "normalized_leads", leads, "lead_id")
    share = float(leads["email_valid"].mean() or 0.0) if leads.height else 1.0
    yield AssetCheckResult(
        check_name="valid_email_share",
        asset_key="normalized_leads",
        passed=share >= settings.min_valid_email_share,
        severity=AssetCheckSeverity.WARN,
        metadata={"share": share, "threshold": settings.min_valid_email_share},
    )
    null_rates = {
        c: round(float(leads[c].null_count()) / leads.height, 4) if leads.height else 0.0
        for c in NULL_RATE_COLUMNS
    }
    too_sparse = [c for c, v in null_rates.items() if v > MAX_NULL_RATE]
    yield AssetCheckResult(
        check_name="null_rates",
        asset_key="normalized_leads",
        passed=not too_sparse,
        severity=AssetCheckSeverity.WARN,
        metadata={
            **{f"null_rate_{c}": v for c, v in null_rates.items()},
            "above_threshold": MetadataValue.json(too_sparse),
        },
    )
    suite = validate_normalized_leads(leads, settings.min_valid_email_share)
    yield AssetCheckResult(
        check_name="great_expectations_suite",
        asset_key="normalized_leads",
        passed=suite.success,
        metadata={
            "expectations": len(suite.outcomes),
            "failed": MetadataValue.json(
                [f"{f.expectation}({f.column}): {f.observed}" for f in suite.failures]
            ),
        },
    )
