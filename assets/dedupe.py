"""The `dedupe` group: fingerprints, scored pairs, entities, golden records.

One step runs the engine (pipeline.dedupe) and yields each stage as its own asset, so the UI
shows the lineage while the engine keeps its data in memory between stages. When the last
run's entities and model exist and no earlier lead has gone, only the new leads are matched
against them (incremental); `full_refresh` re-resolves everything, keeping ids stable.
"""

import json

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AutomationCondition,
    Config,
    MetadataValue,
    Output,
    multi_asset,
)
from pydantic import Field

from assets.metadata import preview
from pipeline.dedupe import DedupeResult, dedupe, load_spec, match_incremental
from pipeline.dedupe.entities import EVENT_SCHEMA
from pipeline.dedupe.fingerprints import add_fingerprints
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.prepare import latest_per_id
from resources.warehouse import Warehouse

GROUP = "dedupe"
SIZE_BUCKETS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 50), (51, None))


class DedupeConfig(Config):
    spec: str = Field(default="leads", description="Matching spec: leads, person or a YAML path.")
    threshold: float | None = Field(default=None, description="Override the spec's threshold.")
    full_refresh: bool = Field(
        default=False, description="Re-resolve every lead instead of matching only new ones."
    )
    max_entity_size: int = Field(default=50, description="Fail the run above this entity size.")
    merged_share_jump: float = Field(
        default=0.1, description="Warn when the share of merged leads moves more than this."
    )


def _model_frame(result: DedupeResult, spec_name: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "spec": [spec_name],
            "threshold": [result.threshold],
            "model_json": [json.dumps(result.model.to_dict())],
        }
    )


def _weights_markdown(result: DedupeResult) -> str:
    lines = ["| comparison | level | m | u | weight |", "|---|---|---|---|---|"]
    weights = result.model.weights()
    for k, comp in enumerate(result.spec.comparisons):
        for level, label in enumerate(comp.labels):
            lines.append(
                f"| {comp.name} | {label} | {result.model.m[k][level]:.4f} | "
                f"{result.model.u[k][level]:.6f} | {weights[k][level]:+.2f} |"
            )
    return "\n".join(lines)


def _size_distribution(golden: pl.DataFrame) -> dict[str, int]:
    sizes = golden["record_count"]
    out = {}
    for lo, hi in SIZE_BUCKETS:
        label = f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi else f"{lo}+")
        mask = (sizes >= lo) if hi is None else ((sizes >= lo) & (sizes <= hi))
        out[label] = int(mask.sum())
    return out


def _previous_merged_share(context: AssetExecutionContext) -> float | None:
    event = context.instance.get_latest_materialization_event(AssetKey("lead_entities"))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("merged_share")
    return float(value.value) if value is not None else None


