"""CRM sync benchmark: seeded scored leads through `sync_contacts` and `HubSpotCrm` into the
fake HubSpot (tests/fakes/hubspot_server.py) enforcing its 10-second rolling limit.

Claims checked (exit status 1 when one fails):

- contacts-only mapping: throughput >= 90% of the ceiling the limit allows (190 requests per
  10 s x 100 contacts per upsert = 1,900 contacts/s), zero 429s, zero failed batches or
  rejected records, never more than the limit in any 10-second window as the server saw it;
- full mapping (companies + associations): >= 90% of the same contacts-only ceiling, with the
  same zero-429 / zero-failure / window claims: associations go out 2,000 per call across
  contact batches, companies are searched 100 domains per call;
- the unchanged re-run of each mode makes zero write calls.

The fake runs in this process, in a thread (it shares the GIL with the client). Its request
handler is used as is except for TCP_NODELAY (`--nagle` keeps the fake's default): http.server
writes a response's headers and body in two sends, and with Nagle's algorithm on loopback the
body waits for the client's delayed ACK, ~40 ms per request, which alone would cap the sync
below the ceiling. A `capacity` phase (no limit on either side) shows what the client and the
fake can do, and per-request times on each side say which one costs what.

    .venv/bin/python benchmarks/crm/bench_sync.py --contacts 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.crm.hubspot import HubSpotCrm  # noqa: E402
from pipeline.crm.mapping import CrmMapping, load_mapping  # noqa: E402
from pipeline.crm.sync import sync_contacts  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from tests.fakes.hubspot_server import (  # noqa: E402
    HubSpotServer,
    HubSpotState,
    Seen,
    _Handler,
    is_write,
)
from tests.fakes.windows import max_in_window  # noqa: E402

CUSTOM = ["lead_score", "lead_grade", "lead_score_reasons", "lead_source_file", "entity_id"]
WINDOW_SECONDS = 10.0
BATCH = 100
NO_MERGES = pl.DataFrame(
    schema={"event": pl.String, "entity_id": pl.String, "other_entity_id": pl.String}
)
FIRST = (
    "james mary john patricia robert jennifer michael linda david elizabeth william barbara "
    "richard susan joseph jessica thomas sarah charles karen christopher lisa daniel nancy "
    "matthew betty anthony sandra mark margaret donald ashley steven kimberly andrew emily"
).split()
LAST = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white "
    "harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres"
).split()
STEMS = (
    "acme bright north peak blue river stone cloud data flow grid signal quantum apex summit "
    "harbor pine cedar iron silver orbit pixel vector nimbus atlas beacon cobalt delta ember"
).split()
TITLES = ("VP Sales", "Head of Marketing", "CTO", "Engineer", "Account Executive", "CEO", None)
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA")
CITIES = ("New York", "London", "Berlin", "Paris", "Toronto", "Austin", None)
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com")
REASONS = ("+25 VP-level title", "+15 target industry", "+10 company size", "-5 free email")
SOURCES = ("trade_show.csv", "webinar.xlsx", "partner_list.json")


def scored_leads(n: int, n_domains: int, seed: int, free_share: float) -> pl.DataFrame:
    """`n` seeded scored leads with the columns the default mapping reads, unique emails;
    business leads spread over `n_domains` company domains, `free_share` on free mail."""
    rng = np.random.default_rng(seed)
    domains = [
        f"{STEMS[k % len(STEMS)]}{STEMS[(k // len(STEMS)) % len(STEMS)]}{k}.com"
        for k in range(n_domains)
    ]
    free = rng.random(n) < free_share
    company_index = rng.integers(0, n_domains, n)
    company_index[: min(n, n_domains)] = np.arange(min(n, n_domains))  # every domain used
    free[: min(n, n_domains)] = False
    first = rng.choice(FIRST, n)
    last = rng.choice(LAST, n)
    score = rng.integers(0, 101, n)
    domain = [None if free[i] else domains[company_index[i]] for i in range(n)]
    mail_domain = [FREE_MAIL[i % len(FREE_MAIL)] if free[i] else domain[i] for i in range(n)]
    n_reasons = rng.integers(0, 4, n)
    return pl.DataFrame(
        {
            "entity_id": [f"E{i:07d}" for i in range(n)],
            "email": [f"{first[i]}.{last[i]}.{i}@{mail_domain[i]}" for i in range(n)],
            "first_name": [f.title() for f in first],
            "last_name": [la.title() for la in last],
            "phone_e164": [
                None if p < 0.2 else f"+1{2_000_000_000 + i}" for i, p in enumerate(rng.random(n))
            ],
            "company": [
                None if d is None else d.removesuffix(".com").title() + " Inc" for d in domain
            ],
            "job_title": rng.choice(np.array(TITLES, dtype=object), n).tolist(),
            "website": [None if d is None else f"https://{d}" for d in domain],
            "country": rng.choice(COUNTRIES, n).tolist(),
            "city": rng.choice(np.array(CITIES, dtype=object), n).tolist(),
            "lead_score": score.tolist(),
            "lead_grade": ["A" if s >= 80 else "B" if s >= 60 else "C" for s in score],
            "score_reasons": [list(REASONS[: int(k)]) for k in n_reasons],
            "source_file": rng.choice(SOURCES, n).tolist(),
            "domain": domain,
            "industry": ["Software"] * n,
            "hq_country": ["US" if d is None or len(d) % 2 else "GB" for d in domain],
            "is_free_email": free.tolist(),
        },
        schema_overrides={
            "phone_e164": pl.String,
            "city": pl.String,
            "job_title": pl.String,
            "company": pl.String,
            "website": pl.String,
            "domain": pl.String,
            "score_reasons": pl.List(pl.String),
        },
    )


class TimedHandler(_Handler):
    """The fake's handler, timing each request on the server side; TCP_NODELAY by default."""

    disable_nagle_algorithm = True

    def _handle(self, method: str) -> None:
        start = time.monotonic()
        super()._handle(method)
        timings: list[tuple[float, float]] = self.server.handled  # type: ignore[attr-defined]
        timings.append((start, time.monotonic() - start))


