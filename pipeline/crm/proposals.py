"""Merge proposals for duplicates inside the CRM (`crm_merge_proposals`).

An entity holding two or more live CRM contacts (after the merges already made, see
`pipeline.crm.matches`) is one proposal: its contacts side by side, the surviving record by
the configured rule (`pipeline.crm.survivor`), and for each other contact the match weight
against the survivor with the per-field explanation: the dedupe run's own scoring when it
compared the two, else the same comparisons and model computed now (the two were joined
through other records; term-frequency adjustments, which need the whole table, are left out
there). The proposal's weight is the weakest of these.

Archived contacts are never proposed. A group holding a pair a person kept apart (a denied
proposal's cannot-link label) is not proposed either, should the dedupe not have run since.
The proposal id is a hash of the backend and the contact ids, so the same group keeps its id
and its decision across runs; a pending proposal whose group is gone becomes `obsolete`, or
`superseded` when its entity now forms another group.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl
from sqlalchemy import Engine, select, update

from pipeline.crm.as_leads import ID_PREFIX, lead_id
from pipeline.crm.matches import entity_contacts
from pipeline.crm.survivor import COMPLETENESS_FIELDS, describe, rank_members
from pipeline.store.sql import utcnow
from pipeline.store.tables import crm_merge_proposals

PROPOSAL_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "entity_id": pl.String(),
    "survivor_id": pl.String(),
    "member_ids": pl.List(pl.String()),
    "match_weight": pl.Float64(),
    "members": pl.String(),  # JSON: each contact's values, survivor first
    "explanation": pl.String(),  # JSON: per other contact, field by field
    "rule": pl.String(),
}
MEMBER_FIELDS = (
    "crm_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "country",
    "owner_id",
    "lifecycle_stage",
    "created_at",
    "modified_at",
)


def proposal_id(backend: str, ids: Sequence[str]) -> str:
    key = backend + ":" + ",".join(sorted(ids, key=lambda i: (len(i), i)))
    return "M" + hashlib.sha1(key.encode()).hexdigest()[:10]


@dataclass
class Scoring:
    """The last dedupe run's tables, to explain pairs with."""

    spec_name: str
    model_json: dict
    threshold: float
    pairs: pl.DataFrame | None = None  # dedupe_pairs
    values: pl.DataFrame | None = None  # the CRM contacts' rows with their fingerprints

    @classmethod
    def from_tables(
        cls,
        model: pl.DataFrame | None,
        pairs: pl.DataFrame | None,
        crm_leads: pl.DataFrame | None,
        fingerprints: pl.DataFrame | None,
    ) -> Scoring | None:
        if model is None or model.is_empty():
            return None
        values = None
        if crm_leads is not None and fingerprints is not None and not crm_leads.is_empty():
            own = [c for c in fingerprints.columns if c in crm_leads.columns and c != "lead_id"]
            values = crm_leads.join(fingerprints.drop(own), on="lead_id", how="inner")
        return cls(
            spec_name=str(model["spec"][0]),
            model_json=json.loads(model["model_json"][0]),
            threshold=float(model["threshold"][0]),
            pairs=pairs,
            values=values,
        )


def _level_label(comp, level: int) -> str:  # type: ignore[no-untyped-def]
    from pipeline.dedupe.compare import NULL_LEVEL

    return "missing value" if level == NULL_LEVEL else comp.labels[level]


