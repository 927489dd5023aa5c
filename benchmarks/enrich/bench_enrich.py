"""Enrichment benchmark: 100,000 golden leads through `enrich_leads` against local fake vendors
with a 50 ms latency and a 20 requests/s limit (answered with 429 + Retry-After).

It checks the two claims the engine makes: the client-side limiter keeps to the vendor's limit
(no 429s, never more than 20 requests in any 1-second window as the server saw them), and the
cache makes a second run on the same store make no request at all. Each provider gets its own
fake vendor (real vendors limit each key separately), run in a child process by default so the
server's clock is not disturbed by the client's GIL. Exits non-zero when a claim fails.

    .venv/bin/python benchmarks/enrich/bench_enrich.py --leads 100000
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.enrich import EnrichmentConfig, enrich_leads, open_providers  # noqa: E402
from pipeline.normalize.mail_domains import disposable_domains, free_mail_domains  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from tests.fakes.enrichment_vendor import (  # noqa: E402
    VendorServer,
    VendorState,
    _Handler,
    company_payload,
    person_payload,
)
from tests.fakes.windows import max_in_window  # noqa: E402

PG_ADMIN_URL = "postgresql://leads:leads@127.0.0.1:5432/leads_test"
PG_DATABASE = "leads_bench_enrich"
KEY = "bench-key"
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com")
FIRST = (
    "james mary john patricia robert jennifer michael linda david elizabeth william barbara "
    "richard susan joseph jessica thomas sarah charles karen christopher lisa daniel nancy "
    "matthew betty anthony sandra mark margaret donald ashley steven kimberly andrew emily "
    "paul donna joshua michelle kenneth carol kevin amanda brian melissa george deborah "
    "timothy stephanie ronald rebecca jason sharon edward laura jeffrey cynthia ryan amy "
    "jacob kathleen gary angela nicholas shirley eric brenda jonathan emma stephen anna "
    "larry pamela justin nicole scott samantha brandon katherine benjamin christine samuel "
    "helen gregory debra alexander rachel frank carolyn patrick janet raymond maria jack "
    "catherine dennis heather jerry diane tyler olivia aaron julie jose joyce adam victoria"
).split()
LAST = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white "
    "harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres "
    "nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts "
    "gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris "
    "morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly "
    "howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray "
    "mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez "
    "powell jenkins perry russell sullivan bell coleman butler henderson barnes gonzales "
    "fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds"
).split()
STEMS = (
    "acme bright lane north peak blue river stone cloud data flow grid signal quantum apex "
    "summit harbor pine cedar iron silver orbit pixel vector nimbus atlas beacon cobalt delta "
    "ember falcon granite helix indigo jasper kinetic lumen meridian nova onyx prism quartz "
    "radiant sable terra umbra vertex willow xenon yonder zenith arc bold core deep echo "
    "forge glow hive ion jet keen loop mesh nest opal pulse quest rise spark tide unity vivid"
).split()
SUFFIXES = ("", "labs", "tech", "soft", "works", "systems", "hq", "io", "group", "ai")
TLDS = ("com", "com", "com", "com", "io", "co", "co.uk", "de", "net", "ai")
INDUSTRIES = ("Software", "Retail", "Finance", "Healthcare", "Manufacturing", "Logistics")
EMPLOYEES = ("1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000")


@dataclass
class Dataset:
    leads: pl.DataFrame
    companies: dict[str, dict[str, Any]]
    people: dict[tuple[str, str, str], dict[str, Any]]
    company_lookups: int
    finder_lookups: int


def company_domains(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct business domains, none on the free-mail or disposable lists (those are
    never looked up, so a clash would silently shrink the number of lookups)."""
    excluded = free_mail_domains() | disposable_domains()
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        a, b = rng.choice(STEMS, 2, replace=False)
        suffix = SUFFIXES[rng.integers(len(SUFFIXES))]
        name = f"{a}{b}{suffix}" if rng.random() < 0.7 else f"{a}-{b}{suffix}"
        domain = f"{name}.{TLDS[rng.integers(len(TLDS))]}"
        if domain not in seen and domain not in excluded:
            seen.add(domain)
            out.append(domain)
    return out