@contextmanager
def fake_hubspot(limit: int | None, nagle: bool) -> Iterator[HubSpotServer]:
    """The fake HubSpot in a thread of this process, with the custom contact properties."""
    state = HubSpotState(max_per_10s=limit, extra_properties={"contacts": CUSTOM})
    server = HubSpotServer(state)
    server.RequestHandlerClass = type(
        "Handler", (TimedHandler,), {"disable_nagle_algorithm": not nagle}
    )
    server.handled = []  # type: ignore[attr-defined]
    with server:
        yield server


def timed_windows(crm: HubSpotCrm) -> list[tuple[float, float]]:
    """(granted at, seconds waited) for every slot the client's rolling windows grant."""
    waits: list[tuple[float, float]] = []
    for window in (crm._window, crm._search_window):
        slot = window.slot

        @contextmanager
        def timed(slot: Callable[[], Any] = slot) -> Iterator[None]:
            start = time.monotonic()
            with slot():
                waits.append((time.monotonic(), time.monotonic() - start))
                yield

        window.slot = timed  # type: ignore[method-assign]
    return waits


@dataclass
class Phase:
    name: str
    contacts: int
    requests: int
    writes: int
    upserts: int
    associations: int
    searches: int
    status_429: int
    failed: int
    retries: int
    rejected: int
    batches: int
    max_10s_window: int
    before_contacts_seconds: float  # plan, property checks, company searches and creates
    span_seconds: float  # first request to the end of the sync
    wall_seconds: float
    contacts_per_second: float  # over span_seconds
    contacts_phase_per_second: float  # from the first contact batch to the end
    window_wait_seconds: float  # in the contacts phase
    server_ms_per_request: float
    client_ms_per_request: float  # contacts phase, less window waits and server time
    error: str | None = None


