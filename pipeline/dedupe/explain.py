"""Why two records were (or were not) merged: each field's level, values, weight and the
final probability, computed with the same code and parameters the run used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.dedupe.cluster import CannotLinkChecker
from pipeline.dedupe.compare import NULL_LEVEL, Comparator
from pipeline.dedupe.engine import DedupeResult
from pipeline.dedupe.model import log2_odds, match_weights, probability
from pipeline.dedupe.spec import MatchSpec
from pipeline.dedupe.term_frequencies import tf_adjustments
from pipeline.dedupe.vetoes import vetoed_pairs


@dataclass(frozen=True)
class FieldExplanation:
    comparison: str
    left: str | None
    right: str | None
    level: str
    weight: float


@dataclass(frozen=True)
class PairExplanation:
    left_id: str
    right_id: str
    fields: list[FieldExplanation]
    prior_weight: float
    match_weight: float
    match_probability: float
    threshold: float
    same_entity: bool
    vetoed_by: str | None = None
    # Above the threshold but in two entities: the guards that hold those entities apart.
    kept_apart_by: tuple[str, ...] = ()

    def render(self) -> str:
        verdict = "merged" if self.same_entity else "not merged"
        lines = [
            f"{self.left_id} vs {self.right_id}: {verdict} "
            f"(match probability {self.match_probability:.4f}, threshold {self.threshold})",
            f"  {'field':<12} {'level':<28} {'weight':>7}  values",
        ]
        for f in self.fields:
            lines.append(
                f"  {f.comparison:<12} {f.level:<28} {f.weight:>+7.2f}  {f.left!r} | {f.right!r}"
            )
        lines.append(f"  {'prior':<12} {'':<28} {self.prior_weight:>+7.2f}")
        lines.append(f"  {'total':<12} {'':<28} {self.match_weight:>+7.2f}")
        if self.vetoed_by:
            lines.append(f"  vetoed: {self.vetoed_by} (probability forced to 0)")
        elif self.same_entity and self.match_probability < self.threshold:
            lines.append("  merged through other records of the entity, not by this link")
        elif not self.same_entity and self.match_probability >= self.threshold:
            why = "; ".join(self.kept_apart_by) or (
                "few links between their groups (thin_bridges) or a no_match label"
            )
            lines.append(f"  above the threshold, but the clustering keeps them apart: {why}")
        return "\n".join(lines)


def _veto_label(
    comparator: Comparator, spec: MatchSpec, left: np.ndarray, right: np.ndarray
) -> str | None:
    """The first veto that rules out the pair (left[0], right[0]), by its label."""
    for veto in spec.vetoes:
        single = spec.model_copy(update={"vetoes": [veto]})
        if vetoed_pairs(comparator, single, left, right)[0]:
            return veto.label or f"veto on {veto.column}"
    return None


def _row_of(ids: pl.Series, wanted: str, id_col: str) -> int:
    """The position of the record `wanted` in the fingerprinted table."""
    hit = np.flatnonzero((ids == str(wanted)).to_numpy())
    if not len(hit):
        raise KeyError(f"no record with {id_col} = {wanted!r}")
    return int(hit[0])


def _kept_apart_by(
    result: DedupeResult, comparator: Comparator, ids: pl.Series, entity_ids: tuple[str, str]
) -> tuple[str, ...]:
    """The guards that keep two entities apart as they ended: the size cap, a cannot-link
    rule between their records, a vetoed pair between them (the clustering keeps vetoed
    pairs apart too). Labels and thin bridges leave no such trace. `ids`: the fingerprinted
    table's ids as strings."""
    spec, work = result.spec, result.work
    id_col = spec.id_column
    sides = result.entities.select(pl.col(id_col).cast(pl.String), "entity_id").filter(
        pl.col("entity_id").is_in(list(entity_ids))
    )
    first, second = (
        np.flatnonzero(
            ids.is_in(sides.filter(pl.col("entity_id") == e)[id_col].implode()).to_numpy()
        )
        for e in entity_ids
    )
    reasons = []
    together = len(first) + len(second)
    if together > spec.max_cluster_size:
        reasons.append(
            f"the size guard ({together} records together, at most {spec.max_cluster_size})"
        )
    for rule in spec.cannot_link:
        checker = CannotLinkChecker(work, [rule])
        checker.prepare(np.concatenate([first, second]))
        if checker.conflict(first.tolist(), second.tolist()):
            reasons.append(f"a cannot-link on {rule.column} between their records")
    # Vetoed candidate pairs with one record on each side.
    side = sides.select(pl.col(id_col).alias("id"), "entity_id")
    vetoed = (
        result.pairs.filter(pl.col("vetoed"))
        .select(pl.col(f"{id_col}_l").cast(pl.String), pl.col(f"{id_col}_r").cast(pl.String))
        .join(side.rename({"id": f"{id_col}_l", "entity_id": "e_l"}), on=f"{id_col}_l")
        .join(side.rename({"id": f"{id_col}_r", "entity_id": "e_r"}), on=f"{id_col}_r")
        .filter(pl.col("e_l") != pl.col("e_r"))
    )
    if vetoed.height:
        a, b = vetoed.row(0)[:2]
        rows = [_row_of(ids, x, id_col) for x in (a, b)]
        label = _veto_label(comparator, spec, np.array(rows[:1]), np.array(rows[1:]))
        more = f" and {vetoed.height - 1} more pair(s)" if vetoed.height > 1 else ""
        reasons.append(f"a veto between {a} and {b} ({label}){more}")
    return tuple(reasons)


