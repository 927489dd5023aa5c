"""How long a file-arrival sensor tick takes with 100,000 files in the watched folder.

    python benchmarks/bench_sensor.py [--files 100000] [--repeat 5]

Measures (1) the first ticks over a fresh folder, where every file is new and is hashed,
page by page; (2) a steady-state tick where nothing changed (the common case); (3) a tick
after 100 files changed. Dagster's limit is 60 s per tick.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from dagster import DagsterInstance, SkipReason, build_sensor_context

from pipeline.landing import land_bytes
from resources.lead_source import LocalFolderLeadSource
from resources.settings import PipelineSettings
from sensors.file_arrival import build_file_arrival_sensor


def tick(sensor, instance, source, settings, cursor):
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"lead_source": source, "settings": settings}
    )
    started = time.perf_counter()
    result = sensor(context)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DagsterInstance.ephemeral() as instance:
        folder = Path(tmp) / "drive"
        for shard in range(100):
            (folder / f"batch{shard:02d}").mkdir(parents=True)
        print(f"writing {args.files:,} files ...", flush=True)
        for i in range(args.files):
            (folder / f"batch{i % 100:02d}" / f"leads_{i:06d}.csv").write_text(
                f"email,name\nperson{i}@example.com,Person {i}\n"
            )
        source = LocalFolderLeadSource(folder=str(folder))
        settings = PipelineSettings(data_dir=str(Path(tmp) / "data"))
        sensor = build_file_arrival_sensor("ingest_job")

        cursor, first_ticks = None, []
        while True:
            seconds, result = tick(sensor, instance, source, settings, cursor)
            if isinstance(result, SkipReason):
                break
            first_ticks.append(seconds)
            cursor = result.cursor
        print(f"backlog: {len(first_ticks)} ticks, slowest {max(first_ticks):.2f} s")

        steady = [tick(sensor, instance, source, settings, cursor)[0] for _ in range(args.repeat)]
        print(f"no changes: median {statistics.median(steady):.2f} s over {args.repeat} ticks")

        changed_ticks = []
        for r in range(args.repeat):
            for i in range(100):
                path = folder / f"batch{i:02d}" / f"leads_{i:06d}.csv"
                path.write_text(f"email,name\nchanged{r}-{i}@example.com,Changed {i}\n")
            seconds, result = tick(sensor, instance, source, settings, cursor)
            changed_ticks.append(seconds)
            cursor = result.cursor
            for i in range(100):  # what the requested run does: land the new content
                land_bytes(
                    settings.landing_dir,
                    (folder / f"batch{i:02d}" / f"leads_{i:06d}.csv").read_bytes(),
                )
        print(f"100 changed files: median {statistics.median(changed_ticks):.2f} s")


if __name__ == "__main__":
    main()
