"""Generate + normalize a synthetic lead set with ground truth, cached as parquet. Noise
`standard` / `hard`: benchmarks/generate_leads.py (the generator the engine was tuned on);
`alt-standard` / `alt-heavy`: benchmarks/generate_people.py (an independent one).

    python benchmarks/dedupe/prepare_data.py --rows 100000 --noise standard --seed 7
    -> benchmarks/data/leads_100000_standard.parquet

The parquet holds normalize_fields' output (lead_id = the generator's record_id) plus
`true_entity_id`, which is kept aside during normalization and joined back by lead_id.
`--raw-csv PATH` writes the generated rows as a raw lead file instead (not normalized, no
truth), for timing the dedupe CLI on a file as a person drops it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import datetime
from pathlib import Path

import polars as pl

from common import DATA_DIR, ROOT, TRUE_COL, add_import_paths, leads_dataset, say

add_import_paths()

from generate_leads import generate_leads  # noqa: E402  (benchmarks/generate_leads.py)
from generate_people import generate_people  # noqa: E402  (the independent generator)
from pipeline.normalize.leads import normalize_fields  # noqa: E402
from pipeline.schema import RAW_LEADS_SCHEMA, conform  # noqa: E402

ARRIVED_AT = datetime(2025, 1, 1)
# A cached parquet is rebuilt when any of these change (the generator or normalization).
SOURCES = [
    ROOT / "benchmarks" / "generate_leads.py",
    ROOT / "benchmarks" / "generate_people.py",
    *sorted(ROOT.glob("pipeline/normalize/*.py")),
]
# Noise levels: the tuned-on generator's, and the independent one's (prefixed `alt-`).
NOISES = ["standard", "hard", "alt-standard", "alt-heavy"]


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in SOURCES:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def to_raw(generated: pl.DataFrame) -> pl.DataFrame:
    """The generator's frame as raw_leads rows (provenance columns filled in)."""
    frame = generated.with_columns(
        pl.col("record_id").cast(pl.String).alias("lead_id"),
        pl.lit("synthetic").alias("source_file"),
        pl.lit("synthetic").alias("source_file_id"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias("row_number"),
        pl.lit(ARRIVED_AT).alias("arrived_at"),
        pl.lit(ARRIVED_AT).alias("arrival_day"),
    )
    return conform(frame, RAW_LEADS_SCHEMA)


def generated_leads(rows: int, noise: str, seed: int) -> pl.DataFrame:
    """The generator's rows, as a lead file holds them, with their truth."""
    say(f"generating {rows:,} leads (noise={noise}, seed={seed})")
    start = time.perf_counter()
    if noise.startswith("alt-"):
        generated = generate_people(rows, seed=seed, noise=noise.removeprefix("alt-"))
    else:
        generated = generate_leads(rows, seed=seed, noise=noise)
    say(f"generated {generated.height:,} rows in {time.perf_counter() - start:.1f} s")
    return generated


def prepare(rows: int, noise: str, seed: int) -> pl.DataFrame:
    """Generated, normalized and labelled leads."""
    generated = generated_leads(rows, noise, seed)
    truth = generated.select(
        pl.col("record_id").cast(pl.String).alias("lead_id"),
        pl.col(TRUE_COL).cast(pl.String),
    )
    start = time.perf_counter()
    say("normalizing")
    normalized = normalize_fields(to_raw(generated))
    # Everything normalization produces (not only NORMALIZED_SCHEMA: specs may use new columns).
    keep = [c for c in normalized.columns if not c.startswith("_")]
    say(f"normalized in {time.perf_counter() - start:.1f} s")
    out = normalized.select(keep).join(truth, on="lead_id", how="left", maintain_order="left")
    missing = out[TRUE_COL].null_count()
    if missing:
        raise RuntimeError(f"{missing} normalized rows lost their {TRUE_COL}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--noise", choices=NOISES, default="standard")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--raw-csv",
        type=Path,
        metavar="PATH",
        help="write the generated rows as a raw lead file (record_id first, no truth) to PATH "
        "instead: the input of `python -m pipeline dedupe PATH --id-column record_id`",
    )
    args = parser.parse_args()
    if args.raw_csv:
        generated = generated_leads(args.rows, args.noise, args.seed)
        generated.select("record_id", pl.exclude("record_id", TRUE_COL)).write_csv(args.raw_csv)
        say(f"wrote {args.raw_csv} ({generated.height:,} rows)")
        return
    path = leads_dataset(args.rows, args.noise).path
    meta_path = path.with_suffix(".json")
    meta = {"rows": args.rows, "noise": args.noise, "seed": args.seed, "sources": sources_digest()}
    cached = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if path.exists() and cached == meta and not args.force:
        say(f"{path} exists for {meta} (use --force to rebuild)")
        return
    frame = prepare(args.rows, args.noise, args.seed)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    meta_path.write_text(json.dumps(meta))
    entities = frame[TRUE_COL].n_unique()
    say(f"wrote {path} ({frame.height:,} rows, {entities:,} true entities)")


if __name__ == "__main__":
    main()