def explain_pairs(scoring: Scoring, wanted: pl.DataFrame) -> dict[tuple[str, str], dict]:
    """(left lead id, right lead id) -> the pair's match weight (log2 odds, prior included),
    probability, and each comparison's values, level and weight."""
    from pipeline.dedupe import load_spec
    from pipeline.dedupe.compare import Comparator
    from pipeline.dedupe.model import FSModel, log2_odds
    from pipeline.dedupe.scoring import score

    spec = load_spec(scoring.spec_name)
    model = FSModel.from_dict(scoring.model_json)
    prior = log2_odds(model.prior)
    out: dict[tuple[str, str], dict] = {}
    if wanted.is_empty() or scoring.values is None:
        return out
    values = scoring.values
    id_col = spec.id_column
    found = pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String})
    if scoring.pairs is not None and not scoring.pairs.is_empty():
        stored = scoring.pairs.rename({f"{id_col}_l": "left_id", f"{id_col}_r": "right_id"})
        both = pl.concat(
            [stored, stored.rename({"left_id": "right_id", "right_id": "left_id"})
             .select(stored.columns)]
        )  # fmt: skip
        found = wanted.join(both, on=["left_id", "right_id"], how="inner").unique(
            ["left_id", "right_id"]
        )
    rows = values.filter(
        pl.col(id_col).is_in(pl.concat([wanted["left_id"], wanted["right_id"]]).implode())
    )
    shown = {r[id_col]: r for r in rows.iter_rows(named=True)}
    for row in found.iter_rows(named=True):
        out[(row["left_id"], row["right_id"])] = {
            "scored_in_run": True,
            "match_weight": round(float(row["match_weight"]) + prior, 2),
            "match_probability": round(float(row["match_probability"]), 6),
            "fields": [
                {
                    "comparison": comp.name,
                    "left": _text(shown.get(row["left_id"], {}).get(comp.column)),
                    "right": _text(shown.get(row["right_id"], {}).get(comp.column)),
                    "level": _level_label(comp, int(row[f"{comp.name}_level"])),
                    "weight": round(float(row[f"{comp.name}_weight"]), 2),
                }
                for comp in spec.comparisons
            ],
        }
    rest = wanted.join(found.select("left_id", "right_id"), on=["left_id", "right_id"], how="anti")
    rest = rest.filter(pl.col("left_id").is_in(list(shown)) & pl.col("right_id").is_in(list(shown)))
    if rest.is_empty():
        return out
    work = rows
    index = {v: i for i, v in enumerate(work[id_col].to_list())}
    left = np.array([index[v] for v in rest["left_id"]], dtype=np.int64)
    right = np.array([index[v] for v in rest["right_id"]], dtype=np.int64)
    scored = score(spec, model, Comparator(work), left, right, tables={})
    for k, (a, b) in enumerate(rest.select("left_id", "right_id").iter_rows()):
        out[(a, b)] = {
            "scored_in_run": False,
            "match_weight": round(float(scored.weights[k].sum()) + prior, 2),
            "match_probability": round(float(scored.probability[k]), 6),
            "vetoed": bool(scored.vetoed[k]),
            "fields": [
                {
                    "comparison": comp.name,
                    "left": _text(shown[a].get(comp.column)),
                    "right": _text(shown[b].get(comp.column)),
                    "level": _level_label(comp, int(scored.gamma[k, j])),
                    "weight": round(float(scored.weights[k, j]), 2),
                }
                for j, comp in enumerate(spec.comparisons)
            ],
        }
    return out


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _member(row: dict, completeness: int, survivor: bool) -> dict:
    out = {k: (row[k].isoformat() if isinstance(row[k], datetime) else row[k])
           for k in MEMBER_FIELDS}  # fmt: skip
    out.update(completeness=completeness, survivor=survivor)
    return out


def build_proposals(
    entities: pl.DataFrame,
    records: pl.DataFrame | None,
    steps: pl.DataFrame | None,
    denied: pl.DataFrame | None,
    rule: Sequence[str],
    backend: str,
    scoring: Scoring | None,
) -> tuple[pl.DataFrame, int]:
    """(PROPOSAL_SCHEMA rows, groups left out for a denied pair). `entities`: lead_id,
    entity_id (lead_entities); `denied`: left_id, right_id of no_match labels."""
    empty = pl.DataFrame(schema=PROPOSAL_SCHEMA)
    if records is None or records.is_empty():
        return empty, 0
    held = entity_contacts(entities, records, steps).filter(pl.col("live") >= 2)
    if held.is_empty():
        return empty, 0
    groups = held.select("entity_id", pl.col("live_ids").alias("crm_id")).explode("crm_id")
    kept_apart = 0
    if denied is not None and not denied.is_empty():
        pairs = groups.join(groups, on="entity_id", suffix="_r").filter(
            pl.col("crm_id") < pl.col("crm_id_r")
        )
        no = pl.concat([
            denied.select("left_id", "right_id"),
            denied.select(pl.col("right_id").alias("left_id"), pl.col("left_id").alias("right_id")),
        ])  # fmt: skip
        bad = pairs.join(
            no,
            left_on=[lead_id(pl.col("crm_id")), lead_id(pl.col("crm_id_r"))],
            right_on=["left_id", "right_id"],
            how="semi",
        )["entity_id"].unique()
        kept_apart = bad.len()
        groups = groups.filter(~pl.col("entity_id").is_in(bad.implode()))
    contacts = records.filter(pl.col("object_type") == "contact").drop("object_type")
    members = groups.rename({"entity_id": "group"}).join(contacts, on="crm_id", how="left")
    members = members.with_columns(
        pl.sum_horizontal(
            (pl.col(c).is_not_null() & (pl.col(c).cast(pl.String) != "")).cast(pl.Int32)
            for c in COMPLETENESS_FIELDS
        ).alias("_completeness")
    )
    ranked = rank_members(members, rule)
    survivors = ranked.filter(pl.col("rank") == 0).select("group", pl.col("crm_id").alias("_s"))
    ranked = ranked.join(survivors, on="group")
    wanted = ranked.filter(pl.col("rank") > 0).select(
        lead_id(pl.col("_s")).alias("left_id"), lead_id(pl.col("crm_id")).alias("right_id")
    )
    explained = explain_pairs(scoring, wanted) if scoring is not None else {}
    rows = []
    for (group,), part in ranked.sort("group", "rank").group_by("group", maintain_order=True):
        part_rows = part.to_dicts()
        survivor = part_rows[0]["crm_id"]
        ids = [r["crm_id"] for r in part_rows]
        explanation = []
        for other in part_rows[1:]:
            pair = explained.get((ID_PREFIX + survivor, ID_PREFIX + other["crm_id"]))
            explanation.append({"survivor": survivor, "other": other["crm_id"], **(pair or {})})
        weights = [e["match_weight"] for e in explanation if "match_weight" in e]
        rows.append(
            {
                "id": proposal_id(backend, ids),
                "entity_id": group,
                "survivor_id": survivor,
                "member_ids": ids,
                "match_weight": min(weights) if weights else None,
                "members": json.dumps(
                    [_member(r, r["_completeness"], r["rank"] == 0) for r in part_rows],
                    ensure_ascii=False,
                ),
                "explanation": json.dumps(explanation, ensure_ascii=False),
                "rule": describe(rule),
            }
        )
    return pl.DataFrame(rows, schema=PROPOSAL_SCHEMA), kept_apart


