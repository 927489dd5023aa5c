"""End to end: lead files -> CRM outbox through Dagster, the way `make demo` runs them.

Generates `--rows` messy leads as `--files` files (benchmarks/generate_leads.py, seeded;
cached under benchmarks/data/), then, in a child process on a fresh data folder, operational
store and Dagster instance (default backends: outbox CRM, offline enrichment, SQLite store),
runs the demo's lead path: the jobs `python -m pipeline demo` runs from the files to the
CRM (`pipeline.definitions.runner.files_to_crm_steps`: ingest per arrival day, dedupe,
enrich + score, crm). The demo's later steps (SQL marts, outreach drafts, the agent's
samples, monitoring) are not part of "files -> outbox" and are not run. Each step's start
and end are read from the Dagster instance. Reports the wall time of the whole child process
(imports, definitions, every run), its CPU seconds and peak memory, each step's time, the
row count of every asset and the outcome of every asset check, and leads per second end to
end.

Claim checked (exit status 1 when it fails): the median run reaches `--goal` leads/s (10,000).

    .venv/bin/python benchmarks/crm/bench_e2e.py [--rows 200000] [--files 4] [--repeat 1]
        [--keep DIR]   # keep the last run's data folder (warehouse, store) for comparisons
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def lead_files(rows: int, files: int, seed: int) -> Path:
    folder = ROOT / "benchmarks" / "data" / f"e2e_{rows}_{files}_{seed}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(
            [
                PYTHON,
                str(ROOT / "benchmarks" / "generate_leads.py"),
                "--rows",
                str(rows),
                "--seed",
                str(seed),
                "--files",
                str(folder),
                "--n-files",
                str(files),
            ],
            check=True,
            cwd=ROOT,
        )
        (folder / ".complete").touch()
    return folder


def child() -> int:
    """The demo's lead path (files -> CRM) on the settings from the environment."""
    from pipeline.config import load_settings
    from pipeline.definitions import build_definitions
    from pipeline.definitions.runner import files_to_crm_steps, run_steps
    from pipeline.shutdown import skip_final_collection

    settings = load_settings()
    failure = run_steps(build_definitions(settings), files_to_crm_steps(settings))
    skip_final_collection()  # as `python -m pipeline` ends
    if failure is not None:
        print(failure.paragraph(), file=sys.stderr)
        return 1
    return 0


def outcomes(instance, run_ids: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Rows per asset (summed over partitions) and each check's outcomes (one per run or
    partition), from the runs' event logs."""
    from dagster import DagsterEventType

    rows: dict[str, int] = defaultdict(int)
    results: dict[str, list[bool]] = defaultdict(list)
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                count = materialization.metadata.get("dagster/row_count")
                if count is not None:
                    rows[materialization.asset_key.to_user_string()] += int(count.value)
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                data = event.event_specific_data
                results[f"{data.asset_key.to_user_string()}.{data.check_name}"].append(data.passed)
    checks = {
        key: "passed" if all(v) else f"failed {v.count(False)} of {len(v)}"
        for key, v in results.items()
    }
    return dict(rows), checks


def stage_times(dagster_home: Path) -> tuple[dict[str, float], list[str], dict, dict]:
    """Seconds per step (summed over partitions), from the instance's run records; the
    CRM step's own log lines, timed from the step's start; rows per asset and the checks'
    outcomes."""
    env_home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            times: dict[str, float] = defaultdict(float)
            crm_log: list[str] = []
            for record in instance.get_run_records():
                run_id = record.dagster_run.run_id
                for step in instance.get_run_step_stats(run_id):
                    if step.start_time and step.end_time:
                        times[step.step_key] += step.end_time - step.start_time
                    if step.step_key == "crm_contacts" and step.start_time:
                        crm_log += [
                            f"{entry.timestamp - step.start_time:6.2f} s  {entry.user_message}"
                            for entry in instance.all_logs(run_id)
                            if entry.step_key == "crm_contacts" and entry.user_message
                        ]
            run_ids = [record.dagster_run.run_id for record in instance.get_run_records()]
            rows, checks = outcomes(instance, run_ids)
            return dict(times), crm_log, rows, checks
    finally:
        if env_home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = env_home


def run_path(source: Path, keep: Path | None) -> tuple:
    work = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "LEADS_SOURCE_DIR": str(source),
        "LEADS_DATA_DIR": str(work / "data"),
        "DAGSTER_HOME": str(home),
        "CRM_BACKEND": "outbox",
        "LEADS_ENRICHMENT": "offline",
    }
    env.pop("LEADS_DATABASE_URL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, __file__, "--child"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"the lead path failed (exit {done.returncode})")
    stages, crm_log, rows, checks = stage_times(home)
    if keep is not None:
        shutil.rmtree(keep, ignore_errors=True)
        shutil.move(work, keep)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return wall, cpu, after.ru_maxrss, stages, crm_log, rows, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--goal", type=float, default=10_000.0, help="leads/s end to end")
    parser.add_argument("--keep", type=Path, help="keep the last run's data folder here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    source = lead_files(args.rows, args.files, args.seed)
    size = sum(f.stat().st_size for f in source.iterdir() if f.is_file())
    print(f"{args.rows:,} leads in {args.files} files ({size / 1e6:.0f} MB) at {source}")
    walls: list[float] = []
    cpus: list[float] = []
    per_stage: dict[str, list[float]] = defaultdict(list)
    for attempt in range(args.repeat):
        load = os.getloadavg()[0]
        wall, cpu, peak_kb, stages, crm_log, rows, checks = run_path(source, args.keep)
        walls.append(wall)
        cpus.append(cpu)
        for key, seconds in stages.items():
            per_stage[key].append(seconds)
        print(
            f"run {attempt + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS "
            f"{peak_kb / 1024:.0f} MB, {args.rows / wall:,.0f} leads/s (load {load:.2f} before)"
        )
        for key, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"    {key:28s} {seconds:6.2f} s")
        if attempt == 0:
            print("    crm_contacts, from its start:")
            for line in crm_log:
                print(f"      {line[:150]}")
            print("    rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(rows.items())))
            failed = sorted(k for k, v in checks.items() if v != "passed")
            print(f"    checks: {len(checks)} run, not passed: {failed or 'none'}")
    wall = statistics.median(walls)
    steps = sum(statistics.median(v) for v in per_stage.values())
    print(
        f"\nmedian {wall:.1f} s ({statistics.median(cpus):.1f} s CPU) for {args.rows:,} leads "
        f"= {args.rows / wall:,.0f} leads/s; "
        f"steps {steps:.1f} s, the rest (process start, Dagster runs, IO manager) "
        f"{wall - steps:.1f} s; 2 cores"
    )
    if args.rows / wall < args.goal:
        print(f"FAIL under {args.goal:,.0f} leads/s")
        return 1
    print(f"OK: at least {args.goal:,.0f} leads/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
