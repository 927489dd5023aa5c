"""Why two records were (or were not) merged: each field's level, values, weight and the
final probability, computed with the same code and parameters the run used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.dedupe.compare import NULL_LEVEL, Comparator
from pipeline.dedupe.engine import DedupeResult
from pipeline.dedupe.model import match_weights, probability
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
            lines.append(
                "  above the threshold, but the clustering keeps them apart: a cannot-link "
                "rule, a no_match label, the size guard, or few links between their groups "
                "(thin_bridges)"
            )
        return "\n".join(lines)


def explain_pair(result: DedupeResult, left_id: str, right_id: str) -> PairExplanation:
    spec, work = result.spec, result.work
    id_col = spec.id_column
    ids = work[id_col].cast(pl.String)
    positions = []
    for wanted in (left_id, right_id):
        hit = np.flatnonzero((ids == str(wanted)).to_numpy())
        if not len(hit):
            raise KeyError(f"no record with {id_col} = {wanted!r}")
        positions.append(int(hit[0]))
    left, right = np.array([positions[0]]), np.array([positions[1]])
    comparator = Comparator(work)
    gamma = comparator.gamma(spec.comparisons, left, right)
    weights = match_weights(gamma, result.model) + tf_adjustments(
        comparator, spec, result.model, None, gamma, left
    )
    prob = float(probability(weights.sum(axis=1), result.model.prior)[0])
    vetoed_by = None
    for veto in spec.vetoes:
        single = spec.model_copy(update={"vetoes": [veto]})
        if vetoed_pairs(comparator, single, left, right)[0]:
            vetoed_by = veto.label or f"veto on {veto.column}"
            prob = 0.0
            break
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
    entity = dict(result.entities.select(pl.col(id_col).cast(pl.String), "entity_id").iter_rows())
    prior_weight = float(np.log2(result.model.prior / (1 - result.model.prior)))
    return PairExplanation(
        left_id=str(left_id),
        right_id=str(right_id),
        fields=fields,
        prior_weight=round(prior_weight, 3),
        match_weight=round(prior_weight + float(weights.sum()), 3),
        match_probability=prob,
        threshold=result.threshold,
        same_entity=entity.get(str(left_id)) == entity.get(str(right_id)),
        vetoed_by=vetoed_by,
    )