def generate(n: int, n_domains: int, seed: int) -> Dataset:
    """Seeded golden leads with a B2B shape: ~80% of leads at `n_domains` companies whose sizes
    follow a power law (every company has at least one lead), ~20% on free-mail (no company
    lookup possible), ~1% with no email (an email-finder lookup when the domain is known),
    ~30% with no company name, ~10% with no phone. Also what the fake vendors know."""
    rng = np.random.default_rng(seed)
    domains = company_domains(rng, n_domains)
    free = rng.random(n) < 0.20
    n_business = int((~free).sum())
    if n_business < n_domains:
        raise SystemExit(f"{n} leads cannot cover {n_domains} company domains")
    weights = 1.0 / np.arange(1, n_domains + 1) ** 0.8  # Zipf: top company ~5% of leads
    company_index = np.concatenate(
        [
            rng.permutation(n_domains),  # every company at least once
            rng.choice(n_domains, n_business - n_domains, p=weights / weights.sum()),
        ]
    )
    rng.shuffle(company_index)
    first = rng.choice(FIRST, n)
    last = rng.choice(LAST, n)
    no_email = rng.random(n) < 0.01
    no_company_name = rng.random(n) < 0.30
    no_phone = rng.random(n) < 0.10
    free_domain = rng.choice(FREE_MAIL, n)
    rows: list[dict[str, Any]] = []
    business = iter(company_index.tolist())
    for i in range(n):
        f, la = str(first[i]), str(last[i])
        if free[i]:
            domain, mail_domain, company = None, str(free_domain[i]), None
            if not no_company_name[i]:
                company = STEMS[i % len(STEMS)].title() + " Consulting"
        else:
            domain = domains[next(business)]
            mail_domain = domain
            company = None if no_company_name[i] else domain.split(".")[0].title() + " Inc"
        rows.append(
            {
                "entity_id": f"ent-{i:07d}",
                "first_name": f.title(),
                "last_name": la.title(),
                "email": None if no_email[i] else f"{f}.{la}{i % 97}@{mail_domain}",
                "domain": domain,
                "phone_e164": None if no_phone[i] else f"+1{rng.integers(2012000000, 9899999999)}",
                "company": company,
            }
        )
    leads = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String()))
    # What the vendors know: 90% of companies, 70% of the people looked for.
    companies = {
        d: company_payload(
            d.split(".")[0].title() + " Inc",
            INDUSTRIES[k % len(INDUSTRIES)],
            EMPLOYEES[k % len(EMPLOYEES)],
            "US" if k % 3 else "GB",
            ["aws"] if k % 2 else ["gcp", "hubspot"],
        )
        for k, d in enumerate(domains)
        if rng.random() < 0.9
    }
    finder_inputs = (
        leads.filter(pl.col("email").is_null() & pl.col("domain").is_not_null())
        .select(
            pl.col("first_name").str.to_lowercase(),
            pl.col("last_name").str.to_lowercase(),
            "domain",
        )
        .unique()
    )
    people = {
        (f, la, d): person_payload(f"{f}.{la}@{d}", "verified" if rng.random() < 0.8 else "risky")
        for f, la, d in finder_inputs.iter_rows()
        if rng.random() < 0.7
    }
    company_lookups = leads.filter(pl.col("domain").is_not_null())["domain"].n_unique()
    return Dataset(leads, companies, people, company_lookups, finder_inputs.height)


def provider_config(finder_url: str, company_url: str, args: argparse.Namespace) -> dict:
    """Both providers at the vendor's limit, with budgets that never bind."""
    common = {
        "rate": {"requests": args.rate, "per_seconds": 1},
        "concurrency": args.concurrency,
        "timeout_seconds": 10,
        "budget": {"per_run": 1_000_000, "per_day": 10_000_000},
    }
    return {
        "providers": {
            "email_finder": {
                "kind": "email_finder",
                "base_url": finder_url,
                "api_key_env": "BENCH_FINDER_KEY",
                "auth_scheme": "Bearer",
                "field_map": {"email": "email", "email_verification": "email_class"},
                **common,
            },
            "firmographics": {
                "kind": "company",
                "base_url": company_url,
                "api_key_env": "BENCH_FIRMO_KEY",
                "field_map": {
                    "company": "name",
                    "industry": "category.industry",
                    "employee_range": "metrics.employeesRange",
                    "revenue_range": "metrics.estimatedAnnualRevenue",
                    "hq_country": "geo.countryCode",
                    "technologies": "tech",
                },
                **common,
            },
        },
        "waterfall": {
            "email": ["email_finder"],
            "company": ["firmographics", "offline"],
            "website": ["offline"],
            "country": ["offline"],
            "industry": ["firmographics"],
            "employee_range": ["firmographics"],
            "revenue_range": ["firmographics"],
            "hq_country": ["firmographics"],
            "technologies": ["firmographics"],
        },
    }


# --- The fake vendors ------------------------------------------------------------------------