def run_phase(
    name: str,
    server: HubSpotServer,
    frame: pl.DataFrame,
    mapping: CrmMapping,
    store_url: str,
    limit: int,
) -> Phase:
    """One sync on `server` and the store; figures from the server's own request log."""
    state = server.state
    engine = open_store(store_url)
    crm = HubSpotCrm(state.access_token, server.url, requests_per_10s=limit, engine=engine)
    waits = timed_windows(crm)
    with state.lock:
        seen_before = len(state.requests)
    handled_before = len(server.handled)  # type: ignore[attr-defined]
    report, error = None, None
    started = time.monotonic()
    try:
        report = sync_contacts(frame, NO_MERGES, mapping, crm, engine, run_id=name)
    except Exception as exc:  # reported, and fails the benchmark
        error = f"{type(exc).__name__}: {exc}"[:500]
    ended = time.monotonic()
    with state.lock:
        seen: list[Seen] = state.requests[seen_before:]
    handled: list[tuple[float, float]] = server.handled[handled_before:]  # type: ignore[attr-defined]
    writes = [s for s in seen if is_write(s.method, s.path)]
    contact_calls = [s for s in seen if "/contacts/batch/" in s.path]
    # The contacts phase starts when the first contact batch got its slot.
    phase_start = (
        max((t for t, _ in waits if t <= contact_calls[0].at), default=contact_calls[0].at)
        if contact_calls
        else ended
    )
    in_phase = [s for s in seen if s.at >= phase_start]
    server_in_phase = sum(d for t, d in handled if t >= phase_start)
    waited = sum(w for t, w in waits if t >= phase_start)
    contacts = report.sent if report else 0
    span = ended - seen[0].at if seen else 0.0
    phase_span = ended - phase_start
    return Phase(
        name=name,
        contacts=contacts,
        requests=len(seen),
        writes=len(writes),
        upserts=sum(1 for s in seen if s.path.endswith("/contacts/batch/upsert")),
        associations=sum(1 for s in seen if "/associations/" in s.path),
        searches=sum(1 for s in seen if s.path.endswith("/search")),
        status_429=sum(1 for s in seen if s.status == 429),
        failed=sum(1 for s in seen if not 200 <= s.status < 300 or s.status == 207),
        retries=crm.retries,
        rejected=report.rejected if report else 0,
        batches=report.batches if report else 0,
        max_10s_window=max_in_window([s.at for s in seen if s.status != 429], WINDOW_SECONDS),
        before_contacts_seconds=phase_start - started,
        span_seconds=span,
        wall_seconds=ended - started,
        contacts_per_second=contacts / span if span else 0.0,
        contacts_phase_per_second=contacts / phase_span if phase_span > 0 else 0.0,
        window_wait_seconds=waited,
        server_ms_per_request=(
            1000 * sum(d for _, d in handled) / len(handled) if handled else 0.0
        ),
        client_ms_per_request=(
            1000 * (phase_span - waited - server_in_phase) / len(in_phase) if in_phase else 0.0
        ),
        error=error,
    )


def contacts_only(mapping: CrmMapping) -> CrmMapping:
    mapping = mapping.model_copy(deep=True)
    mapping.companies = None
    return mapping


def fmt(p: Phase) -> str:
    return (
        f"| {p.name} | {p.contacts:,} | {p.requests:,} ({p.upserts:,} upserts, "
        f"{p.associations:,} assoc., {p.searches:,} searches) | {p.writes:,} | "
        f"{p.span_seconds:.1f} s | {p.contacts_per_second:,.0f} | "
        f"{p.contacts_phase_per_second:,.0f} | {p.status_429} | {p.failed} / {p.rejected} | "
        f"{p.max_10s_window} | {p.before_contacts_seconds:.1f} s | {p.window_wait_seconds:.1f} s | "
        f"{p.server_ms_per_request:.1f} / {p.client_ms_per_request:.1f} ms |"
    )


