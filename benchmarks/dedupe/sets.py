"""Cluster quality of our engine on every lead set at once, in this process: the table a
change to blocking, scoring or clustering is judged by (one set helped and another hurt is
no progress).

    python benchmarks/dedupe/sets.py                       # the four 100k sets
    python benchmarks/dedupe/sets.py --large               # and the 1M standard / hard sets
    python benchmarks/dedupe/sets.py --febrl --tag "tf on names"

Each set is read from its parquet file as `run.py --engines ours` reads it (`dedupe` on a
scan, the fingerprint table not kept). Quality only: the wall and CPU seconds printed are
for orientation (the process is warm after the first set); speed is measured with run.py
under the bench lock. With `--record`, appends one line per run to sets_results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time

import polars as pl

from common import HERE, TRUE_COL, add_import_paths, cpu_seconds, dataset_by_name, engine_digest
from metrics import cluster_pair_metrics

add_import_paths()

from pipeline.dedupe import dedupe  # noqa: E402

SMALL = [
    "leads_100000_standard",
    "leads_100000_hard",
    "leads_100000_alt-standard",
    "leads_100000_alt-heavy",
]
LARGE = ["leads_1000000_standard", "leads_1000000_hard"]
FEBRL = ["febrl1", "febrl2", "febrl3", "febrl4"]


def measure(name: str, threshold: float | None, spec: str | None = None) -> dict:
    dataset = dataset_by_name(name)
    truth = pl.read_parquet(dataset.path, columns=[dataset.id_col, TRUE_COL])
    source = pl.scan_parquet(dataset.path).drop(TRUE_COL)
    cpu, start = cpu_seconds(), time.perf_counter()
    kind = spec if spec and dataset.kind == "leads" else dataset.spec
    result = dedupe(source, spec=kind, threshold=threshold, keep_work=False)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    m = cluster_pair_metrics(result.entities, truth, id_col=dataset.id_col)
    return {
        "dataset": name,
        "f1": round(m.f1, 4),
        "precision": round(m.precision, 4),
        "recall": round(m.recall, 4),
        "threshold": result.threshold,
        "candidate_pairs": result.pairs.height,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also the 1M standard and hard sets")
    parser.add_argument("--febrl", action="store_true", help="also FEBRL1-4")
    parser.add_argument("--only", help="comma-separated dataset names instead")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--spec", help="a leads spec file to use instead of the built-in one")
    parser.add_argument("--tag", default="", help="what this run measures, for the record")
    parser.add_argument("--record", action="store_true", help="append to sets_results.jsonl")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else SMALL + LARGE * args.large + FEBRL * args.febrl
    rows = []
    for name in names:
        row = measure(name, args.threshold, args.spec)
        rows.append(row)
        print(
            f"{name:28} F1 {row['f1']:.4f}  P {row['precision']:.4f}  R {row['recall']:.4f}"
            f"  pairs {row['candidate_pairs']:>9,}  {row['wall_s']:6.2f} s  {row['cpu_s']:6.2f}"
            f" CPU s",
            flush=True,
        )
    if args.record:
        stamp, digest = time.strftime("%Y-%m-%dT%H:%M:%S"), engine_digest()
        with (HERE / "sets_results.jsonl").open("a") as fh:
            for row in rows:
                line = {"timestamp": stamp, "tag": args.tag, "engine_digest": digest, **row}
                fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
