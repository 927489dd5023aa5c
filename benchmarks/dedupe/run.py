"""Dedupe benchmark orchestrator: each engine in a fresh subprocess per repeat, then metrics.

    python benchmarks/dedupe/run.py --rows 100000 --noise standard \
        --engines ours,splink,baseline --repeat 3
    python benchmarks/dedupe/run.py --febrl --engines ours,splink,baseline

`ours` runs the engine on the parquet file itself (read inside the timed run, fingerprint
table not kept); `ours-memory` on the table loaded beforehand, keeping the fingerprint
table, as the Dagster asset calls it. Both give the same entities.

Prints one markdown table row per engine (wall time median over repeats, peak RSS, cluster
pair precision/recall/F1 at the reported threshold) and appends one JSON line per engine to
benchmarks/dedupe/results.jsonl. Splink is reported at its best swept threshold; ours at the
spec's default threshold and, with --sweep-ours, also at its best swept threshold (one extra
run per threshold). Quality is computed on the first repeat's output.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from common import (
    HERE,
    OUT_DIR,
    RESULTS,
    ROOT,
    SWEEP_THRESHOLDS,
    TRUE_COL,
    Dataset,
    dataset_by_name,
    febrl_dataset,
    leads_dataset,
    say,
)
from metrics import cluster_pair_metrics, cluster_summary, scored_pair_metrics

HEADER = (
    "| engine | dataset | rows | noise | wall s (median) | peak MB | input MB | "
    "cluster P | cluster R | cluster F1 | threshold | pair P | pair R | entities (pred/true) |\n"
    "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"
)


def run_engine(
    python: str, dataset: Dataset, engine: str, out: Path, extra: list[str] | None = None
) -> dict:
    """One engine run in a fresh interpreter; its progress lines stream through."""
    cmd = [
        python,
        str(HERE / "run_engine.py"),
        "--dataset",
        dataset.name,
        "--engine",
        engine,
        "--out",
        str(out),
        *(extra or []),
    ]
    env = dict(os.environ)
    if engine.startswith("ours"):
        # As `python -m pipeline` does (pipeline/blas_threads.py): read when numpy loads.
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
    say(f"$ {' '.join(cmd)}")
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return json.loads((out / "run.json").read_text())


def evaluate(record: dict, out: Path, truth: pl.DataFrame, id_col: str) -> dict:
    """Cluster metrics for every threshold label the run produced, and the best one."""
    by_label = {}
    for label, name in record["entities"].items():
        entities = pl.read_parquet(out / name)
        by_label[label] = cluster_pair_metrics(entities, truth, id_col=id_col).as_dict()
    best = max(by_label, key=lambda label: by_label[label]["f1"])
    return {"by_label": by_label, "best": best}


def pair_metrics(out: Path, record: dict, truth: pl.DataFrame, id_col: str, label: str) -> dict:
    if "pairs" not in record or label == "exact":
        return {}
    pairs = pl.read_parquet(out / record["pairs"])
    return scored_pair_metrics(pairs, truth, id_col=id_col, threshold=float(label)).as_dict()


def summarize(
    engine: str,
    dataset: Dataset,
    runs: list[dict],
    outs: list[Path],
    truth: pl.DataFrame,
    label: str | None = None,
    tag: str | None = None,
) -> dict:
    """One results row: timing over repeats, quality from the first repeat at `label`
    (default: the engine's best label)."""
    quality = evaluate(runs[0], outs[0], truth, dataset.id_col)
    label = label or quality["best"]
    walls = [r.get("wall_s_by_threshold", {}).get(label, r["wall_s"]) for r in runs]
    entities = pl.read_parquet(outs[0] / runs[0]["entities"][label])
    noise = dataset.name.split("_")[2] if dataset.kind == "leads" else "-"
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "git_rev": _git_rev(),
        # Hash of pipeline/dedupe when each run started: the engine may change between runs.
        "engine_digest": sorted({r["engine_digest"] for r in runs if r.get("engine_digest")}),
        "engine": tag or engine,
        "dataset": dataset.name,
        "rows": runs[0]["rows"],
        "noise": noise,
        "data_meta": _data_meta(dataset),
        "repeats": len(runs),
        "wall_s": walls,
        "wall_s_median": round(statistics.median(walls), 3),
        "cpu_s": [r.get("cpu_s") for r in runs],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "rss_after_load_mb": runs[0]["rss_after_load_mb"],
        "loadavg_1m": [r.get("loadavg_1m_at_start") for r in runs],
        "threshold": label,
        "cluster": quality["by_label"][label],
        "cluster_f1_by_threshold": {k: round(v["f1"], 4) for k, v in quality["by_label"].items()},
        "pairs": pair_metrics(outs[0], runs[0], truth, dataset.id_col, label),
        "summary": cluster_summary(entities, truth, id_col=dataset.id_col),
        "stages_s": runs[0].get("stages_s") or runs[0].get("engine_report", {}).get("timings_s"),
        "env": runs[0].get("env"),
    }


def _data_meta(dataset: Dataset) -> dict | None:
    """prepare_data.py's sidecar (rows, noise, seed, digest of generator + normalize)."""
    meta = dataset.path.with_suffix(".json")
    return json.loads(meta.read_text()) if meta.exists() else None


