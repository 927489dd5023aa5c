"""Parse + normalize speed on seeded messy leads.

    python benchmarks/bench_normalize.py [--rows 1000000] [--repeat 5] [--files 20]

1. Normalize: `normalize_leads` on 1M raw rows already in memory (the issue's target:
   <= 3 s wall after reading on this 2-core machine). Median of --repeat runs.
2. Parse: the generator writes --files messy files (CSV in four delimiters and encodings,
   XLSX, JSON, NDJSON) holding the same rows, and `parse_file` reads them all back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_leads import generate_leads, write_messy_files

from pipeline.headers import load_aliases
from pipeline.landing import sha256_bytes
from pipeline.normalize.leads import normalize_leads
from pipeline.parsing import parse_file
from pipeline.schema import RAW_LEADS_SCHEMA, conform


def raw_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return conform(
        frame.with_columns(
            pl.col("record_id").alias("lead_id"),
            pl.lit("synthetic.csv").alias("source_file"),
            pl.int_range(2, frame.height + 2).alias("row_number"),
            pl.lit(datetime(2026, 11, 1)).alias("arrived_at"),
        ),
        RAW_LEADS_SCHEMA,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(f"generating {args.rows:,} rows ...", flush=True)
    frame = generate_leads(args.rows, seed=args.seed)
    raw = raw_rows(frame)
    # The machine is shared: the load average says whether a slow run was this code.
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    times = []
    for i in range(args.repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = normalize_leads(raw)
        leads, rejected = result.leads, result.rejected
        times.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu
        print(f"normalize run {i + 1}: {times[-1]:.2f} s (cpu {cpu:.2f} s)", flush=True)
    print(
        f"normalize {args.rows:,} rows: median {statistics.median(times):.2f} s "
        f"({leads.height:,} leads, {rejected.height:,} rejected), "
        f"load average after: {os.getloadavg()[0]:.2f}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_messy_files(frame, Path(tmp), n_files=args.files, seed=args.seed)
        aliases = load_aliases()
        started = time.perf_counter()
        rows = 0
        for path in paths:
            data = path.read_bytes()
            parsed = parse_file(
                path.name,
                data,
                aliases,
                file_id=path.name,
                sha256=sha256_bytes(data),
                arrived_at=datetime(2026, 11, 1),
                excel_sheets="all",
            )
            rows += parsed.rows.height
        elapsed = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"parse {len(paths)} files ({size:.0f} MB, {rows:,} rows): {elapsed:.2f} s")


if __name__ == "__main__":
    main()