class _ArrivalHandler(_Handler):
    """The fake's handler, unchanged, plus the arrival time of each request, taken where the
    server applies its own limit (the fake's `Seen.at` is stamped after the latency)."""

    def _decide(self, state: VendorState, *args: Any) -> tuple[int, Any, dict[str, str]]:
        status, payload, headers = super()._decide(state, *args)
        arrivals: list[tuple[float, int]] = self.server.arrivals  # type: ignore[attr-defined]
        with state.lock:
            arrivals.append((time.monotonic(), status))
        return status, payload, headers


def _start_vendor(state: VendorState) -> VendorServer:
    server = VendorServer(state)
    server.RequestHandlerClass = _ArrivalHandler
    server.arrivals = []  # type: ignore[attr-defined]
    return server.__enter__()


def _vendor_process(settings: dict[str, Any], conn: Connection) -> None:
    """Child process: serve until told to stop; answer 'arrivals' with what the server saw."""
    state = VendorState(**settings)
    server = _start_vendor(state)
    conn.send(server.url)
    while (command := conn.recv()) != "stop":
        assert command == "arrivals"
        with state.lock:
            conn.send(list(server.arrivals))  # type: ignore[attr-defined]
    server.__exit__(None, None, None)


@dataclass
class Vendor:
    """A fake vendor in this process (thread) or in a child process."""

    url: str
    _arrivals: Any = None
    _conn: Connection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arrivals(self) -> list[tuple[float, int]]:
        if self._conn is None:
            return list(self._arrivals)
        with self._lock:
            self._conn.send("arrivals")
            return self._conn.recv()


@contextmanager
def vendor(settings: dict[str, Any], mode: str) -> Iterator[Vendor]:
    """A fake vendor built from VendorState's arguments (a state holds a lock: not picklable)."""
    if mode == "thread":
        server = _start_vendor(VendorState(**settings))
        try:
            yield Vendor(server.url, _arrivals=server.arrivals)  # type: ignore[attr-defined]
        finally:
            server.__exit__(None, None, None)
        return
    ctx = mp.get_context("spawn")  # no fork of a process running polars' threads
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_vendor_process, args=(settings, child), daemon=True)
    process.start()
    try:
        yield Vendor(parent.recv(), _conn=parent)
    finally:
        parent.send("stop")
        process.join(10)


# --- Measures --------------------------------------------------------------------------------


@dataclass
class PhaseStats:
    requests: int
    too_many: int
    max_window: int
    span: float  # first to last arrival
    rate: float  # (requests - 1) / span
    ideal_span: float  # the same requests sent exactly at the limit


def phase_stats(arrivals: list[tuple[float, int]], limit: int) -> PhaseStats:
    """What the server saw. A sliding window admits `limit` requests at once, so n requests
    need at least ceil(n / limit) - 1 seconds from the first to the last."""
    times = [t for t, _ in arrivals]
    span = max(times) - min(times) if len(times) > 1 else 0.0
    return PhaseStats(
        requests=len(arrivals),
        too_many=sum(1 for _, s in arrivals if s == 429),
        max_window=max_in_window(times, 1.0),
        span=span,
        rate=(len(times) - 1) / span if span else 0.0,
        ideal_span=float(max(0, math.ceil(len(times) / limit) - 1)),
    )


# --- Runs ------------------------------------------------------------------------------------


