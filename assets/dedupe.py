"""The `dedupe` group: fingerprints, scored pairs, entities, golden records.

One step runs the engine (pipeline.dedupe) and yields each stage as its own asset, so the UI
shows the lineage while the engine keeps its data in memory between stages. Whether a run is
full, incremental or has nothing to do is the engine's decision (`pipeline.dedupe.runs`);
`full_refresh` re-resolves everything, keeping ids stable. Labels people gave
(`python -m pipeline dedupe review`, in the operational store) are honoured on every run.

The CRM's contacts (`crm_leads`, when the CRM is read) are resolved with the leads, as a
source of their own (pipeline.dedupe.provenance): an entity may hold file leads and CRM
contacts. A contact whose values changed since the last run is re-resolved (a full run: its
id is the same). `golden_leads` holds the entities with at least one lead from a file.
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
    Config,
    MetadataValue,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
    multi_asset,
)
from pydantic import Field

from assets.automation import follow_upstream
from assets.metadata import preview
from pipeline.dedupe import DedupeResult, load_spec
from pipeline.dedupe.provenance import (
    address_links,
    changed_since,
    combined,
    lead_entities_only,
    with_links,
)
from pipeline.dedupe.review import (
    ReviewSource,
    explain_links,
    histogram_markdown,
    pair_ids,
    records_with_fingerprints,
    render_pair,
    weakest_entity_links,
    with_values,
)
from pipeline.dedupe.runs import PreviousRun, resolve
from pipeline.store.dedupe_labels import load_labels
from resources.ops_store import OpsStore
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


# Entities shown in the UI, the borderline and the largest, each by its weakest link.
ENTITIES_SHOWN = 10


def _link_table(links: pl.DataFrame, spec) -> MetadataValue:
    """One row per entity: its weakest link's two leads side by side, field by field."""
    columns = [
        TableColumn("entity_id", "string"),
        TableColumn("records", "int"),
        TableColumn("left_id", "string"),
        TableColumn("right_id", "string"),
        TableColumn("match_probability", "float"),
        *(TableColumn(c.name, "string", description=c.column) for c in spec.comparisons),
    ]
    records = []
    for row in links.to_dicts():
        fields = {}
        for comp in spec.comparisons:
            weight = row.get(f"{comp.name}_weight")
            fields[comp.name] = (
                f"{row.get(f'{comp.name}_left') or '-'} | {row.get(f'{comp.name}_right') or '-'}"
                f" ({row.get(f'{comp.name}_level') or '-'}"
                + (f", {weight:+.2f})" if weight is not None else ")")
            )
        records.append(
            TableRecord(
                {
                    "entity_id": row["entity_id"],
                    "records": int(row["size"]),
                    "left_id": row["left_id"],
                    "right_id": row["right_id"],
                    "match_probability": float(row["match_probability"] or 0.0),
                    **fields,
                }
            )
        )
    return MetadataValue.table(records=records, schema=TableSchema(columns=columns))


def _entity_metadata(run, spec, normalized: pl.DataFrame, golden: pl.DataFrame) -> dict:
    """Borderline and largest entities (members side by side, per-field explanation) and
    the entity-size chart, for the UI."""
    sizes = _size_chart(golden)
    if run.pairs.is_empty() or run.model.is_empty():
        return {"entity_sizes": MetadataValue.md(sizes)}
    # The links are chosen from the pairs and entities alone; only their leads' values
    # are read (a copy of a million-row table for twenty pairs would be the run's peak).
    source = ReviewSource.from_tables(
        spec,
        run.pairs,
        run.entities,
        normalized.head(0),
        json.loads(run.model["model_json"][0]),
        run.threshold,
    )
    chosen = [weakest_entity_links(source, ENTITIES_SHOWN, borderline=b) for b in (True, False)]
    ids = pl.concat([pair_ids(links) for links in chosen])
    source = with_values(
        source, records_with_fingerprints(normalized, run.fingerprints, spec.id_column, ids)
    )
    borderline, largest = (explain_links(source, links) for links in chosen)
    explanation = "\n\n".join(
        render_pair(row, spec, run.threshold, position=f"{row['entity_id']}: ")
        for row in borderline.head(3).to_dicts()
    )
    return {
        "borderline_entities": _link_table(borderline, spec),
        "largest_entities": _link_table(largest, spec),
        "borderline_explained": MetadataValue.md(f"```\n{explanation or 'none'}\n```"),
        "entity_sizes": MetadataValue.md(sizes),
    }


def _size_chart(golden: pl.DataFrame) -> str:
    if "record_count" not in golden.columns:
        return "_no entities_"
    return histogram_markdown(
        golden["record_count"], [1, 2, 3, 6, 11, 51], "Entities by number of leads", "leads"
    )


def _vetoed(pairs: pl.DataFrame) -> pl.Series:
    """Which pairs a veto ruled out (pairs stored before the column existed: none)."""
    if "vetoed" not in pairs.columns:
        return pl.Series("vetoed", [False] * pairs.height, dtype=pl.Boolean)
    return pairs["vetoed"].fill_null(False)


