"""One resolution of the lead table against what the last one left: full, incremental or
unchanged, decided here so any caller (the Dagster assets, a script) resolves the same way.

- full: no previous run, another spec, a changed spec or engine (the stored model's levels
  and the stored fingerprints are what they made: `digests`), fingerprints of another
  spec, a lead gone, or asked for; every lead is resolved again, entity ids kept stable;
- incremental: only new leads are matched against the resolved ones with the stored model,
  or, with no new lead, labels given since the last run are applied to the records they name;
- unchanged: nothing new, no new label.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipeline.dedupe.digests import model_digest
from pipeline.dedupe.engine import DedupeResult, dedupe
from pipeline.dedupe.entities import EVENT_SCHEMA, begins_with
from pipeline.dedupe.find_matches_to_new_records import match_incremental
from pipeline.dedupe.labels import ordered
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.prepare import latest_per_id
from pipeline.dedupe.spec import MatchSpec, load_spec


@dataclass
class PreviousRun:
    """The tables the last resolution wrote (None: never written)."""

    entities: pl.DataFrame | None = None
    # spec, threshold, model_json[, labels_digest, engine_digest]
    model: pl.DataFrame | None = None
    fingerprints: pl.DataFrame | None = None
    pairs: pl.DataFrame | None = None
    golden: pl.DataFrame | None = None
    events: pl.DataFrame | None = None


@dataclass
class Resolution:
    """Every table of the resolution, as it now stands, and how it was reached."""

    mode: str  # full | incremental | unchanged
    fingerprints: pl.DataFrame
    pairs: pl.DataFrame
    entities: pl.DataFrame
    golden: pl.DataFrame
    model: pl.DataFrame
    events: pl.DataFrame  # the whole history
    new_events: pl.DataFrame  # this run's
    threshold: float
    report: dict = field(default_factory=dict)
    result: DedupeResult | None = None  # the engine's, when it ran

    def as_previous(self) -> PreviousRun:
        """The tables this resolution leaves, as the next one reads them."""
        return PreviousRun(
            entities=self.entities,
            model=self.model,
            fingerprints=self.fingerprints,
            pairs=self.pairs,
            golden=self.golden,
            events=self.events,
        )


def labels_digest(labels: pl.DataFrame | None) -> str:
    """A hash of the labels a run honoured: a new label since then calls for a run."""
    if labels is None or labels.is_empty():
        return ""
    rows = ordered(labels).sort(["left_id", "right_id"]).select("left_id", "right_id", "label")
    return hashlib.sha256(rows.write_csv().encode()).hexdigest()[:16]


def model_frame(result: DedupeResult, spec_name: str, digest: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "spec": [spec_name],
            "threshold": [result.threshold],
            "model_json": [json.dumps(result.model.to_dict())],
            "labels_digest": [digest],
            "engine_digest": [model_digest(result.spec)],
        }
    )


def resolved_rows(leads: pl.DataFrame, previous: PreviousRun, id_col: str) -> pl.Series | None:
    """Which of the leads are the resolved ones, when the leads hold every resolved lead in
    the stored order (their stored fingerprints in that order too) with new ones anywhere
    between: the usual state of a table that grows, and of file leads followed by CRM
    contacts. The resolved and the new leads are then a mask's two sides (a prefix and the
    rest when they come first, no copy), not joins of a million ids (a 10k batch against
    990k leads: 2.4-3.6 -> 0.2 s before matching). None otherwise: a lead gone, another
    order."""
    if previous.entities is None or previous.fingerprints is None:
        return None
    resolved, ids = previous.entities[id_col], leads[id_col]
    if not previous.fingerprints[id_col].equals(resolved):
        return None
    if begins_with(ids, resolved):
        return pl.Series("resolved", np.arange(ids.len()) < resolved.len())
    mask = ids.is_in(resolved.implode())
    if mask.sum() != resolved.len() or not ids.filter(mask).equals(resolved):
        return None
    return mask


def _first_rows(mask: pl.Series) -> int | None:
    """How many rows `mask` holds, when they are the first ones (a slice will do)."""
    held = int(mask.sum())
    return held if not mask.slice(held).any() else None


def _why_full(
    leads: pl.DataFrame,
    previous: PreviousRun,
    spec: MatchSpec,
    spec_name: str,
    resolved: pl.Series | None = None,
) -> str | None:
    """Why the leads must be resolved in full, or None when an incremental run can do."""
    if previous.entities is None or previous.model is None or previous.fingerprints is None:
        return "no previous resolution"
    if previous.model["spec"][0] != spec_name:
        return f"the last run used spec {previous.model['spec'][0]!r}"
    # A model stored before its digest was: what it was made by is not known.
    model = previous.model
    stored = model["engine_digest"][0] if "engine_digest" in model.columns else None
    if stored != model_digest(spec):
        return "the spec or the engine changed since the stored model and fingerprints were made"
    id_col = spec.id_column
    # A spec whose fingerprints changed needs a full pass to rebuild them.
    if set(previous.fingerprints.columns) != {id_col, *spec.fingerprints}:
        return "the stored fingerprints are another spec's"
    if (
        resolved is None
        and leads.join(previous.entities, on=id_col, how="semi").height != previous.entities.height
    ):
        return "resolved leads are gone from the table"
    return None


def resolve(
    normalized: pl.DataFrame,
    previous: PreviousRun,
    spec_name: str = "leads",
    threshold: float | None = None,
    full_refresh: bool = False,
    labels: pl.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> Resolution:
    """Resolve `normalized` leads (the latest row per lead counts) against `previous`."""
    say = progress or (lambda _: None)
    spec = load_spec(spec_name)
    id_col = spec.id_column
    leads = latest_per_id(normalized, id_col)
    digest = labels_digest(labels)
    previous_digest = ""
    if previous.model is not None and "labels_digest" in previous.model.columns:
        previous_digest = previous.model["labels_digest"][0] or ""
    fingerprint_cols = [id_col, *spec.fingerprints]
    old_events = previous.events if previous.entities is not None else None
    resolved_mask = resolved_rows(leads, previous, id_col)
    why = (
        "asked for" if full_refresh else _why_full(leads, previous, spec, spec_name, resolved_mask)
    )
    if why:
        say(f"full resolution of {leads.height} lead(s): {why}")
        result = dedupe(
            leads,
            spec,
            threshold=threshold,
            previous_entities=previous.entities,
            progress=say,
            labels=labels,
        )
        new_events = result.events
        return Resolution(
            mode="full",
            fingerprints=result.work.select(fingerprint_cols),
            pairs=result.pairs,
            entities=result.entities,
            golden=result.golden,
            model=model_frame(result, spec_name, digest),
            events=pl.concat([old_events, new_events]) if old_events is not None else new_events,
            new_events=new_events,
            threshold=result.threshold,
            report={"mode": "full", **result.report},
            result=result,
        )
    assert previous.entities is not None and previous.model is not None
    assert previous.fingerprints is not None
    first = _first_rows(resolved_mask) if resolved_mask is not None else None
    if first is not None:
        new = leads.slice(first)
    elif resolved_mask is not None:
        new = leads.filter(~resolved_mask)
    else:
        new = leads.join(previous.entities, on=id_col, how="anti")
    stored_threshold = float(previous.model["threshold"][0])
    used_threshold = threshold if threshold is not None else stored_threshold
    if new.is_empty() and digest == previous_digest:
        say("nothing new: no new lead, no new label")
        return Resolution(
            mode="unchanged",
            fingerprints=previous.fingerprints,
            pairs=previous.pairs if previous.pairs is not None else pl.DataFrame(),
            entities=previous.entities,
            golden=previous.golden if previous.golden is not None else pl.DataFrame(),
            model=previous.model,
            events=old_events if old_events is not None else pl.DataFrame(schema=EVENT_SCHEMA),
            new_events=pl.DataFrame(schema=EVENT_SCHEMA),
            threshold=used_threshold,
            report={"mode": "unchanged"},
        )
    # The stored fingerprints, less the columns the leads carry themselves (the id kept).
    stored = previous.fingerprints.drop(
        c for c in previous.fingerprints.columns if c in leads.columns and c != id_col
    )
    if resolved_mask is not None:  # in the stored order: side by side
        old = leads.head(first) if first is not None else leads.filter(resolved_mask)
        existing = pl.concat([old, stored.drop(id_col)], how="horizontal")
    else:
        existing = leads.join(previous.entities, on=id_col, how="semi").join(
            stored, on=id_col, how="left"
        )
    say(f"incremental: {new.height} new lead(s) against {previous.entities.height}")
    model = FSModel.from_dict(json.loads(previous.model["model_json"][0]))
    result = match_incremental(
        existing,
        previous.entities,
        new,
        model,
        spec,
        used_threshold,
        existing_fingerprinted=True,
        labels=labels,
    )
    fingerprints = pl.concat(
        [previous.fingerprints, result.work.select(fingerprint_cols)],
        how="vertical_relaxed",
    )
    pairs = result.pairs
    if previous.pairs is not None:
        pairs = pl.concat([previous.pairs, result.pairs], how="diagonal_relaxed")
    touched = pl.concat([result.golden["entity_id"], result.events["other_entity_id"].drop_nulls()])
    golden = result.golden
    if previous.golden is not None:
        # The untouched records where they were, the batch's after them: a sort by entity id
        # moved every column of half a million records (0.5 s at 1M leads) for an order
        # nothing reads (a full run's is singletons first, then merged entities).
        golden = pl.concat(
            [previous.golden.filter(~pl.col("entity_id").is_in(touched.implode())), golden],
            how="diagonal_relaxed",
        )
    model_table = previous.model.with_columns(pl.lit(digest).alias("labels_digest"))
    new_events = result.events
    return Resolution(
        mode="incremental",
        fingerprints=fingerprints,
        pairs=pairs,
        entities=result.entities,
        golden=golden,
        model=model_table,
        events=pl.concat([old_events, new_events]) if old_events is not None else new_events,
        new_events=new_events,
        threshold=used_threshold,
        report={"mode": "incremental", **result.report},
        result=result,
    )
