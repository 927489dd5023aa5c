"""Paths, dataset registry and small helpers shared by the dedupe benchmark scripts."""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA_DIR = ROOT / "benchmarks" / "data"  # git-ignored
OUT_DIR = HERE / "out"  # git-ignored (benchmarks/**/out/)
RESULTS = HERE / "results.jsonl"

TRUE_COL = "true_entity_id"
# The match probabilities swept to find an engine's best cluster F1. The tail near 1 matters:
# with many agreeing fields Fellegi-Sunter probabilities saturate, and on the synthetic leads
# both engines peak at 1 - 1e-5 .. 1 - 1e-7.
SWEEP_THRESHOLDS: tuple[float, ...] = (
    0.5,
    0.8,
    0.9,
    0.95,
    0.99,
    0.999,
    0.9999,
    0.99999,
    0.999999,
    0.9999999,
    0.99999999,
)


def add_import_paths() -> None:
    """Let `pipeline` and `benchmarks/generate_leads.py` import from a plain checkout."""
    for path in (ROOT, ROOT / "benchmarks"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


@dataclass(frozen=True)
class Dataset:
    """A prepared parquet with ground truth: `id_col` identifies records, TRUE_COL entities."""

    name: str
    path: Path
    id_col: str
    kind: str  # "leads" or "person": picks our spec, the Splink settings and the baseline keys

    @property
    def spec(self) -> str:
        return self.kind


def leads_dataset(rows: int, noise: str) -> Dataset:
    name = f"leads_{rows}_{noise}"
    return Dataset(name, DATA_DIR / f"{name}.parquet", "lead_id", "leads")


def febrl_dataset(number: int) -> Dataset:
    name = f"febrl{number}"
    return Dataset(name, DATA_DIR / f"{name}.parquet", "rec_id", "person")


def dataset_by_name(name: str) -> Dataset:
    """`leads_100000_standard` or `febrl1` -> Dataset."""
    if name.startswith("febrl"):
        return febrl_dataset(int(name.removeprefix("febrl")))
    _, rows, noise = name.split("_")
    return leads_dataset(int(rows), noise)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def say(message: str) -> None:
    """Progress line with a timestamp, flushed so it shows through subprocess pipes."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def engine_digest() -> str:
    """Hash of pipeline/dedupe sources and specs: ties a result to the engine code it ran
    (the engine's own, which its stored models carry too)."""
    add_import_paths()
    from pipeline.dedupe.digests import engine_digest as digest

    return digest()
