"""A new batch matched against existing entities, without re-scoring the history.

    python benchmarks/dedupe/bench_incremental.py [--rows 1000000] [--new 10000] [--repeat 3]
        [--resolve]

Resolves the first rows-new leads in full (not timed), then times `match_incremental` of the
last `new` leads against them (fingerprints of the existing leads reused, as the Dagster
asset does from `lead_fingerprints`), and reports the cluster F1 of the combined result.
`--resolve` times `runs.resolve` instead, as the `dedupe_leads` asset calls it: the whole
table against the stored tables of the first resolution (written to parquet and read back,
in many chunks, as the warehouse returns them), deciding, matching and merging the tables.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

# As `python -m pipeline` does (pipeline/blas_threads.py), before numpy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import polars as pl

from common import DATA_DIR, add_import_paths
from metrics import cluster_pair_metrics

add_import_paths()  # this checkout's engine, not whichever the venv has installed

from pipeline.dedupe import dedupe, match_incremental  # noqa: E402
from pipeline.dedupe.runs import PreviousRun, resolve  # noqa: E402
from pipeline.malloc_arenas import use_one_malloc_arena  # noqa: E402

T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--noise", default="standard")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resolve", action="store_true", help="time runs.resolve, as the asset")
    args = parser.parse_args()
    use_one_malloc_arena()  # as `python -m pipeline` and the Dagster code location do
    frame = pl.read_parquet(DATA_DIR / f"leads_{args.rows}_{args.noise}.parquet")
    truth = frame.select("lead_id", "true_entity_id")
    data = frame.drop("true_entity_id")
    existing, new = data.head(args.rows - args.new), data.tail(args.new)
    print(f"resolving {existing.height:,} existing leads in full ...", flush=True)
    if args.resolve:
        time_resolve(data, existing, truth, args.repeat)
        return
    base = dedupe(existing)
    # The existing leads with their stored fingerprints, as the asset reads them.
    fingerprinted = pl.concat(
        [existing, base.work.select(list(base.spec.fingerprints))], how="horizontal"
    )
    times, result = timed_runs(
        args.repeat,
        lambda: match_incremental(
            fingerprinted, base.entities, new, base.model, base.spec, existing_fingerprinted=True
        ),
        lambda _: "incremental",
    )
    metrics = cluster_pair_metrics(result.entities, truth, id_col="lead_id")
    print(
        f"{args.new:,} new against {existing.height:,}: median {statistics.median(times):.2f} s; "
        f"involved records {result.report['involved_records']:,}; "
        f"cluster F1 of the combined result {metrics.f1:.4f}"
    )


def timed_runs(
    repeat: int, call: Callable[[], T], label: Callable[[T], str]
) -> tuple[list[float], T]:
    """`call` run `repeat` times, each time printed: (the times, the last result)."""
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
        print(f"{label(result)}: {times[-1]:.2f} s", flush=True)
    return times, result


def time_resolve(data: pl.DataFrame, existing: pl.DataFrame, truth, repeat: int) -> None:
    """`runs.resolve` of the whole table against the first resolution's stored tables."""
    first = resolve(existing, PreviousRun())
    tables = ["entities", "model", "fingerprints", "pairs", "golden", "events"]
    with tempfile.TemporaryDirectory() as folder:
        for name in tables:
            getattr(first, name).write_parquet(Path(folder) / f"{name}.parquet")
        del first
        stored = {name: pl.read_parquet(Path(folder) / f"{name}.parquet") for name in tables}
    previous = PreviousRun(**stored)
    times, run = timed_runs(
        repeat, lambda: resolve(data, previous), lambda done: f"resolve ({done.mode})"
    )
    metrics = cluster_pair_metrics(run.entities, truth, id_col="lead_id")
    print(
        f"{data.height - existing.height:,} new against {existing.height:,} through runs.resolve: "
        f"median {statistics.median(times):.2f} s; mode {run.mode}; "
        f"cluster F1 of the combined result {metrics.f1:.4f}"
    )


if __name__ == "__main__":
    main()
