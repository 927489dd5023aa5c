"""Term-frequency adjustments: a shared rare value ('Zbigniew', a direct line) says more than
a shared common one ('John', a switchboard)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from pipeline.dedupe.blocking import BlockLayout
from pipeline.dedupe.compare import Comparator, combined_keys, hashed_columns, hashed_keys
from pipeline.dedupe.entities import members_of_entities_of
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.spec import JointFrequency, MatchSpec

# Term-frequency adjustments are bounded so one rare value cannot outvote every other field.
TF_ADJUSTMENT_BOUND = 8.0
# Below this, value frequencies are noise (in a six-row file every value is 'common').
MIN_RECORDS_FOR_TF = 200


def tf_tables(
    frame: pl.DataFrame,
    spec: MatchSpec,
    only: pl.DataFrame | None = None,
    hashed: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, pl.DataFrame]:
    """Relative frequency of each value, for comparisons that adjust by term frequency
    (none for tables too small for frequencies to mean anything). With `only`, just the
    values that occur in it (frequencies still over all of `frame`): an incremental batch
    looks up a few thousand values, no need to count a million. `hashed` is
    `hashed_columns(frame, ...)` where the caller has it (the joint frequencies hash the
    same columns)."""
    if frame.height < MIN_RECORDS_FOR_TF:
        return {}
    adjusted = [comp for comp in spec.comparisons if comp.tf_adjustment]

    def table(column: str) -> pl.DataFrame:
        values = frame[column]
        total = max(values.len() - values.null_count(), 1)
        if only is None:
            return (
                values.drop_nulls()
                .value_counts(name="count")
                .select(
                    pl.col(column).cast(pl.String).alias("value"),
                    (pl.col("count") / total).alias("tf"),
                )
            )
        # Counted by hash: the column's 64-bit hashes are probed and counted, not its strings
        # (a first name is held by most rows of a million: 0.08 -> 0.02 s a column), and the
        # counts joined back to the batch's distinct values by the same hash.
        distinct = only[column].drop_nulls().unique()
        wanted = pl.DataFrame(
            {"value": distinct.cast(pl.String), "hash": distinct.hash(seed=7)}  # as hashed_keys
        )
        key, present = (hashed or {}).get(column) or hashed_keys(values)
        hashes = pl.Series(key).filter(pl.Series(present))
        counts = (
            hashes.filter(hashes.is_in(wanted["hash"].implode()))
            .rename("hash")
            .value_counts(name="count")
        )
        return wanted.join(counts, on="hash").select("value", (pl.col("count") / total).alias("tf"))

    # A column per thread (polars releases the GIL): 0.22-0.25 -> 0.17 s a batch at 1M rows.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counted = list(pool.map(table, [comp.column for comp in adjusted]))
    return {comp.name: found for comp, found in zip(adjusted, counted, strict=True)}


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
    out = np.zeros(gamma.shape, dtype=np.float32, order="F")  # column-major like gamma
    if tables is None and comparator.frame.height < MIN_RECORDS_FOR_TF:
        return out

    def adjust(k: int) -> None:
        comp = spec.comparisons[k]
        # Positions, not a mask: each gather and the write below by a mask cost three times
        # as much (0.5 s of a 1M-row run's scoring).
        rows = np.flatnonzero(gamma[:, k] == 0)
        if not len(rows):
            return
        column = out[:, k]  # a view: contiguous when gamma is column-major
        if tables is None:
            # Per row (from hashes unless the column is encoded anyway), then one gather.
            own = (frequencies or {}).get(comp.column)
            if own is None:
                tf = comparator.row_frequencies(comp.column)[left[rows]]
            else:  # each side's own: the mean of the two
                tf = (own[left[rows]] + own[right[rows]]) / 2
            adj = np.log2(model.u[k][0] / np.clip(tf, 1e-9, 1))
            column[rows] = np.clip(adj, -TF_ADJUSTMENT_BOUND, TF_ADJUSTMENT_BOUND)
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
        column[rows] = adj[enc.codes[left[rows]]]

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
    for joint in spec.joint_frequencies:
        _adjust_jointly(spec, model, frequencies, joint, gamma, out)
    return out


def joint_key(spec: MatchSpec, joint: JointFrequency) -> str:
    """The name a joint frequency's per-row values go by (`Comparator.joint_keys`)."""
    return "+".join(spec.joint_columns(joint))


