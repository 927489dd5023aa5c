"""The `scored_leads` asset: a 0-100 score, a grade and plain-words reasons per golden lead.

Scoring itself is `pipeline.scoring` (no Dagster); this module adds what the UI needs: grade
counts and the score distribution as metadata, and checks that warn when the distribution
drifts from the previous materialization or when many leads carry nothing to score on.
"""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Config,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from assets.metadata import bar_chart, preview
from pipeline.scoring import score_leads
from pipeline.scoring.drift import grade_counts, psi, score_bins
from resources.scoring import IcpSource

GROUP = "enrich"
ASSET = "scored_leads"
PREVIEW_COLUMNS = ("entity_id", "email", "company", "lead_score", "lead_grade", "score_reasons")


class ScoringConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="ISO date/time the recency rules count from (default: the run's start, UTC).",
    )
    drift_psi_threshold: float = Field(
        default=0.2,
        description="Warn when the score distribution's PSI against the last run exceeds this "
        "(below 0.1 is stable, above 0.25 a major shift).",
    )
    max_no_input_share: float = Field(
        default=0.05, description="Warn when more than this share of leads has nothing to score."
    )


def _previous(context: AssetExecutionContext) -> tuple[dict[str, int] | None, str | None]:
    """Score bins and ICP hash of the last materialization (read before this one is logged)."""
    event = context.instance.get_latest_materialization_event(AssetKey(ASSET))
    if event is None or event.asset_materialization is None:
        return None, None
    metadata = event.asset_materialization.metadata
    bins = metadata.get("score_bins")
    sha = metadata.get("icp_sha256")
    return (
        dict(bins.value) if bins is not None else None,
        str(sha.value) if sha is not None else None,
    )


def _as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@asset(
    name=ASSET,
    group_name=GROUP,
    kinds={"polars", "duckdb"},
    description=(
        "Every enriched lead with lead_score (0-100), lead_grade and score_reasons (the top "
        "rule effects in plain words, biggest first), from the ICP YAML (LEADS_ICP)."
    ),
    check_specs=[
        AssetCheckSpec(
            "score_distribution_drift",
            asset=ASSET,
            description="Warn when the score distribution (PSI over 10-point bins) moved more "
            "than the configured threshold since the previous materialization.",
        ),
        AssetCheckSpec(
            "leads_without_score_inputs",
            asset=ASSET,
            description="Warn when too many leads have no value for any rule (scored on the "
            "base points alone).",
        ),
    ],
)
def scored_leads(
    context: AssetExecutionContext,
    config: ScoringConfig,
    enriched_leads: pl.DataFrame,
    icp: IcpSource,
):
    path = icp.resolved_path()
    rules = icp.load()
    as_of = _as_of(config.as_of)
    context.log.info(f"scoring {enriched_leads.height:,} leads with ICP {rules.name!r} ({path})")
    before, before_sha = _previous(context)

    result = score_leads(enriched_leads, rules, as_of)
    scored = result.frame
    if result.absent_columns:
        context.log.warning(
            f"enriched_leads lacks {result.absent_columns}; those rules score as 'missing'"
        )
    bins = score_bins(scored["lead_score"])
    grades = grade_counts(scored["lead_grade"], rules)
    no_input = result.no_input_count(rules)
    yield Output(
        scored,
        metadata={
            "leads": scored.height,
            "grade_counts": MetadataValue.json(grades),
            "score_bins": MetadataValue.json(bins),
            "grade_chart": bar_chart(grades, "leads"),
            "score_histogram": bar_chart(bins, "leads"),
            "mean_score": round(float(scored["lead_score"].mean() or 0.0), 2),
            "icp": rules.name,
            "icp_path": str(path),
            "icp_sha256": rules.sha256(),
            "as_of": as_of.isoformat(),
            "absent_columns": MetadataValue.json(result.absent_columns),
            "top_leads": preview(
                scored.sort("lead_score", descending=True, maintain_order=True).select(
                    [c for c in PREVIEW_COLUMNS if c in scored.columns]
                )
            ),
        },
    )

    if before is None or not sum(before.values()) or scored.is_empty():
        index, note = 0.0, "no previous distribution to compare with"
    else:
        index, note = psi(before, bins), "compared with the previous materialization"
    icp_changed = before_sha is not None and before_sha != rules.sha256()
    yield AssetCheckResult(
        check_name="score_distribution_drift",
        asset_key=ASSET,
        passed=index <= config.drift_psi_threshold,
        severity=AssetCheckSeverity.WARN,
        description=note + ("; the ICP changed since then" if icp_changed else ""),
        metadata={
            "psi": round(index, 4),
            "threshold": config.drift_psi_threshold,
            "score_bins": MetadataValue.json(bins),
            "previous_score_bins": MetadataValue.json(before or {}),
            "icp_changed": icp_changed,
        },
    )
    share = no_input / scored.height if scored.height else 0.0
    yield AssetCheckResult(
        check_name="leads_without_score_inputs",
        asset_key=ASSET,
        passed=share <= config.max_no_input_share,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "leads_without_inputs": no_input,
            "share": round(share, 4),
            "threshold": config.max_no_input_share,
        },
    )