HEADER = (
    "| phase | contacts | requests | writes | first request -> end | contacts/s | "
    "contacts/s (contact batches) | 429s | failed batches / rejected | max in 10 s | "
    "before contacts | window wait | server / client ms per request |\n"
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def run_mode(
    mode: str,
    frame: pl.DataFrame,
    mapping: CrmMapping,
    tmp: Path,
    args: argparse.Namespace,
    ceiling: float,
    failures: list[str],
) -> list[Phase]:
    """One mode's phases on a fresh fake and store; appends the claims that failed."""
    store_url = f"sqlite:///{tmp / f'{mode}.sqlite'}"
    if mode == "capacity":
        data = frame.head(args.capacity_contacts)
        with fake_hubspot(None, args.nagle) as server:
            phase = run_phase(
                "capacity (no limit)", server, data, contacts_only(mapping), store_url, 10**6
            )
        print(fmt(phase), flush=True)
        return [phase]
    used = contacts_only(mapping) if mode == "contacts" else mapping
    with fake_hubspot(args.limit, args.nagle) as server:
        first = run_phase(f"{mode}: first sync", server, frame, used, store_url, args.limit)
        print(fmt(first), flush=True)
        again = run_phase(f"{mode}: unchanged re-run", server, frame, used, store_url, args.limit)
        print(fmt(again), flush=True)
    for p in (first, again):
        if p.error:
            failures.append(f"{p.name}: raised {p.error}")
        if p.status_429:
            failures.append(f"{p.name}: {p.status_429} answers were 429")
        if p.failed or p.rejected or p.retries:
            failures.append(
                f"{p.name}: {p.failed} failed/partial batches, {p.rejected} rejected "
                f"records, {p.retries} retries"
            )
        if p.max_10s_window > args.limit:
            failures.append(f"{p.name}: {p.max_10s_window} requests in one 10 s window")
    if first.contacts != args.contacts:
        failures.append(f"{first.name}: sent {first.contacts:,} of {args.contacts:,}")
    if again.writes:
        failures.append(f"{again.name}: {again.writes} write calls")
    if mode in ("contacts", "full") and first.contacts_per_second < 0.9 * ceiling:
        failures.append(
            f"{first.name}: {first.contacts_per_second:,.0f} contacts/s is under 90% of "
            f"the {ceiling:,.0f}/s ceiling"
        )
    return [first, again]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=190, help="requests per 10 s")
    parser.add_argument("--domains", type=int, default=200, help="company domains (full mode)")
    parser.add_argument("--free-share", type=float, default=0.1, help="leads on free mail")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--modes",
        default="capacity,contacts,full",
        help="comma list of capacity (no limit), contacts (contacts-only), full",
    )
    parser.add_argument("--capacity-contacts", type=int, default=20_000)
    parser.add_argument("--nagle", action="store_true", help="keep the fake's Nagle default")
    parser.add_argument("--json", type=Path, help="append the phases as JSON lines here")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ceiling = args.limit / WINDOW_SECONDS * BATCH
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    frame = scored_leads(args.contacts, args.domains, args.seed, args.free_share)
    print(
        f"{frame.height:,} scored leads ({frame['email'].n_unique():,} unique emails, "
        f"{frame['domain'].drop_nulls().n_unique():,} domains) "
        f"in {time.perf_counter() - t0:.1f} s; "
        f"load {load_before[0]:.2f}, {os.cpu_count()} cpus",
        flush=True,
    )
    mapping = load_mapping()
    print(HEADER, flush=True)
    phases: list[Phase] = []
    failures: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_crm_"))
    try:
        for mode in modes:
            phases += run_mode(mode, frame, mapping, tmp, args, ceiling, failures)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    print("\n" + HEADER)
    for p in phases:
        print(fmt(p))
    print(
        f"\nceiling {ceiling:,.0f} contacts/s ({args.limit} requests per 10 s x {BATCH}); "
        f"load {load_before[0]:.2f} -> {load_after[0]:.2f}"
        + (" ; server with Nagle (fake's default)" if args.nagle else "")
    )
    if args.json:
        with args.json.open("a", encoding="utf-8") as out:
            for p in phases:
                row = asdict(p) | {"limit": args.limit, "load": [load_before, load_after]}
                out.write(json.dumps(row) + "\n")
    for failure in failures:
        print(f"FAIL {failure}")
    if not failures:
        print("OK: every claim held")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
