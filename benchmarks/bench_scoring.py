"""Lead scoring speed on a seeded synthetic `enriched_leads` frame (the enrichment contract).

    .venv/bin/python benchmarks/bench_scoring.py [--rows 1000000] [--repeat 7] [--icp PATH]

Times `score_leads` (outcome codes, points, grade and top reasons, joined onto the input
frame) with the frame already in memory; the issue's target is 1,000,000 leads in <= 2 s wall
on the project's 2-core machine. The box is shared, so the load average is printed with the
result (and the CPU time, which contention inflates less): compare medians taken at similar
load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from pipeline.scoring import load_icp, score_leads
from pipeline.scoring.engine import outcome_codes, score_from_codes
from pipeline.scoring.synthetic import AS_OF, synthetic_enriched_leads


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--icp", help="ICP YAML (default: the packaged one)")
    args = parser.parse_args()

    icp = load_icp(args.icp)
    print(f"generating {args.rows:,} synthetic enriched leads (seed {args.seed}) ...", flush=True)
    frame = synthetic_enriched_leads(args.rows, seed=args.seed)
    print(f"ICP {icp.name!r}: {len(icp.rules)} rules; load average before: {load()}")

    times, cpu, split = [], [], []
    for i in range(args.repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = score_leads(frame, icp, as_of=AS_OF)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        started = time.perf_counter()
        codes, _ = outcome_codes(frame, icp, as_of=AS_OF)
        middle = time.perf_counter()
        score_from_codes(codes, icp)
        split.append((middle - started, time.perf_counter() - middle))
        print(f"run {i + 1}: {times[-1]:.3f} s wall, {cpu[-1]:.3f} s CPU", flush=True)

    grades = result.frame["lead_grade"].value_counts().sort("lead_grade").iter_rows()
    print(
        f"score_leads on {args.rows:,} leads: median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeat} runs; "
        f"CPU median {statistics.median(cpu):.3f} s); "
        f"split: outcome codes {statistics.median(s[0] for s in split):.3f} s, "
        f"points + grade + reasons {statistics.median(s[1] for s in split):.3f} s"
    )
    print(f"grades: {dict(grades)}; load average after: {load()}")


if __name__ == "__main__":
    main()
