"""Term-frequency adjustments: a shared rare value ('Zbigniew', a direct line) says more than
a shared common one ('John', a switchboard)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from pipeline.dedupe.compare import Comparator
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.spec import MatchSpec

# Term-frequency adjustments are bounded so one rare value cannot outvote every other field.
TF_ADJUSTMENT_BOUND = 8.0
# Below this, value frequencies are noise (in a six-row file every value is 'common').
MIN_RECORDS_FOR_TF = 200


def tf_tables(
    frame: pl.DataFrame, spec: MatchSpec, only: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """Relative frequency of each value, for comparisons that adjust by term frequency
    (none for tables too small for frequencies to mean anything). With `only`, just the
    values that occur in it (frequencies still over all of `frame`): an incremental batch
    looks up a few thousand values, no need to count a million."""
    tables: dict[str, pl.DataFrame] = {}
    if frame.height < MIN_RECORDS_FOR_TF:
        return tables
    for comp in spec.comparisons:
        if comp.tf_adjustment:
            values = frame[comp.column].drop_nulls()
            total = max(len(values), 1)
            if only is not None:
                values = values.filter(values.is_in(only[comp.column].drop_nulls().implode()))
            tables[comp.name] = (
                values.value_counts(name="count")
                .with_columns((pl.col("count") / total).alias("tf"))
                .select(pl.col(comp.column).cast(pl.String).alias("value"), "tf")
            )
    return tables


def tf_adjustments(
    comparator: Comparator,
    spec: MatchSpec,
    model: FSModel,
    tables: dict[str, pl.DataFrame] | None,
    gamma: np.ndarray,
    left: np.ndarray,
    right: np.ndarray | None = None,
    frequencies: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """log2(u_exact / tf(value)) on exact agreements: a shared rare value says more.

    Frequencies come from `tables` (the whole table's, also when only a slice of it is
    being compared, as in incremental runs), looked up once per distinct value; with no
    tables, from `frequencies` (per row, by column: those counted without the matches,
    `estimate_u.chance_agreement_without_matches`; the mean of the pair's two, so `right`
    is needed with them) or the comparator's own frame (`Comparator.row_frequencies`).
    """
    out = np.zeros(gamma.shape, dtype=np.float32)
    if tables is None and comparator.frame.height < MIN_RECORDS_FOR_TF:
        return out

    def adjust(k: int) -> None:
        comp = spec.comparisons[k]
        exact = gamma[:, k] == 0
        if not exact.any():
            return
        if tables is None:
            # Per row (from hashes unless the column is encoded anyway), then one gather.
            own = (frequencies or {}).get(comp.column)
            if own is None:
                tf = comparator.row_frequencies(comp.column)[left[exact]]
            else:  # each side's own: the mean of the two
                tf = (own[left[exact]] + own[right[exact]]) / 2
            adj = np.log2(model.u[k][0] / np.clip(tf, 1e-9, 1))
            out[exact, k] = np.clip(adj, -TF_ADJUSTMENT_BOUND, TF_ADJUSTMENT_BOUND)
            return
        enc = comparator.encoded(comp.column)
        tf_by_code = (
            enc.distinct.alias("value")
            .to_frame()
            .join(tables[comp.name], on="value", how="left", maintain_order="left")["tf"]
            .fill_null(1e-9)
            .to_numpy()
        )
        # Per distinct value, then one gather: values repeat across pairs.
        adj = np.log2(model.u[k][0] / np.clip(tf_by_code, 1e-9, 1))
        adj = np.clip(adj, -TF_ADJUSTMENT_BOUND, TF_ADJUSTMENT_BOUND).astype(np.float32)
        out[exact, k] = adj[enc.codes[left[exact]]]

    adjusted = [
        k
        for k, comp in enumerate(spec.comparisons)
        if comp.tf_adjustment
        and comp.levels[0].type == "exact"
        and (tables is None or comp.name in tables)
    ]
    # Comparisons in threads (numpy's masks and gathers release the GIL), each its own column.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(adjust, adjusted))
    return out
