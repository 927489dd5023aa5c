"""Drive intake benchmark: 2,000 files in a watched folder, 20 % of them changed between ticks.

    .venv/bin/python benchmarks/drive/bench_drive.py [--files 2000] [--changed 0.2] [--repeat 5]

Per repetition, against a fresh fake Drive (tests/fakes/drive_server.py, in a child process so
the figures below are the pipeline's own CPU; TCP_NODELAY on, see benchmarks/crm/README.md):

1. first tick: the file-arrival sensor (the real sensor function, on an ephemeral instance)
   with no cursor lists the folder (pages of 1,000) and requests runs;
2. the runs: what `drive_files` does for the whole folder (list, land every file), i.e. every
   file downloaded once;
3. a quiet tick: nothing changed;
4. 20 % of the files get new content; the next tick reads the change feed;
5. the runs again: list and land every file: only the changed ones are downloaded;
6. a day's listing (`drive_files` for one arrival day).

For each step: wall and CPU seconds of this process, Drive API calls by method (counted by the
fake), token requests and bytes downloaded. Results go to stdout as one JSON line per
repetition and a median table at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# The fake's files arrive on 2026-11-01 .. 10: partitions must start before them.
os.environ.setdefault("LEADS_PARTITION_START", "2026-10-01")

from dagster import DagsterInstance, build_sensor_context

from resources.lead_source import DriveLeadSource
from resources.settings import PipelineSettings
from sensors.file_arrival import build_file_arrival_sensor

DAYS = 10


def lead_csv(seed: int, version: int) -> bytes:
    rng = random.Random(seed * 1000 + version)
    rows = ["First Name,Last Name,Email,Company,Phone"]
    for i in range(rng.randint(60, 140)):
        rows.append(
            f"First{i},Last{seed},p{seed}.{i}.v{version}@company{rng.randint(1, 300)}.com,"
            f"Company {rng.randint(1, 300)},+1 415 555 {rng.randint(1000, 9999)}"
        )
    return ("\n".join(rows) + "\n").encode()


def fake_drive_process(conn, files: int, tmp: str) -> None:
    """The fake Drive, driven by commands over a pipe."""
    from tests.fakes.drive_server import FakeDrive
    from tests.fakes.google_api import GoogleApiServer, _Handler

    class NoDelay(_Handler):
        disable_nagle_algorithm = True

    with GoogleApiServer() as google:
        google.RequestHandlerClass = NoDelay
        drive = FakeDrive(google)
        folder = drive.folder("Lead drops", shared=True)
        start = datetime(2026, 11, 1, 8, tzinfo=UTC)
        ids = [
            drive.upload(
                f"leads_{i:05d}.csv",
                lead_csv(i, 0),
                folder,
                at=start + timedelta(days=i % DAYS, seconds=i),
            )
            for i in range(files)
        ]
        key = google.service_account_file(Path(tmp))
        conn.send((google.url, str(key), folder))
        while True:
            command, *args = conn.recv()
            if command == "stats":
                tokens = sum(1 for r in google.state.requests if r.path == "/token")
                conn.send((dict(drive.calls), drive.bytes_served, tokens))
            elif command == "reset":
                drive.calls.clear()
                drive.bytes_served = 0
                google.state.requests.clear()
                conn.send(None)
            elif command == "change":
                fraction, version = args
                chosen = random.Random(version).sample(range(files), int(files * fraction))
                size = 0
                for i in chosen:
                    data = lead_csv(i, version)
                    drive.update(ids[i], data, at=start + timedelta(days=DAYS, seconds=i))
                    size += len(data)
                conn.send((len(chosen), size))
            elif command == "stop":
                conn.send(None)
                return


class Fake:
    def __init__(self, files: int, tmp: str) -> None:
        self.conn, child = mp.Pipe()
        self.process = mp.Process(target=fake_drive_process, args=(child, files, tmp))
        self.process.start()
        self.url, self.key, self.folder = self.conn.recv()

    def ask(self, *command):
        self.conn.send(command)
        return self.conn.recv()

    def close(self) -> None:
        self.ask("stop")
        self.process.join()


def measure(fake: Fake, fn):
    fake.ask("reset")
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    calls, served, tokens = fake.ask("stats")
    return result, {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "api_calls": sum(calls.values()),
        "calls": calls,
        "token_requests": tokens,
        "bytes_downloaded": served,
    }


def one_run(files: int, changed: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        fake = Fake(files, tmp)
        try:
            return _steps(fake, Path(tmp), files, changed)
        finally:
            fake.close()


def _steps(fake: Fake, tmp: Path, files: int, changed: float) -> dict:
    settings = PipelineSettings(data_dir=str(tmp / "data"))
    landing = settings.landing_dir

    def resource() -> DriveLeadSource:  # built afresh per tick, as the daemon does
        return DriveLeadSource(
            folder_ids=[fake.folder],
            service_account_file=fake.key,
            api_base_url=fake.url,
            database_url=f"sqlite:///{tmp / 'ops.sqlite'}",
            poll_seconds=0,
        )

    sensor = build_file_arrival_sensor("ingest_job")
    out: dict = {}
    with DagsterInstance.ephemeral() as instance:

        def tick(cursor):
            context = build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"lead_source": resource(), "settings": settings},
            )
            return sensor(context)

        def runs():
            source = resource()
            listed = source.list_files(None, None)
            fetched = sum(source.land(f, landing).fetched_bytes for f in listed)
            return len(listed), fetched

        first, out["first_tick"] = measure(fake, lambda: tick(None))
        out["first_tick"]["new_files"] = sum(
            int(r.tags["leads/new_files"]) for r in first.run_requests
        )
        (listed, _), out["first_runs"] = measure(fake, runs)
        out["first_runs"]["files"] = listed
        quiet, out["quiet_tick"] = measure(fake, lambda: tick(first.cursor))
        n, changed_bytes = fake.ask("change", changed, 1)
        second, out["changed_tick"] = measure(fake, lambda: tick(quiet.cursor))
        out["changed_tick"]["new_files"] = sum(
            int(r.tags["leads/new_files"]) for r in second.run_requests
        )
        out["changed_tick"]["changed_files"] = n
        _, out["changed_runs"] = measure(fake, runs)
        out["changed_runs"]["changed_bytes"] = changed_bytes
        day = datetime(2026, 11, 3)
        day_files, out["day_listing"] = measure(
            fake, lambda: resource().list_files(day, day + timedelta(days=1))
        )
        out["day_listing"]["files"] = len(day_files)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--changed", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = []
    for r in range(args.repeat):
        result = one_run(args.files, args.changed)
        print(json.dumps({"run": r, **result}), flush=True)
        runs.append(result)
    print()
    print(f"medians over {args.repeat} runs ({args.files} files, {args.changed:.0%} changed)")
    print("| step | wall s | CPU s | Drive API calls | token requests | bytes downloaded |")
    print("|---|---:|---:|---|---:|---:|")
    for step in runs[0]:
        rows = [run[step] for run in runs]
        calls = Counter(rows[0]["calls"])
        by_method = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
        downloaded = int(statistics.median(r["bytes_downloaded"] for r in rows))
        print(
            f"| {step} | {statistics.median(r['wall_s'] for r in rows):.2f} | "
            f"{statistics.median(r['cpu_s'] for r in rows):.2f} | "
            f"{sum(calls.values())} ({by_method}) | {rows[0]['token_requests']} | "
            f"{downloaded:,} |"
        )


if __name__ == "__main__":
    main()
