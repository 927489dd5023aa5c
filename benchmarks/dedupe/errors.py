"""Error analysis of our engine on a prepared dataset with ground truth.

    python benchmarks/dedupe/errors.py --dataset leads_100000_standard [--threshold 0.95]

Runs `dedupe()` in this process (the truth column dropped first), then reports:

* false merges: links at or above the threshold that join two true entities and survive
  clustering ("false links"), grouped by the blocking rule that found the pair and the
  per-field levels, plus how many false cluster pairs are direct links vs implied by
  chains (transitivity);
* missed matches: true pairs our entities split, grouped by why: blocking never generated
  the pair, a veto zeroed it (which veto), it scored below the threshold (which fields
  disagreed), or it scored above but a clustering guard (cannot-link, size) cut it;

with example record pairs side by side. Needs the dataset's `true_entity_id`.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import polars as pl

from common import TRUE_COL, add_import_paths, dataset_by_name
from metrics import cluster_pair_metrics

SHOW = [
    "first_name",
    "last_name",
    "email_canonical",
    "phone_e164",
    "phone_extension",
    "mobile_e164",
    "company_key",
    "domain",
    "job_title",
    "city",
    "address",
]


def _show_pair(work: pl.DataFrame, a: int, b: int, note: str) -> None:
    ra, rb = work.row(a, named=True), work.row(b, named=True)
    print(f"    -- {note}")
    for col in SHOW:
        va, vb = ra.get(col), rb.get(col)
        mark = " " if va == vb else "*"
        print(f"      {mark} {col:16} {str(va)[:38]:40} {str(vb)[:38]}")


def _levels(pairs: pl.DataFrame, comps: list[str]) -> pl.Expr:
    """One string per pair: each comparison's level, '-' for a missing value."""
    return pl.concat_str(
        [
            pl.lit(f"{c[:5]}=") + pl.col(f"{c}_level").cast(pl.String).str.replace("^-1$", "-")
            for c in comps
        ],
        separator=" ",
    ).alias("levels")


def _veto_names(spec) -> list[str]:
    return [v.label or f"veto {i}" for i, v in enumerate(spec.vetoes)]