def explain_pair(result: DedupeResult, left_id: str, right_id: str) -> PairExplanation:
    spec, work = result.spec, result.work
    id_col = spec.id_column
    ids = work[id_col].cast(pl.String)
    positions = [_row_of(ids, wanted, id_col) for wanted in (left_id, right_id)]
    left, right = np.array([positions[0]]), np.array([positions[1]])
    comparator = Comparator(work)
    gamma = comparator.gamma(spec.comparisons, left, right)
    weights = match_weights(gamma, result.model) + tf_adjustments(
        comparator, spec, result.model, None, gamma, left
    )
    prob = float(probability(weights.sum(axis=1), result.model.prior)[0])
    vetoed_by = _veto_label(comparator, spec, left, right)
    if vetoed_by:
        prob = 0.0
    fields = []
    for k, comp in enumerate(spec.comparisons):
        level = int(gamma[0, k])
        label = "missing value" if level == NULL_LEVEL else comp.labels[level]
        values = work[comp.column].cast(pl.String)
        fields.append(
            FieldExplanation(
                comparison=comp.name,
                left=values[positions[0]],
                right=values[positions[1]],
                level=label,
                weight=round(float(weights[0, k]), 3),
            )
        )
    # The two records' entities only (a dict of every record's took ~1 s at 1M rows).
    entities = result.entities.select(pl.col(id_col).cast(pl.String), "entity_id")
    entity_ids = tuple(
        entities.filter(pl.col(id_col) == str(wanted))["entity_id"].cast(pl.String).first()
        for wanted in (left_id, right_id)
    )
    prior_weight = log2_odds(result.model.prior)
    same_entity = entity_ids[0] == entity_ids[1]
    kept_apart_by: tuple[str, ...] = ()
    if not same_entity and not vetoed_by and prob >= result.threshold:
        kept_apart_by = _kept_apart_by(result, comparator, ids, entity_ids)
    return PairExplanation(
        left_id=str(left_id),
        right_id=str(right_id),
        fields=fields,
        prior_weight=round(prior_weight, 3),
        match_weight=round(prior_weight + float(weights.sum()), 3),
        match_probability=prob,
        threshold=result.threshold,
        same_entity=same_entity,
        vetoed_by=vetoed_by,
        kept_apart_by=kept_apart_by,
    )