@dataclass
class RefreshReport:
    new: int = 0
    updated: int = 0
    obsolete: int = 0
    superseded: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def refresh(engine: Engine, backend: str, proposals: pl.DataFrame) -> RefreshReport:
    """Store this run's proposals: new ones pending; pending ones updated (their values and
    weights may have changed), or retired when their group is gone. Decided ones stand."""
    t = crm_merge_proposals
    now = utcnow()
    report = RefreshReport()
    current = {r["id"]: r for r in proposals.iter_rows(named=True)}
    entities_now = {r["entity_id"] for r in current.values()}
    with engine.begin() as conn:
        stored = {
            r.id: r for r in conn.execute(select(t.c.id, t.c.status, t.c.entity_id).where(
                t.c.backend == backend))
        }  # fmt: skip
        for pid, row in current.items():
            values = {
                "entity_id": row["entity_id"],
                "survivor_id": row["survivor_id"],
                "members": row["members"],
                "match_weight": row["match_weight"],
                "explanation": row["explanation"],
                "rule": row["rule"],
                "updated_at": now,
            }
            if pid not in stored:
                conn.execute(
                    t.insert().values(
                        id=pid, backend=backend, status="pending", proposed_at=now, **values
                    )
                )
                report.new += 1
            elif stored[pid].status == "pending":
                conn.execute(update(t).where(t.c.id == pid).values(**values))
                report.updated += 1
        for pid, row in stored.items():
            if pid in current or row.status != "pending":
                continue
            status = "superseded" if row.entity_id in entities_now else "obsolete"
            conn.execute(update(t).where(t.c.id == pid).values(status=status, updated_at=now))
            report.superseded += status == "superseded"
            report.obsolete += status == "obsolete"
        for (status,) in conn.execute(select(t.c.status).where(t.c.backend == backend)):
            report.statuses[status] = report.statuses.get(status, 0) + 1
    return report


STORED_COLUMNS = (
    "id",
    "status",
    "entity_id",
    "survivor_id",
    "match_weight",
    "members",
    "explanation",
    "rule",
    "proposed_at",
    "decided_by",
    "decided_at",
    "result_id",
    "merged_at",
    "error",
)


def stored(engine: Engine, backend: str | None = None, statuses: Sequence[str] = ()) -> list[dict]:
    """The proposals in the store (newest first), as dicts with `members` and `explanation`
    decoded."""
    t = crm_merge_proposals
    query = select(*(t.c[c] for c in STORED_COLUMNS), t.c.backend)
    if backend is not None:
        query = query.where(t.c.backend == backend)
    if statuses:
        query = query.where(t.c.status.in_(list(statuses)))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(t.c.match_weight.desc(),
                                                                       t.c.id))]  # fmt: skip
    for row in rows:
        row["members"] = json.loads(row["members"])
        row["explanation"] = json.loads(row["explanation"] or "[]")
    return rows


def denied_pairs(labels: pl.DataFrame | None) -> pl.DataFrame:
    """The no_match labels between CRM contacts (left_id, right_id)."""
    schema = {"left_id": pl.String, "right_id": pl.String}
    if labels is None or labels.is_empty():
        return pl.DataFrame(schema=schema)
    return labels.filter(
        (pl.col("label") == "no_match")
        & pl.col("left_id").str.starts_with(ID_PREFIX)
        & pl.col("right_id").str.starts_with(ID_PREFIX)
    ).select("left_id", "right_id")