@multi_asset(
    group_name=GROUP,
    outs={
        "lead_fingerprints": AssetOut(
            kinds={"polars", "duckdb"},
            # New arrivals re-resolve entities on their own when the daemon runs.
            automation_condition=AutomationCondition.eager(),
            description="Blocking and comparison keys per lead (phonetic, nickname, prefixes).",
        ),
        "dedupe_pairs": AssetOut(
            kinds={"polars", "duckdb"},
            description=(
                "Scored candidate pairs: the blocking rule that found each, per-field "
                "comparison level and weight, total match weight and probability."
            ),
        ),
        "dedupe_model": AssetOut(
            kinds={"duckdb"},
            description="Fellegi-Sunter m/u per comparison level and the prior, fitted by EM.",
        ),
        "lead_entities": AssetOut(
            kinds={"polars", "duckdb"},
            description="Lead -> entity: stable entity ids across runs.",
        ),
        "entity_events": AssetOut(
            kinds={"polars", "duckdb"},
            description="History of entity merges and splits, for the CRM sync to act on.",
        ),
        "golden_leads": AssetOut(
            kinds={"polars", "duckdb"},
            description=(
                "One golden record per entity: each field by its survivorship rule, with the "
                "lead it came from in `<field>__source`."
            ),
        ),
    },
    internal_asset_deps={
        "lead_fingerprints": {AssetKey("normalized_leads")},
        "dedupe_pairs": {AssetKey("lead_fingerprints")},
        "dedupe_model": {AssetKey("dedupe_pairs")},
        "lead_entities": {AssetKey("dedupe_pairs"), AssetKey("dedupe_model")},
        "entity_events": {AssetKey("lead_entities")},
        "golden_leads": {AssetKey("lead_entities"), AssetKey("normalized_leads")},
    },
    check_specs=[
        AssetCheckSpec(
            "entity_size_limit",
            asset="lead_entities",
            blocking=True,
            description="No entity holds more records than the configured limit.",
        ),
        AssetCheckSpec(
            "cluster_size_distribution",
            asset="lead_entities",
            description="Warn when more than 1% of entities hold over 10 records.",
        ),
        AssetCheckSpec(
            "merged_share_stable",
            asset="lead_entities",
            description="Warn when the share of merged leads jumps against the last run.",
        ),
    ],
)
def dedupe_leads(
    context: AssetExecutionContext,
    config: DedupeConfig,
    normalized_leads: pl.DataFrame,
    warehouse: Warehouse,
):
    spec = load_spec(config.spec)
    id_col = spec.id_column
    leads = latest_per_id(normalized_leads, id_col)
    previous = warehouse.read("lead_entities")
    previous_model = warehouse.read("dedupe_model")
    previous_fp = warehouse.read("lead_fingerprints")

    incremental = (
        not config.full_refresh
        and previous is not None
        and previous_model is not None
        and previous_fp is not None
        and previous_model["spec"][0] == config.spec
        # A spec whose fingerprints changed needs a full pass to rebuild them.
        and set(previous_fp.columns) == {id_col, *spec.fingerprints}
        and leads.join(previous, on=id_col, how="semi").height == previous.height
    )
    if incremental:
        assert previous is not None and previous_model is not None and previous_fp is not None
        new = leads.join(previous, on=id_col, how="anti")
        existing = leads.join(previous, on=id_col, how="semi").join(
            previous_fp.drop(
                [c for c in previous_fp.columns if c in leads.columns and c != id_col]
            ),
            on=id_col,
            how="left",
        )
        context.log.info(f"incremental: {new.height} new lead(s) against {previous.height}")
        model = FSModel.from_dict(json.loads(previous_model["model_json"][0]))
        if new.is_empty():
            result = None
        else:
            result = match_incremental(
                existing, previous, new, model, spec, config.threshold, existing_fingerprinted=True
            )
    else:
        context.log.info(f"full resolution of {leads.height} lead(s)")
        result = dedupe(
            leads,
            spec,
            threshold=config.threshold,
            previous_entities=previous,
            progress=context.log.info,
        )

    fingerprint_cols = [id_col, *spec.fingerprints]
    old_events = warehouse.read("entity_events") if previous is not None else None
    if result is None:  # nothing new arrived: keep what is there
        fingerprints = previous_fp
        pairs = warehouse.read("dedupe_pairs")
        entities = previous
        golden = warehouse.read("golden_leads")
        model_frame = previous_model
        events = old_events if old_events is not None else pl.DataFrame(schema=EVENT_SCHEMA)
        new_events = pl.DataFrame(schema=EVENT_SCHEMA)
        report: dict = {"mode": "unchanged"}
    elif incremental:
        fingerprints = pl.concat(
            [previous_fp, add_fingerprints(new, spec).select(fingerprint_cols)],
            how="vertical_relaxed",
        )
        pairs = pl.concat([warehouse.read("dedupe_pairs"), result.pairs], how="diagonal_relaxed")
        entities = result.entities
        old_golden = warehouse.read("golden_leads")
        touched = pl.concat(
            [result.golden["entity_id"], result.events["other_entity_id"].drop_nulls()]
        )
        golden = pl.concat(
            [old_golden.filter(~pl.col("entity_id").is_in(touched.implode())), result.golden],
            how="diagonal_relaxed",
        ).sort("entity_id")
        model_frame = previous_model
        new_events = result.events
        events = pl.concat([old_events, new_events]) if old_events is not None else new_events
        report = {"mode": "incremental", **result.report}
    else:
        fingerprints = result.work.select(fingerprint_cols)
        pairs = result.pairs
        entities = result.entities
        golden = result.golden
        model_frame = _model_frame(result, config.spec)
        new_events = result.events
        events = pl.concat([old_events, new_events]) if old_events is not None else new_events
        report = {"mode": "full", **result.report}

    assert entities is not None and golden is not None and pairs is not None
    merged_share = 1 - golden.height / max(entities.height, 1)
    linked = pairs.filter(pl.col("match_probability") >= (result.threshold if result else 0.5))
    yield Output(
        fingerprints, output_name="lead_fingerprints", metadata={"rows": fingerprints.height}
    )
    yield Output(
        pairs,
        output_name="dedupe_pairs",
        metadata={
            "candidate_pairs": pairs.height,
            "linked_pairs": linked.height,
            "blocking": MetadataValue.json(report.get("blocking", {})),
        },
    )
    yield Output(
        model_frame,
        output_name="dedupe_model",
        metadata={
            "weights": MetadataValue.md(_weights_markdown(result)) if result else "unchanged",
            "em_converged": bool(report.get("em_converged", True)),
        },
    )
    yield Output(
        entities,
        output_name="lead_entities",
        metadata={
            "leads": entities.height,
            "entities": golden.height,
            "merged_share": round(merged_share, 4),
            "mode": report["mode"],
            "timings_s": MetadataValue.json(report.get("timings_s", {})),
            "clustering": MetadataValue.json(report.get("clustering", {})),
        },
    )
    yield Output(
        events,
        output_name="entity_events",
        metadata={
            "new_merges": int((new_events["event"] == "merge").sum()),
            "new_splits": int((new_events["event"] == "split").sum()),
        },
    )
    yield Output(
        golden,
        output_name="golden_leads",
        metadata={
            "entities": golden.height,
            "preview": preview(
                golden.select(
                    *[
                        c
                        for c in ("full_name", "email", "phone_e164", "company", "record_count")
                        if c in golden.columns
                    ]
                )
            ),
        },
    )

    largest = int(golden["record_count"].max() or 0)
    yield AssetCheckResult(
        check_name="entity_size_limit",
        asset_key="lead_entities",
        passed=largest <= config.max_entity_size,
        metadata={"largest_entity": largest, "limit": config.max_entity_size},
    )
    distribution = _size_distribution(golden)
    big = sum(v for k, v in distribution.items() if k in ("11-50", "51+"))
    yield AssetCheckResult(
        check_name="cluster_size_distribution",
        asset_key="lead_entities",
        passed=big <= 0.01 * max(golden.height, 1),
        severity=AssetCheckSeverity.WARN,
        metadata={"entities_by_size": MetadataValue.json(distribution)},
    )
    before = _previous_merged_share(context)
    jump = abs(merged_share - before) if before is not None else 0.0
    yield AssetCheckResult(
        check_name="merged_share_stable",
        asset_key="lead_entities",
        passed=jump <= config.merged_share_jump,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "merged_share": round(merged_share, 4),
            "previous": before if before is not None else "none",
            "jump": round(jump, 4),
        },
    )