def _git_rev() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def table_row(row: dict) -> str:
    c, p, s = row["cluster"], row["pairs"], row["summary"]
    pair_p = f"{p['precision']:.4f}" if p else "-"
    pair_r = f"{p['recall']:.4f}" if p else "-"
    return (
        f"| {row['engine']} | {row['dataset']} | {row['rows']:,} | {row['noise']} | "
        f"{row['wall_s_median']:.2f} | {row['peak_rss_mb']:,.0f} | "
        f"{row['rss_after_load_mb']:,.0f} | {c['precision']:.4f} | {c['recall']:.4f} | "
        f"{c['f1']:.4f} | {row['threshold']} | {pair_p} | {pair_r} | "
        f"{s['pred_entities']:,}/{s['true_entities']:,} |"
    )


class EngineFailed(RuntimeError):
    """An engine subprocess exited non-zero (its traceback was already printed)."""


def _only_label(record: dict) -> str:
    return next(iter(record["entities"]))


def _runs(
    python: str, dataset: Dataset, engine: str, outs: list[Path], extra: list[str]
) -> list[dict]:
    runs = []
    for k, out in enumerate(outs):
        say(f"{dataset.name}: {engine} {' '.join(extra)} run {k + 1}/{len(outs)}")
        try:
            runs.append(run_engine(python, dataset, engine, out, extra))
        except subprocess.CalledProcessError as exc:
            raise EngineFailed(f"{engine} on {dataset.name} exited {exc.returncode}") from exc
    return runs


def bench_engine(
    engine: str, dataset: Dataset, truth: pl.DataFrame, args: argparse.Namespace
) -> list[dict]:
    """Rows for one engine on one dataset (two for ours with --sweep-ours)."""
    base = OUT_DIR / dataset.name / engine
    outs = [base / f"rep{k}" for k in range(args.repeat)]
    if engine.startswith("splink"):
        extra = ["--thresholds", ",".join(map(str, args.thresholds))]
        runs = _runs(args.splink_python, dataset, engine, outs, extra)
        if engine == "splink-tuned" and dataset.kind == "leads":
            # Reported where that configuration clusters (0.99); the sweep is kept too.
            return [summarize(engine, dataset, runs, outs, truth, label="0.99")]
        return [summarize(engine, dataset, runs, outs, truth)]
    runs = _runs(args.python, dataset, engine, outs, [])
    if not engine.startswith("ours"):
        return [summarize(engine, dataset, runs, outs, truth)]
    rows = [summarize(engine, dataset, runs, outs, truth, label=_only_label(runs[0]))]
    if args.sweep_ours and engine == "ours":
        sweep = []
        for t in args.thresholds:
            out = OUT_DIR / dataset.name / "ours_sweep" / f"t{t}"
            run = _runs(args.python, dataset, engine, [out], ["--threshold", str(t)])[0]
            f1 = evaluate(run, out, truth, dataset.id_col)["by_label"][_only_label(run)]["f1"]
            sweep.append((f1, run, out))
        _, run, out = max(sweep, key=lambda item: item[0])
        row = summarize(engine, dataset, [run], [out], truth, tag="ours (best)")
        row["cluster_f1_by_threshold"] = {_only_label(r): round(f, 4) for f, r, _ in sweep}
        rows.append(row)
    return rows


def bench_dataset(dataset: Dataset, args: argparse.Namespace) -> list[dict]:
    if not dataset.path.exists():
        raise SystemExit(f"{dataset.path} is missing: run prepare_data.py / febrl.py first")
    truth = pl.read_parquet(dataset.path, columns=[dataset.id_col, TRUE_COL])
    rows = []
    for engine in args.engines:
        try:
            engine_rows = bench_engine(engine, dataset, truth, args)
        except EngineFailed as exc:
            say(f"FAILED: {exc}; continuing with the other engines")
            continue
        for row in engine_rows:
            print(table_row(row), flush=True)
        rows.extend(engine_rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark dedupe engines against ground truth.")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--noise", choices=["standard", "hard", "alt-standard", "alt-heavy"], default="standard"
    )
    parser.add_argument("--engines", default="ours,splink,baseline")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--febrl", action="store_true", help="run on FEBRL1-4 instead")
    parser.add_argument("--dataset", help="any prepared dataset name, e.g. leads_1000000_hard")
    parser.add_argument(
        "--thresholds",
        default=",".join(map(str, SWEEP_THRESHOLDS)),
        help="match probabilities swept for the best cluster F1",
    )
    parser.add_argument("--sweep-ours", action="store_true", help="also find ours' best threshold")
    parser.add_argument("--python", default=sys.executable, help="interpreter for engine runs")
    parser.add_argument("--splink-python", help="interpreter for Splink (default: --python)")
    parser.add_argument("--no-record", action="store_true", help="do not append to results.jsonl")
    args = parser.parse_args()
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.thresholds = [float(t) for t in args.thresholds.split(",")]
    args.splink_python = args.splink_python or args.python

    if args.febrl:
        datasets = [febrl_dataset(k) for k in (1, 2, 3, 4)]
    elif args.dataset:
        datasets = [dataset_by_name(args.dataset)]
    else:
        datasets = [leads_dataset(args.rows, args.noise)]
    rows = []
    for dataset in datasets:
        rows.extend(bench_dataset(dataset, args))
    print("\n" + HEADER)
    for row in rows:
        print(table_row(row))
    if not args.no_record:
        with RESULTS.open("a") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=str) + "\n")
        say(f"appended {len(rows)} line(s) to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
