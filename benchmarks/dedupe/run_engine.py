"""Run ONE dedupe engine on one prepared dataset, in this (fresh) process.

    python benchmarks/dedupe/run_engine.py --dataset leads_100000_standard --engine splink \
        --out benchmarks/dedupe/out/x

Writes to --out: `entities_<label>.parquet` (id, entity_id) per threshold (label "exact" for
the baseline), `pairs.parquet` (id_l, id_r, match_probability) when the engine scores pairs,
and `run.json`: wall time (excluding reading the input parquet and writing outputs), the CPU
seconds of the process over the same span, peak RSS (ru_maxrss at the end) and RSS right
after loading the input, both in MB.

Engines: `ours` (pipeline.dedupe.dedupe on `pl.scan_parquet` of the file, without keeping the
fingerprint table: the run from the file to golden records, reading included in its wall
time), `ours-memory` (the same on the table loaded first, keeping the fingerprints, as the
Dagster asset calls it), `splink` (Splink 5, DuckDB, the project's first configuration),
`splink-tuned` (the outside test's configuration, issue 15), `splink-strong` (the strongest
Splink configuration found for the lead sets; `splink_setup.py`), `baseline` (exact keys,
connected components). FEBRL runs every Splink engine with the person configuration. The
ground-truth column is dropped before any engine sees the data.
Works from /work/main/.venv or any venv with the project's dependencies plus the `bench` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from common import (
    SWEEP_THRESHOLDS,
    TRUE_COL,
    Dataset,
    add_import_paths,
    cpu_seconds,
    dataset_by_name,
    engine_digest,
    peak_rss_mb,
    say,
)

# The naive baseline's keys: records sharing any key (all its columns non-null) are merged.
BASELINE_KEYS: dict[str, list[list[str]]] = {
    "leads": [["email_canonical"], ["phone_e164"], ["first_name", "last_name", "company_key"]],
    "person": [["soc_sec_id"], ["given_name", "surname", "date_of_birth"]],
}


def run_baseline(frame: pl.DataFrame, kind: str, id_col: str) -> pl.DataFrame:
    """Union of exact-key matches: edges row -> first row with the same key, then components."""
    n = frame.height
    indexed = frame.with_row_index("_row")
    edges = []
    for key in BASELINE_KEYS[kind]:
        exprs = [pl.col(c).str.to_lowercase().str.strip_chars() for c in key]
        keyed = (
            indexed.select("_row", *exprs)
            .drop_nulls(key)
            .filter(pl.all_horizontal(pl.col(c).str.len_chars() > 0 for c in key))
        )
        edges.append(
            keyed.with_columns(pl.col("_row").min().over(key).alias("_rep"))
            .filter(pl.col("_row") != pl.col("_rep"))
            .select("_row", "_rep")
        )
    pairs = pl.concat(edges)
    left = pairs["_row"].to_numpy().astype(np.int64)
    right = pairs["_rep"].to_numpy().astype(np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    return pl.DataFrame({id_col: frame[id_col], "entity_id": labels.astype(np.int64)})


def run_ours(
    source: pl.DataFrame | pl.LazyFrame, kind: str, id_col: str, threshold: float | None
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame | None, dict]:
    add_import_paths()
    from pipeline.dedupe import dedupe

    lazy = isinstance(source, pl.LazyFrame)
    say(f"ours: dedupe(spec={kind!r}, threshold={threshold}, source={type(source).__name__})")
    result = dedupe(
        source,
        spec=kind,
        id_column=id_col,
        threshold=threshold,
        progress=say,
        keep_work=not lazy,
    )
    used = getattr(result, "threshold", threshold)
    entities = {str(used): result.entities.select(id_col, "entity_id")}
    pairs = None
    if getattr(result, "pairs", None) is not None and f"{id_col}_l" in result.pairs.columns:
        pairs = result.pairs.select(
            pl.col(f"{id_col}_l").alias("id_l"),
            pl.col(f"{id_col}_r").alias("id_r"),
            "match_probability",
        )
    extra = {"threshold": used, "engine_report": getattr(result, "report", {})}
    return entities, pairs, extra


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def run(dataset: Dataset, engine: str, out: Path, threshold: float | None, thresholds) -> dict:
    """Load, run, write outputs; returns the run record (also written to out/run.json)."""
    one_arena = False
    if engine.startswith("ours"):
        add_import_paths()
        from pipeline.malloc_arenas import use_one_malloc_arena

        # As `python -m pipeline` does, before anything else: arenas that threads made
        # before the cap stay in use (capped after a first polars scan, the 1M peak was
        # 1.50-1.57 GB against 1.27-1.35 GB).
        one_arena = use_one_malloc_arena()
    if engine == "ours":
        # Read by the engine itself, inside the timed run: nothing is loaded beforehand.
        source: pl.DataFrame | pl.LazyFrame = pl.scan_parquet(dataset.path)
        rows = pl.scan_parquet(dataset.path).select(pl.len()).collect().item()
    else:
        say(f"{engine}: reading {dataset.path.name}")
        source = pl.read_parquet(dataset.path)
        rows = source.height
    if TRUE_COL in source.collect_schema().names():
        source = source.drop(TRUE_COL)
    # No rechunk: the frame stays in its parquet row-group chunks, as the Dagster asset reads
    # it (a rechunk copied the whole input, +600 MB of peak at 1M rows for every engine).
    rss_loaded = peak_rss_mb()
    record: dict = {
        "engine": engine,
        "dataset": dataset.name,
        "rows": rows,
        "id_col": dataset.id_col,
        "rss_after_load_mb": round(rss_loaded, 1),
        # The machine may be shared: a 1-minute load above the core count means contention.
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }
    pairs: pl.DataFrame | None = None
    if engine.startswith("ours"):
        # Imported before the clock starts, as Splink's timings leave out its imports too.
        record["engine_digest"] = engine_digest()
        import pipeline.dedupe  # noqa: F401

        record["one_malloc_arena"] = one_arena
        record["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS")
    start, cpu_start = time.perf_counter(), cpu_seconds()
    if engine == "baseline":
        assert isinstance(source, pl.DataFrame)
        entities = {"exact": run_baseline(source, dataset.kind, dataset.id_col)}
        record["wall_s"] = round(time.perf_counter() - start, 3)
    elif engine in ("ours", "ours-memory"):
        entities, pairs, extra = run_ours(source, dataset.kind, dataset.id_col, threshold)
        record["wall_s"] = round(time.perf_counter() - start, 3)
        record.update(extra)
    elif engine.startswith("splink"):
        from splink_setup import run_splink

        assert isinstance(source, pl.DataFrame)
        # FEBRL keeps the person configuration whichever the engine.
        variant = {"splink-tuned": "leads-tuned", "splink-strong": "leads-strong"}.get(engine)
        kind = variant if variant and dataset.kind == "leads" else dataset.kind
        result = run_splink(source, kind, dataset.id_col, thresholds)
        total = round(time.perf_counter() - start, 3)
        pairs = result.pairs
        entities = {str(t): e for t, e in result.entities.items()}
        # One Splink pipeline = training + predict + clustering at ONE threshold; exporting
        # the pairs for our metrics is not part of it.
        core = sum(v for k, v in result.timings.items() if k != "export_pairs")
        record["wall_s_by_threshold"] = {
            str(t): round(core + s, 3) for t, s in result.cluster_seconds.items()
        }
        record["stages_s"] = result.timings
        record["cluster_s"] = {str(t): s for t, s in result.cluster_seconds.items()}
        record["wall_s_total_process"] = total
        record["wall_s"] = min(record["wall_s_by_threshold"].values())
    else:
        raise SystemExit(f"unknown engine {engine!r}")
    # CPU seconds over the same span as the wall time (for Splink, its whole run): the same
    # work costs more CPU in the VM's slow minutes, so this tells them from a slower engine.
    record["cpu_s"] = round(cpu_seconds() - cpu_start, 2)
    record["peak_rss_mb"] = round(peak_rss_mb(), 1)
    record["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    say(f"{engine}: done in {record['wall_s']:.2f} s, peak RSS {record['peak_rss_mb']:,.0f} MB")

    out.mkdir(parents=True, exist_ok=True)
    record["entities"] = {}
    for label, frame_out in entities.items():
        name = f"entities_{label}.parquet"
        frame_out.write_parquet(out / name)
        record["entities"][label] = name
    if pairs is not None:
        pairs.write_parquet(out / "pairs.parquet")
        record["pairs"] = "pairs.parquet"
    record["env"] = {
        "python": platform.python_version(),
        "executable": sys.executable,
        **{p: _version(p) for p in ("polars", "duckdb", "numpy", "splink")},
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one dedupe engine on one dataset.")
    parser.add_argument("--dataset", required=True, help="e.g. leads_100000_standard, febrl1")
    parser.add_argument(
        "--engine",
        required=True,
        choices=["ours", "ours-memory", "splink", "splink-tuned", "splink-strong", "baseline"],
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--threshold", type=float, help="ours: override the spec's threshold")
    parser.add_argument(
        "--thresholds",
        default=",".join(map(str, SWEEP_THRESHOLDS)),
        help="splink: cluster at each of these match probabilities",
    )
    args = parser.parse_args()
    dataset = dataset_by_name(args.dataset)
    if not dataset.path.exists():
        raise SystemExit(f"{dataset.path} is missing: run prepare_data.py / febrl.py first")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    run(dataset, args.engine, args.out, args.threshold, thresholds)


if __name__ == "__main__":
    main()