def veto_hits(work: pl.DataFrame, spec, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(pairs, vetoes) bool: which veto rules hit each pair, one rule at a time."""
    from pipeline.dedupe.compare import Comparator
    from pipeline.dedupe.vetoes import vetoed_pairs

    comparator = Comparator(work)
    comparator.gamma(spec.comparisons, left, right)  # the similarities vetoes reuse
    out = np.zeros((len(left), len(spec.vetoes)), dtype=bool)
    for k, veto in enumerate(spec.vetoes):
        one = spec.model_copy(update={"vetoes": [veto]})
        out[:, k] = vetoed_pairs(comparator, one, left, right)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--examples", type=int, default=3, help="example pairs per class")
    parser.add_argument("--top", type=int, default=12, help="classes listed per section")
    args = parser.parse_args()
    add_import_paths()
    from pipeline.dedupe import dedupe

    dataset = dataset_by_name(args.dataset)
    frame = pl.read_parquet(dataset.path).rechunk()
    truth = frame.select(dataset.id_col, TRUE_COL)
    start = time.perf_counter()
    result = dedupe(frame.drop(TRUE_COL), spec=dataset.spec, threshold=args.threshold)
    wall = time.perf_counter() - start
    id_col, spec, threshold = dataset.id_col, result.spec, result.threshold
    comps = [c.name for c in spec.comparisons]
    metrics = cluster_pair_metrics(result.entities, truth, id_col=id_col)
    print(f"{dataset.name}: threshold {threshold}, {wall:.1f} s, prior {result.model.prior:.3g}")
    print(
        f"cluster P/R/F1 {metrics.precision:.4f} / {metrics.recall:.4f} / {metrics.f1:.4f}"
        f"  (FP pairs {metrics.fp:,}, FN pairs {metrics.fn:,}; candidate pairs"
        f" {result.pairs.height:,})"
    )
    for name, m in zip(comps, result.model.weights(), strict=True):
        print(f"  weights {name:13} " + " ".join(f"{w:6.1f}" for w in m))

    work = result.work
    row = pl.DataFrame({id_col: frame[id_col], "row": np.arange(frame.height)})
    ent = (
        result.entities.join(truth, on=id_col)
        .join(row, on=id_col)
        .sort("row")
        .select("row", "entity_id", TRUE_COL)
    )
    pred = ent["entity_id"].to_numpy()
    true = ent[TRUE_COL].cast(pl.Categorical).to_physical().to_numpy()
    pairs = result.pairs.join(
        row.rename({id_col: f"{id_col}_l", "row": "l"}), on=f"{id_col}_l"
    ).join(row.rename({id_col: f"{id_col}_r", "row": "r"}), on=f"{id_col}_r")
    pairs = pairs.with_columns(_levels(pairs, comps))
    left, right = pairs["l"].to_numpy(), pairs["r"].to_numpy()
    prob = pairs["match_probability"].to_numpy()

    # ---- false merges
    linked = (prob >= threshold) & (pred[left] == pred[right])
    false_link = linked & (true[left] != true[right])
    contingency = ent.group_by("entity_id", TRUE_COL).len()
    sizes = contingency.group_by("entity_id").agg(
        pl.len().alias("n_true"), pl.col("len").sum().alias("size")
    )
    mixed = sizes.filter(pl.col("n_true") > 1)
    direct = int(false_link.sum())
    print(
        f"\n== FALSE MERGES: {mixed.height:,} entities mix {int(mixed['n_true'].sum()):,} true"
        f" entities; {metrics.fp:,} false pairs, of which {direct:,} direct links"
        f" ({metrics.fp - direct:,} implied by chains)"
    )
    print("  mixed entity sizes:", dict(Counter(np.minimum(mixed["size"].to_numpy(), 20).tolist())))
    fl = pairs.filter(pl.Series(false_link))
    by_rule = fl.group_by("blocking_rule").len().sort("len", descending=True)
    print("  false links by blocking rule:", dict(by_rule.iter_rows()))
    coarse = _levels(fl, [*comps[:3], "organisation"]).alias("key_levels")
    by_key = fl.group_by(coarse).len().sort("len", descending=True).head(args.top)
    print("  false links by email/first/last/organisation levels:")
    for levels, n in by_key.iter_rows():
        print(f"  {n:6,}  {levels}")
    by_levels = fl.group_by("levels").agg(pl.len(), pl.col("match_probability").min().alias("pmin"))
    for levels, n, pmin in by_levels.sort("len", descending=True).head(args.top).iter_rows():
        print(f"  {n:6,}  {levels}  (p >= {pmin:.6f})")
        ex = fl.filter(pl.col("levels") == levels).head(args.examples)
        for a, b, p, rule in ex.select("l", "r", "match_probability", "blocking_rule").iter_rows():
            _show_pair(work, a, b, f"{rule}, p={p:.7f}")

    # ---- missed matches
    tt = pl.DataFrame({"row": np.arange(len(true)), "t": true, "e": pred})
    multi = tt.filter(pl.len().over("t") > 1)
    tp_pairs = multi.join(multi, on="t", suffix="_r").filter(pl.col("row") < pl.col("row_r"))
    missed = tp_pairs.filter(pl.col("e") != pl.col("e_r")).select(
        pl.col("row").alias("l"), pl.col("row_r").alias("r")
    )
    keyed = pairs.with_columns(
        pl.min_horizontal("l", "r").alias("a"), pl.max_horizontal("l", "r").alias("b")
    )
    missed = missed.join(
        keyed.drop("l", "r").rename({"a": "l", "b": "r"}), on=["l", "r"], how="left"
    )
    generated = missed.filter(pl.col("match_probability").is_not_null())
    print(
        f"\n== MISSED: {missed.height:,} true pairs split ({metrics.fn:,} FN);"
        f" {missed.height - generated.height:,} never generated by blocking"
    )
    ml, mr = generated["l"].to_numpy(), generated["r"].to_numpy()
    hits = veto_hits(work, spec, ml, mr) if len(ml) else np.zeros((0, len(spec.vetoes)), dtype=bool)
    names = _veto_names(spec)
    gp = generated["match_probability"].to_numpy()
    reason = np.where(
        hits.any(axis=1),
        "vetoed",
        np.where(gp >= threshold, "cut by clustering guard", "below threshold"),
    )
    generated = generated.with_columns(
        pl.Series("reason", reason),
        pl.Series(
            "veto",
            ["; ".join(n for n, h in zip(names, row, strict=True) if h) for row in hits],
        ),
    )
    print("  by reason:", dict(Counter(reason.tolist())))
    vetoed = generated.filter(pl.col("reason") == "vetoed")
    print("  vetoed by:", dict(vetoed.group_by("veto").len().sort("len").iter_rows()))
    for label, sub in (
        ("vetoed", vetoed),
        ("below threshold", generated.filter(pl.col("reason") == "below threshold")),
        (
            "cut by clustering guard",
            generated.filter(pl.col("reason") == "cut by clustering guard"),
        ),
    ):
        if not sub.height:
            continue
        coarse = _levels(sub, [*comps[:3], "organisation"]).alias("key_levels")
        by_key = sub.group_by(coarse).len().sort("len", descending=True).head(args.top)
        print(f"  -- {label}: by email/first/last/organisation levels")
        for levels, n in by_key.iter_rows():
            print(f"  {n:6,}  {levels}")
        print(f"  -- {label}: by levels")
        top = sub.group_by("levels").agg(pl.len()).sort("len", descending=True).head(args.top)
        for levels, n in top.iter_rows():
            print(f"  {n:6,}  {levels}")
        for top_levels in top["levels"].head(3):
            ex = sub.filter(pl.col("levels") == top_levels).head(args.examples)
            cols = ex.select("l", "r", "match_probability", "blocking_rule", "veto")
            for a, b, p, rule, veto in cols.iter_rows():
                _show_pair(work, a, b, f"{rule}, p={p:.3g} {veto}")
    never = missed.filter(pl.col("match_probability").is_null())
    if never.height:
        print("  -- never generated: examples")
        rng = np.random.default_rng(1)
        pick = rng.choice(never.height, size=min(args.examples * 3, never.height), replace=False)
        for a, b in never[pick].select("l", "r").iter_rows():
            _show_pair(work, a, b, "no candidate pair")


if __name__ == "__main__":
    main()
