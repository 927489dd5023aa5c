"""`crm_merge_proposals` (group `crm`): duplicates inside the CRM, proposed for merging.

Each entity holding two or more live CRM contacts is a proposal (pipeline.crm.proposals): the
contacts side by side, the match weight and the per-field explanation, the surviving record
by CRM_MERGE_SURVIVOR. The proposals and their decisions live in the operational store
(`python -m pipeline crm merges` lists them, `approve` / `deny` decide); this table is the
proposals of the CRM backend in use, as they stand after the run.
"""

import json

import polars as pl
from dagster import AssetExecutionContext, AssetKey, MetadataValue, Output, asset

from pipeline.crm.merges import load_steps
from pipeline.crm.proposals import Scoring, build_proposals, denied_pairs, refresh, stored
from pipeline.store.dedupe_labels import load_labels
from resources.crm import CrmResource
from resources.ops_store import OpsStore
from resources.warehouse import Warehouse

CRM_ROWS = "lead_id like 'crm:%'"
CRM_PAIRS = "lead_id_l like 'crm:%' and lead_id_r like 'crm:%'"
TABLE_SCHEMA = {
    "id": pl.String,
    "status": pl.String,
    "entity_id": pl.String,
    "survivor_id": pl.String,
    "member_ids": pl.List(pl.String),
    "match_weight": pl.Float64,
    "members": pl.String,
    "explanation": pl.String,
    "rule": pl.String,
    "decided_by": pl.String,
    "decided_at": pl.Datetime("us"),
    "result_id": pl.String,
}


def _table(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                **{k: r.get(k) for k in TABLE_SCHEMA if k not in ("members", "explanation")},
                "member_ids": [m["crm_id"] for m in r["members"]],
                "members": json.dumps(r["members"], ensure_ascii=False),
                "explanation": json.dumps(r["explanation"], ensure_ascii=False),
                "decided_at": r["decided_at"].replace(tzinfo=None) if r["decided_at"] else None,
            }
            for r in rows
        ],
        schema=TABLE_SCHEMA,
    )


def _markdown(rows: list[dict], limit: int = 15) -> str:
    pending = [r for r in rows if r["status"] == "pending"][:limit]
    if not pending:
        return "_no merge proposal waits for a decision_"
    lines = [
        "| proposal | weight | survivor | others | names | emails |",
        "|---|---:|---|---|---|---|",
    ]
    for r in pending:
        members = r["members"]
        names = " / ".join(
            " ".join(p for p in (m.get("first_name"), m.get("last_name")) if p) or "?"
            for m in members
        )
        emails = " / ".join(m.get("email") or "-" for m in members)
        weight = f"{r['match_weight']:+.1f}" if r["match_weight"] is not None else "-"
        others = ", ".join(m["crm_id"] for m in members[1:])
        lines.append(
            f"| {r['id']} | {weight} | {r['survivor_id']} | {others} | {names} | {emails} |"
        )
    return "\n".join(lines)


@asset(
    group_name="crm",
    kinds={"polars", "duckdb"},
    deps=[AssetKey("dedupe_pairs"), AssetKey("dedupe_model")],
    description=(
        "Duplicates inside the CRM: entities holding two or more live CRM contacts, each with "
        "its contacts side by side, the match weight (log2 odds), the per-field explanation "
        "and the surviving record (CRM_MERGE_SURVIVOR). Merged only after a person approves "
        "(`python -m pipeline crm merges approve ID`); a denied one becomes cannot-link "
        "labels and is never proposed again."
    ),
)
def crm_merge_proposals(
    context: AssetExecutionContext,
    lead_entities: pl.DataFrame,
    crm: CrmResource,
    ops_store: OpsStore,
    warehouse: Warehouse,
):
    engine = ops_store.engine
    backend = crm.backend
    records = warehouse.read("crm_records")
    scoring = Scoring.from_tables(
        warehouse.read("dedupe_model"),
        warehouse.read_where("dedupe_pairs", CRM_PAIRS),
        warehouse.read("crm_leads"),
        warehouse.read_where("lead_fingerprints", CRM_ROWS),
    )
    proposals, kept_apart = build_proposals(
        lead_entities.filter(pl.col("lead_id").str.starts_with("crm:")),
        records,
        load_steps(engine, backend),
        denied_pairs(load_labels(engine)),
        crm.merge_survivor,
        backend,
        scoring,
    )
    report = refresh(engine, backend, proposals)
    rows = stored(engine, backend)
    pending = sum(r["status"] == "pending" for r in rows)
    context.log.info(
        f"{proposals.height} group(s) of CRM duplicates: {report.new} new proposal(s), "
        f"{pending} waiting for a decision (`python -m pipeline crm merges`)"
    )
    return Output(
        _table(rows),
        metadata={
            "groups": proposals.height,
            "new": report.new,
            "pending": pending,
            "superseded": report.superseded,
            "obsolete": report.obsolete,
            "kept_apart_by_a_denial": kept_apart,
            "statuses": MetadataValue.json(report.statuses),
            "backend": backend,
            "waiting": MetadataValue.md(_markdown(rows)),
        },
    )
