"""Reproducer for the double `accepted` answer: the same HubSpot event delivered N times at
once (HubSpot retrying a delivery that is slow to answer). The inbox must hold it once and
exactly one of the answers may say `accepted: 1`; the others must say `duplicates: 1`.

    .venv/bin/python benchmarks/webhooks/race.py --backend sqlite --rounds 300 --copies 2

Exits 1 if any round had more than one `accepted`. How often that happens depends on timing:
only copies that reach the writer's queue while it is busy (so land in one transaction) hit it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import PATH, SECRET, Server, Store, free_port, hubspot_v3


async def rounds(backend: str, count: int, copies: int) -> tuple[int, int]:
    """Returns (rounds answered `accepted: 1` more than once, rounds)."""
    workdir = Path(tempfile.mkdtemp(prefix="webhook-race-"))
    store = Store(backend, workdir, keep=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    server = Server(store.url, port, workdir)
    doubled = 0
    try:
        server.start()
        await server.wait_ready()
        async with httpx.AsyncClient(timeout=30.0) as client:

            async def deliver(event: dict, attempt: int) -> int:
                body = json.dumps([dict(event, attemptNumber=attempt)]).encode()
                ts = str(int(time.time() * 1000))
                headers = {
                    "Content-Type": "application/json",
                    "X-HubSpot-Signature-v3": hubspot_v3(SECRET, "POST", url, body, ts),
                    "X-HubSpot-Request-Timestamp": ts,
                }
                answer = await client.post(url, content=body, headers=headers)
                answer.raise_for_status()
                return int(answer.json()["accepted"])

            for i in range(count):
                event = {
                    "eventId": i,
                    "subscriptionType": "contact.creation",
                    "portalId": 1,
                    "objectId": 7_000_000 + i,
                    "occurredAt": 1_764_430_000_000 + i,
                    "attemptNumber": 0,
                }
                accepted = await asyncio.gather(*(deliver(event, k) for k in range(copies)))
                doubled += sum(accepted) > 1
    finally:
        server.stop()
        store.drop()
    return doubled, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args()
    backend = "postgresql" if args.backend == "postgres" else "sqlite"
    doubled, count = asyncio.run(rounds(backend, args.rounds, args.copies))
    print(f"{doubled} of {count} rounds answered `accepted: 1` more than once")
    return 1 if doubled else 0


if __name__ == "__main__":
    sys.exit(main())