def counts_from_blocks(
    spec: MatchSpec, layouts: list[BlockLayout], n: int
) -> dict[str, np.ndarray]:
    """Per row, how many rows hold its value, for each compared column and each joint
    frequency that a blocking rule blocks on exactly (`same_email`, `same_full_name`), from
    that rule's layout (`layouts`, one per rule): its blocks are those groups, sorted
    already, so the count is a scatter, not a count over a million keys (the email's and
    the two phones' counts took 0.2 s at 1M rows). By column name or `joint_key`, for
    `Comparator(_counts=...)`."""
    out: dict[str, np.ndarray] = {}
    keys = [rule.keys for rule in spec.blocking]
    wanted = {joint_key(spec, joint): spec.joint_columns(joint) for joint in spec.joint_frequencies}
    wanted |= {comp.column: [comp.column] for comp in spec.comparisons}
    for name, columns in wanted.items():
        if columns in keys:
            layout = layouts[keys.index(columns)]
            counts = np.zeros(n, dtype=np.int32)
            counts[layout.rows] = np.repeat(layout.sizes, layout.sizes)
            out[name] = counts
    return out


def joint_frequencies(
    frame: pl.DataFrame,
    spec: MatchSpec,
    entities: pl.DataFrame,
    rows: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    hashed: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """Per pair (`left`, `right`: positions in `rows`, rows of `frame`), the share of the
    records holding the pair's combination (a full name) that belong to neither record's
    entity, by `joint_key`; NaN where more than `max_holders` records hold it. For
    incremental runs, where the resolved entities (`entities`: id, entity_id; a new record
    has none and is its own) say who is whom: a new sighting of a known person is no
    namesake of that person's records. Only the records holding the pairs' combinations
    are looked at (a few thousand, not a million). A full run counts the same without the
    matches its candidate pairs find (`chance_agreement_without_matches`). `hashed` as in
    `tf_tables`."""
    if frame.height < MIN_RECORDS_FOR_TF or not len(left):
        return {}
    # Each column hashed once (several joints share a column), in one select; a joint's
    # key is its columns' hashes combined, so the table is scanned as integers, not strings.
    needed = list(
        dict.fromkeys(c for joint in spec.joint_frequencies for c in spec.joint_columns(joint))
    )
    hashed = {**(hashed or {})}
    hashed.update(hashed_columns(frame, [c for c in needed if c not in hashed]))

    def holding(joint: JointFrequency) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(each row's key, whether it has one, the rows holding a key of the pairs' rows
        that few enough records hold)."""
        key, present = combined_keys([hashed[c] for c in spec.joint_columns(joint)])
        wanted = pl.Series(key[rows]).filter(pl.Series(present[rows])).unique()
        held = np.flatnonzero(present & pl.Series(key).is_in(wanted.implode()).to_numpy())
        if joint.max_holders is not None:  # the others are left to their parts' frequencies
            counted = pl.DataFrame({"key": key[held]}).select(pl.len().over("key")).to_series()
            held = held[(counted <= joint.max_holders).to_numpy()]
        return key, present, held

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        holders = list(pool.map(holding, spec.joint_frequencies))
        # Whose record each holding row is, looked up once for every joint (a join of the
        # string ids per joint was most of the time: 0.5 s a 10k batch at 1M).
        owner_of = _owners(frame, spec.id_column, entities, rows)

        def frequency(joint_holders: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
            key, present, held = joint_holders
            held_owner = owner_of(held)
            # A row holding no counted key (none, or one too many records hold) is its own.
            is_held = np.zeros(frame.height, dtype=bool)
            is_held[held] = True
            row_owner = np.where(is_held[rows], owner_of(rows), -1 - rows.astype(np.int64))
            table = pl.DataFrame({"key": key[held], "owner": held_owner})
            per_row = (
                pl.DataFrame({"key": pl.Series(key[rows]).set(pl.Series(~is_held[rows]), None),
                              "owner": row_owner})
                .join(table.group_by("key").len("count"), on="key", how="left",
                      maintain_order="left")
                .join(table.group_by("key", "owner").len("own"), on=["key", "owner"],
                      how="left", maintain_order="left")
            )  # fmt: skip
            count = per_row["count"].fill_null(0).to_numpy()
            own = per_row["own"].fill_null(0).to_numpy()
            same = row_owner[left] == row_owner[right]
            outside = count[left] - np.where(same, own[left], own[left] + own[right])
            return np.where(count[left] > 0, outside / max(int(present.sum()) - 1, 1), np.nan)

        found = pool.map(frequency, holders)
        return {
            joint_key(spec, joint): values
            for joint, values in zip(spec.joint_frequencies, found, strict=True)
        }


def _owners(
    frame: pl.DataFrame, id_col: str, entities: pl.DataFrame, rows: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """A lookup from rows of `frame` to an integer per entity, as far as the counts need it:
    the entity of each of `rows` and of every other record of those entities. Any other row
    (a new record, or one of an entity none of `rows` is in) is its own: -1 - row. One scan
    of the frame's string ids, where a join of every holding row's id cost 0.3 s a batch at
    1M rows (`match_incremental` passes only the entities of its involved records)."""
    ids = frame[id_col]
    members = entities[members_of_entities_of(entities, ids.gather(rows), id_col)]
    at = np.flatnonzero(ids.is_in(members[id_col].implode()).to_numpy())
    code = (
        pl.DataFrame({id_col: ids.gather(at)})
        .join(members.select(id_col, "entity_id"), on=id_col, how="left", maintain_order="left")
        .select(pl.col("entity_id").rank("dense").cast(pl.Int64))
        .to_series()
        .to_numpy()
    )

    def owner_of(asked: np.ndarray) -> np.ndarray:
        found = np.minimum(np.searchsorted(at, asked), max(len(at) - 1, 0))
        hit = at[found] == asked if len(at) else np.zeros(len(asked), dtype=bool)
        return np.where(hit, code[found] if len(at) else 0, -1 - asked.astype(np.int64))

    return owner_of


def joint_agreement(spec: MatchSpec, joint: JointFrequency, gamma: np.ndarray) -> np.ndarray:
    """Per pair, whether every comparison of `joint` agrees: exactly, or at its `also_at`
    level."""
    agree = []
    for k in spec.joint_members(joint):
        also, _ = spec.joint_level(joint, k)
        at = gamma[:, k] == 0
        agree.append(at if also is None else at | (gamma[:, k] == also))
    return np.logical_and.reduce(agree)


def _adjust_jointly(
    spec: MatchSpec,
    model: FSModel,
    frequencies: dict[str, np.ndarray] | None,
    joint: JointFrequency,
    gamma: np.ndarray,
    out: np.ndarray,
) -> None:
    """Where every comparison of `joint` agrees exactly, their adjustments (`out`, in place)
    replaced by log2(product of their u_exact / frequency of the combination) where that is
    lower: a full name shared by several people (namesakes) says less than its first name's
    and surname's frequencies suggest. The adjustment is shared equally by the members.

    Needs the combination's frequency among other people's records, per pair
    (`frequencies`, by `joint_key`: `chance_agreement_without_matches` in a full run,
    `joint_frequencies` in an incremental one); counted over all records, a rare name held
    by one person's three records would look shared. NaN (too many holders to say) leaves
    a pair as it is."""
    per_pair = (frequencies or {}).get(joint_key(spec, joint))
    if per_pair is None:
        return
    members = spec.joint_members(joint)
    rows = np.flatnonzero(joint_agreement(spec, joint, gamma))
    tf = per_pair[rows]
    known = ~np.isnan(tf)
    rows, tf = rows[known], tf[known]
    if not len(rows):
        return
    # Each comparison's chance agreement at the level the pair agrees on.
    u_exact = np.prod([model.u[k][gamma[rows, k]] for k in members], axis=0)
    bound = TF_ADJUSTMENT_BOUND * len(members)
    with np.errstate(divide="ignore"):
        jointly = np.clip(np.log2(u_exact / tf), -bound, bound)
    # Only ever less evidence than the parts give: nobody else holding a full name in a
    # table says it is rare, not that it is rarer than its parts make it.
    total = np.minimum(sum(out[rows, k] for k in members), jointly)
    share = (total / len(members)).astype(np.float32)
    for k in members:
        out[rows, k] = share