def _weight_chart(run) -> str:
    # A vetoed pair's probability is 0 whatever its weight, and its fuzzy fields are not
    # compared: the chart is of the pairs the model decided.
    decided = run.pairs.filter(~_vetoed(run.pairs))
    if decided.is_empty():
        return "_no scored pairs_"
    return histogram_markdown(
        decided["match_weight"],
        [-40, -20, -10, -5, 0, 5, 10, 20, 40],
        "Candidate pairs no veto ruled out, by match weight (log2 Bayes factor, prior not "
        "included)",
        "",
    )


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


def _last_resolution(context: AssetExecutionContext):  # type: ignore[no-untyped-def]
    """When the entities were last written (naive UTC), or None."""
    from datetime import UTC, datetime

    event = context.instance.get_latest_materialization_event(AssetKey("lead_entities"))
    if event is None:
        return None
    return datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None)


@multi_asset(
    group_name=GROUP,
    outs={
        "lead_fingerprints": AssetOut(
            kinds={"polars", "duckdb"},
            # New arrivals re-resolve entities on their own when the daemon runs.
            automation_condition=follow_upstream(["crm_leads"]),
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
    # The CRM's contacts, when it is read: optional (a table the warehouse may not have).
    deps=[AssetKey("crm_leads")],
    internal_asset_deps={
        "lead_fingerprints": {AssetKey("normalized_leads"), AssetKey("crm_leads")},
        "dedupe_pairs": {AssetKey("lead_fingerprints")},
        "dedupe_model": {AssetKey("dedupe_pairs")},
        "lead_entities": {AssetKey("dedupe_pairs"), AssetKey("dedupe_model")},
        "entity_events": {AssetKey("lead_entities")},
        "golden_leads": {
            AssetKey("lead_entities"),
            AssetKey("normalized_leads"),
            AssetKey("crm_leads"),
        },
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
    ops_store: OpsStore,
):
    crm = warehouse.read("crm_leads")
    records = combined(normalized_leads, crm)
    links = address_links(records)
    labels = with_links(load_labels(ops_store.engine), links)
    changed = changed_since(records, _last_resolution(context))
    previous = PreviousRun(
        entities=warehouse.read("lead_entities"),
        model=warehouse.read("dedupe_model"),
        fingerprints=warehouse.read("lead_fingerprints"),
        pairs=warehouse.read("dedupe_pairs"),
        golden=warehouse.read("golden_leads"),
        events=warehouse.read("entity_events"),
    )
    known = previous.entities if previous.entities is not None else None
    recontact = (
        changed.join(known, on="lead_id", how="semi").height
        if known is not None and not changed.is_empty()
        else 0
    )
    if recontact:
        context.log.info(f"{recontact} CRM contact(s) changed since the last run: full run")
    if crm is not None:
        context.log.info(
            f"resolving {normalized_leads.height} lead(s) with {crm.height} CRM contact(s) "
            f"({links.height} link(s) from the contacts' additional addresses)"
        )
    run = resolve(
        records,
        previous,
        spec_name=config.spec,
        threshold=config.threshold,
        full_refresh=config.full_refresh or bool(recontact),
        labels=labels,
        progress=context.log.info,
    )
    spec = load_spec(config.spec)
    entities, golden, pairs, report = run.entities, run.golden, run.pairs, run.report
    # Entities of CRM contacts alone are no leads: nothing to enrich, score or sync.
    leads_golden = lead_entities_only(golden, entities, normalized_leads)
    lead_rows = entities.join(normalized_leads.select("lead_id"), on="lead_id", how="semi")
    merged_share = 1 - leads_golden.height / max(lead_rows.height, 1)
    linked = pairs.filter(pl.col("match_probability") >= run.threshold)
    yield Output(run.fingerprints, output_name="lead_fingerprints")
    yield Output(
        pairs,
        output_name="dedupe_pairs",
        metadata={
            "candidate_pairs": pairs.height,
            "vetoed_pairs": int(_vetoed(pairs).sum()),
            "linked_pairs": linked.height,
            "blocking": MetadataValue.json(report.get("blocking", {})),
            "match_weights": MetadataValue.md(_weight_chart(run)),
        },
    )
    yield Output(
        run.model,
        output_name="dedupe_model",
        metadata={
            "weights": MetadataValue.md(_weights_markdown(run.result))
            if run.result is not None and run.mode == "full"
            else "unchanged",
            "em_converged": bool(report.get("em_converged", True)),
            "threshold": run.threshold,
            "labels": MetadataValue.json(report.get("labels", {"labels": labels.height})),
        },
    )
    yield Output(
        entities,
        output_name="lead_entities",
        metadata={
            "entities": leads_golden.height,
            "merged_share": round(merged_share, 4),
            "mode": run.mode,
            "timings_s": MetadataValue.json(report.get("timings_s", {})),
            "clustering": MetadataValue.json(report.get("clustering", {})),
            "crm_contacts": crm.height if crm is not None else 0,
            "crm_address_links": links.height,
            **_entity_metadata(run, spec, records, golden),
        },
    )
    yield Output(
        run.events,
        output_name="entity_events",
        metadata={
            "new_merges": int((run.new_events["event"] == "merge").sum()),
            "new_splits": int((run.new_events["event"] == "split").sum()),
        },
    )
    yield Output(
        leads_golden,
        output_name="golden_leads",
        metadata={
            "crm_only_entities": golden.height - leads_golden.height,
            "preview": preview(
                leads_golden.select(
                    *[
                        c
                        for c in ("full_name", "email", "phone_e164", "company", "record_count")
                        if c in leads_golden.columns
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