@contextmanager
def store_url(backend: str) -> Iterator[str]:
    """A fresh store: a SQLite file in a temp dir, or a new Postgres database (dropped after)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'ops.sqlite'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    url = make_url(PG_ADMIN_URL).set(database=PG_DATABASE).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        open_store(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        admin.dispose()


def run_once(
    data: Dataset, config: EnrichmentConfig, url: str, verbose: bool
) -> tuple[float, pl.DataFrame, Any]:
    """One run as a fresh process would do it: new providers (empty limiters), same store."""
    engine = open_store(url)
    started = time.perf_counter()
    providers = open_providers(config)
    try:
        out, report = enrich_leads(
            data.leads,
            config,
            providers,
            engine,
            progress=(lambda m: print("   ", m, flush=True)) if verbose else (lambda _m: None),
        )
    finally:
        for p in providers.values():
            p.close()
    return time.perf_counter() - started, out, report


def bench_backend(data: Dataset, backend: str, args: argparse.Namespace) -> tuple[list[str], str]:
    """Two runs on one fresh store; returns the failed checks and a results-table row."""
    failures: list[str] = []
    limits = {"api_key": KEY, "latency": args.latency, "rate_per_second": args.rate}
    with (
        vendor({"people": data.people, **limits}, args.server) as finder,
        vendor({"companies": data.companies, **limits}, args.server) as company,
        store_url(backend) as url,
    ):
        config = EnrichmentConfig.model_validate(provider_config(finder.url, company.url, args))
        print(f"\n[{backend}] first run (empty cache), load {os.getloadavg()[0]:.2f}")
        wall1, out1, report1 = run_once(data, config, url, args.verbose)
        seen_finder, seen_company = finder.arrivals(), company.arrivals()
        sf, sc = phase_stats(seen_finder, args.rate), phase_stats(seen_company, args.rate)
        needed = {n: s.needed for n, s in report1.providers.items()}
        print(
            f"  wall {wall1:.1f} s, of which {wall1 - sf.span - sc.span:.1f} s outside the "
            f"two fetch phases; lookups needed {needed}"
        )
        for name, s in (("email_finder", sf), ("firmographics", sc)):
            print(
                f"  {name}: {s.requests} requests in {s.span:.1f} s (ideal {s.ideal_span:.0f} s) "
                f"= {s.rate:.2f} req/s, 429s {s.too_many}, max in any 1 s window {s.max_window}"
            )
        print(f"  http counters: {report1.http}")
        print(f"  status: {dict(out1['enrichment_status'].value_counts().iter_rows())}")

        print(f"[{backend}] second run (same store), load {os.getloadavg()[0]:.2f}")
        wall2, out2, report2 = run_once(data, config, url, args.verbose)
        extra = (
            len(finder.arrivals()) - len(seen_finder) + len(company.arrivals()) - len(seen_company)
        )
        print(f"  wall {wall2:.2f} s; http requests {extra}; totals {report2.totals()}")

    expected = {"email_finder": data.finder_lookups, "firmographics": data.company_lookups}
    if needed != expected:
        failures.append(f"{backend}: lookups needed {needed}, generator expected {expected}")
    for name, s in (("email_finder", sf), ("firmographics", sc)):
        if s.too_many:
            failures.append(f"{backend}: {name} got {s.too_many} 429s")
        if s.max_window > args.rate:
            failures.append(f"{backend}: {name} saw {s.max_window} requests in 1 s > {args.rate}")
        if s.requests != expected[name]:
            failures.append(f"{backend}: {name} made {s.requests} requests for {expected[name]}")
    if extra:
        failures.append(f"{backend}: the second run made {extra} HTTP requests")
    if not out1.drop("enrichment_provenance").equals(out2.drop("enrichment_provenance")):
        failures.append(f"{backend}: the second run's output differs from the first")
    total = sf.requests + sc.requests
    row = (
        f"| {backend} | {total:,} | {wall1:.1f} s | {sf.rate:.2f} / {sc.rate:.2f} | "
        f"{sf.too_many + sc.too_many} | {max(sf.max_window, sc.max_window)} | {wall2:.2f} s | "
        f"{extra} |"
    )
    return failures, row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=2_500, help="distinct company domains")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=int, default=20, help="vendor and client requests/s")
    parser.add_argument("--latency", type=float, default=0.05, help="vendor latency, seconds")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    parser.add_argument("--verbose", action="store_true", help="print the engine's progress")
    args = parser.parse_args()
    os.environ["BENCH_FINDER_KEY"] = os.environ["BENCH_FIRMO_KEY"] = KEY

    started = time.perf_counter()
    data = generate(args.leads, args.domains, args.seed)
    lookups = data.company_lookups + data.finder_lookups
    leads = data.leads
    print(
        f"{leads.height:,} leads generated in {time.perf_counter() - started:.1f} s: "
        f"{leads['domain'].is_not_null().sum():,} at {data.company_lookups:,} company domains, "
        f"{leads['domain'].is_null().sum():,} on free mail, "
        f"{leads['email'].is_null().sum():,} without email"
    )
    floor = sum(
        max(0, math.ceil(n / args.rate) - 1) for n in (data.company_lookups, data.finder_lookups)
    )
    print(
        f"lookups: {data.company_lookups:,} company + {data.finder_lookups:,} email-finder = "
        f"{lookups:,}; at {args.rate} req/s that is {lookups / args.rate:.1f} s of fetching "
        f"(a sliding window's first burst makes the floor {floor} s + latency)"
    )
    print(f"load average {os.getloadavg()}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failures: list[str] = []
    rows: list[str] = []
    for backend in backends:
        failed, row = bench_backend(data, backend, args)
        failures += failed
        rows.append(row)
    print(
        "\n| store | requests | first run | req/s finder / company | 429s | max in 1 s "
        "| second run | its requests |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
