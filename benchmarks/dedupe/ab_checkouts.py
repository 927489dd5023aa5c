"""Two or more checkouts of the engine timed in turn on one data set, stage by stage.

The VM's speed drifts by 10-30 % between sittings, so an engine is only compared with
another measured in the same minutes: each round runs every checkout once, each in a fresh
process (no allocator or cache state carried over), and the medians are taken per stage.
Each run calls `dedupe(scan, keep_work=False)` as `run.py` does, with the checkout's own spec,
in a process with one glibc malloc arena as the product's entry points set it
(`pipeline/malloc_arenas.py`; `--malloc-arenas default` leaves glibc's default).

    .venv/bin/python benchmarks/dedupe/ab_checkouts.py leads_1000000_hard /tmp/old . --rounds 3

A checkout is any directory holding the project (`git worktree add /tmp/old <commit>`); it
reads the data sets from this checkout's `benchmarks/data`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import DATA_DIR

_RUN = r"""
import ctypes, json, os, sys
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `python -m pipeline` does
import polars as pl
tree, name, data, arenas = sys.argv[1:5]
if arenas == "one":  # what `pipeline.malloc_arenas` does, for checkouts without it too
    ctypes.CDLL(None).mallopt(-8, 1)
sys.path[:0] = [tree, tree + "/benchmarks/dedupe"]
import common
common.DATA_DIR = common.Path(data)
from common import TRUE_COL, dataset_by_name
import pipeline.dedupe
if not pipeline.dedupe.__file__.startswith(tree):
    raise SystemExit(f"imported {pipeline.dedupe.__file__}, not the checkout {tree}")
from pipeline.dedupe import dedupe
ds = dataset_by_name(name)
spec = tree + "/pipeline/dedupe/specs/" + ds.spec + ".yaml"
result = dedupe(pl.scan_parquet(ds.path).drop(TRUE_COL), spec=spec, keep_work=False)
print(json.dumps(result.report["timings_s"]))
"""


def run_once(checkout: Path, dataset: str, arenas: str = "one") -> dict[str, float]:
    """Stage timings of one run of `checkout`'s engine, in a process of its own. `arenas`:
    'one' caps glibc's malloc at one arena, as the command line and the Dagster code
    location do; 'default' leaves it."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(checkout), dataset, str(DATA_DIR), arenas],
        capture_output=True,
        text=True,
        cwd="/",
    )
    if done.returncode:
        raise SystemExit(f"{checkout} failed on {dataset}:\n{done.stderr[-3000:]}")
    timings = json.loads(done.stdout.strip().splitlines()[-1])
    timings["total"] = sum(timings.values())
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="e.g. leads_1000000_hard (see common.dataset_by_name)")
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--malloc-arenas",
        choices=["one", "default"],
        default="one",
        help="one glibc malloc arena per process, as the product's entry points set it",
    )
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkouts]
    runs: dict[Path, list[dict[str, float]]] = {c: [] for c in checkouts}
    for round_ in range(1, args.rounds + 1):
        for checkout in checkouts:
            timings = run_once(checkout, args.dataset, args.malloc_arenas)
            runs[checkout].append(timings)
            print(f"round {round_} {checkout}: {timings['total']:.2f} s", flush=True)
    stages = list(runs[checkouts[0]][0])
    print(f"\n{args.dataset}, medians of {args.rounds} (s)")
    print("| checkout | " + " | ".join(stages) + " |")
    print("|---|" + "---:|" * len(stages))
    for checkout in checkouts:
        medians = [statistics.median(r[s] for r in runs[checkout]) for s in stages]
        print(f"| {checkout} | " + " | ".join(f"{m:.2f}" for m in medians) + " |")


if __name__ == "__main__":
    main()
