"""Markdown table of medians from the JSON lines `load.py --json FILE` appends, so the README's
figures can be regenerated rather than copied by hand.

    .venv/bin/python benchmarks/webhooks/table.py results.jsonl
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(results: list[dict[str, Any]]) -> str:
    """One line per configuration: medians over its undisturbed runs (all runs for crash
    tests, where the load does not matter), with how many runs went in and were left out."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        crash = len(r.get("crashes") or [])
        groups[(r["backend"], r["batch"], r["concurrency"], r["client"], crash)].append(r)
    lines = [
        "| backend | events/request | in flight | SIGKILLs | accepted events/s | requests/s "
        "| p50 ms | p99 ms | runs (+ disturbed, left out) | others' cores "
        "| lost / twice / bad-signature stored |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for (backend, batch, conc, _client, crash), runs in sorted(groups.items()):
        used = [r for r in runs if not r["disturbed"]] or runs
        med = {
            k: statistics.median(r[k] for r in used)
            for k in ("accepted_per_s", "requests_per_s", "p50_ms", "p99_ms", "others_cores")
        }
        lost = sum(r["lost"] for r in runs)
        twice = sum(r["twice"] for r in runs)
        unsigned = sum(r["bad_signature_stored"] for r in runs)
        failed = sum(bool(r["failures"]) for r in runs)
        lines.append(
            f"| {backend} | {batch} | {conc} | {crash} | {med['accepted_per_s']:,.0f} "
            f"| {med['requests_per_s']:,.0f} | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} "
            f"| {len(used)} (+{len(runs) - len(used)}) | {med['others_cores']:.2f} "
            f"| {lost} / {twice} / {unsigned}{f', {failed} FAILED' if failed else ''} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table([r for arg in sys.argv[1:] for r in rows(Path(arg))]))
