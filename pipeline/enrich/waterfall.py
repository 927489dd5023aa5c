"""The enrichment waterfall over golden leads.

For each field the configured providers are asked in order; a lookup is made only for rows
where the field is still empty, once per distinct input (a company lookup per domain, not per
lead), from the cache when it is fresh, and within the per-run and per-day budgets. Every
filled field records which provider supplied it and when (`enrichment_provenance`), and every
row says what happened to it (`enrichment_status`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine

from pipeline.enrich.cache import CachedAnswer, cached, input_key, store_answers
from pipeline.enrich.config import EnrichmentConfig
from pipeline.enrich.http_provider import AuthError, CircuitOpen, HttpProvider, ProviderFailure
from pipeline.enrich.offline import OFFLINE, offline_fields
from pipeline.store.pause import PauseGate
from pipeline.store.spend import try_spend
from pipeline.store.sql import utcnow

FIELD_TYPES: dict[str, pl.DataType] = {
    "email": pl.String(),
    "email_verification": pl.String(),
    "email_confidence": pl.Float64(),
    "company": pl.String(),
    "website": pl.String(),
    "country": pl.String(),
    "industry": pl.String(),
    "employee_range": pl.String(),
    "revenue_range": pl.String(),
    "hq_country": pl.String(),
    "technologies": pl.List(pl.String()),
}
QUALITY_COLUMNS = (
    "email_valid",
    "is_free_email",
    "is_disposable_email",
    "is_role_email",
    "email_deliverability",
)
# Lookup inputs per provider kind (columns of the working frame).
LOOKUP_INPUTS = {
    "email_finder": ("first_name", "last_name", "business_domain"),
    "company": ("business_domain",),
}
STORE_EVERY = 50
PROGRESS_EVERY_SECONDS = 5.0

# Per-lookup outcomes, and what they mean for a row.
FOUND, NOT_FOUND, BUDGET, FAILED = "found", "not_found", "budget", "failed"


@dataclass
class ProviderStats:
    needed: int = 0
    cached: int = 0
    fetched: int = 0
    found: int = 0
    not_found: int = 0
    failed: int = 0
    skipped_budget: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "errors"}
        data["errors"] = dict(self.errors.most_common(5))
        return data


@dataclass
class EnrichmentReport:
    providers: dict[str, ProviderStats] = field(default_factory=dict)
    http: dict[str, dict[str, int]] = field(default_factory=dict)
    auth_failures: list[str] = field(default_factory=list)
    circuit_opened: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        keys = ("needed", "cached", "fetched", "found", "not_found", "failed", "skipped_budget")
        return {k: sum(getattr(s, k) for s in self.providers.values()) for k in keys}


@dataclass
class Budget:
    """Paid lookups left: per run in memory, per day in the store (shared by all runs)."""

    engine: Engine | None
    provider: str
    per_run: int | None
    per_day: int | None
    used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self._lock:
            if self.per_run is not None and self.used >= self.per_run:
                return False
            if self.engine is not None and not try_spend(
                self.engine, self.provider, utcnow().date(), self.per_day
            ):
                return False
            self.used += 1
            return True


def _rounds(config: EnrichmentConfig) -> list[dict[str, list[str]]]:
    """Round i: provider -> the fields for which it is the i-th choice."""
    depth = max((len(v) for v in config.waterfall.values()), default=0)
    rounds = []
    for i in range(depth):
        by_provider: dict[str, list[str]] = {}
        for name_field, names in config.waterfall.items():
            if i < len(names):
                by_provider.setdefault(names[i], []).append(name_field)
        rounds.append(by_provider)
    return rounds


def _lookup_dict(kind: str, values: tuple) -> dict[str, Any]:
    if kind == "company":
        return {"domain": values[0]}
    first, last, domain = values
    return {"first_name": first, "last_name": last, "domain": domain}


class _Progress:
    def __init__(self, name: str, total: int, stats: ProviderStats, report: Callable[[str], None]):
        self.name, self.total, self.stats, self.report = name, total, stats, report
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def tick(self, force: bool = False) -> None:
        with self.lock:
            if not force and time.monotonic() - self.last < PROGRESS_EVERY_SECONDS:
                return
            self.last = time.monotonic()
        s = self.stats
        self.report(
            f"{self.name}: {s.fetched + s.failed + s.skipped_budget}/{self.total} to fetch done "
            f"(found {s.found}, not found {s.not_found}, failed {s.failed}, "
            f"skipped by budget {s.skipped_budget}; {s.cached} from cache)"
        )


def _fetch_all(
    provider: HttpProvider,
    lookups: dict[str, dict[str, Any]],
    engine: Engine | None,
    budget: Budget,
    stats: ProviderStats,
    progress: Callable[[str], None],
) -> dict[str, tuple[str, CachedAnswer | None]]:
    """Fetch the lookups not in the cache; answers are written to the cache in small batches,
    so a run killed halfway keeps what it paid for."""
    outcomes: dict[str, tuple[str, CachedAnswer | None]] = {}
    pending: dict[str, CachedAnswer] = {}
    lock = threading.Lock()
    ttl = timedelta(days=provider.config.ttl_days)
    ticker = _Progress(provider.name, len(lookups), stats, progress)
    # The kill switch: a paid lookup is a side effect, checked before each (at most 1/s).
    gate = PauseGate(engine if provider.config.paid else None, f"{provider.name} lookups")

    def flush() -> None:
        with lock:
            batch = dict(pending)
            pending.clear()
        if engine is not None and batch:
            store_answers(engine, provider.name, batch, ttl)

    def one(key: str, lookup: dict[str, Any]) -> None:
        gate.check()
        outcome: tuple[str, CachedAnswer | None]
        if provider.auth_failed or provider.circuit_open:
            outcome = (FAILED, None)
            error = "auth" if provider.auth_failed else "circuit_open"
        elif provider.config.paid and not budget.take():
            outcome, error = (BUDGET, None), ""
        else:
            try:
                answer = provider.fetch(lookup)
                outcome, error = (answer.status, answer), ""
            except (AuthError, CircuitOpen, ProviderFailure) as exc:
                outcome, error = (FAILED, None), type(exc).__name__ + ": " + str(exc)[:200]
        with lock:
            outcomes[key] = outcome
            status, answer = outcome
            if status == BUDGET:
                stats.skipped_budget += 1
            elif status == FAILED:
                stats.failed += 1
                stats.errors[error.split(":")[0] or "failed"] += 1
            else:
                stats.fetched += 1
                stats.found += status == FOUND
                stats.not_found += status == NOT_FOUND
                assert answer is not None
                pending[key] = answer
            full = len(pending) >= STORE_EVERY
        if full:
            flush()
        ticker.tick()

    try:
        with ThreadPoolExecutor(max_workers=provider.config.concurrency) as pool:
            futures = [pool.submit(one, key, lookup) for key, lookup in lookups.items()]
            for future in as_completed(futures):
                if future.exception() is not None:  # paused: stop the rest, keep what was paid
                    for pending_future in futures:
                        pending_future.cancel()
                future.result()
    finally:
        flush()
    ticker.tick(force=True)
    return outcomes


def _answer_frame(
    kind: str,
    keys: dict[tuple, str],
    outcomes: dict[str, tuple[str, CachedAnswer | None]],
    fields: list[str],
) -> pl.DataFrame:
    inputs = LOOKUP_INPUTS[kind]
    rows = []
    for values, key in keys.items():
        status, answer = outcomes[key]
        row: dict[str, Any] = dict(zip(inputs, values, strict=True))
        row["_outcome"] = status
        row["_fetched_at"] = answer.fetched_at if answer else None
        for name in fields:
            row[f"_new_{name}"] = answer.answer.get(name) if answer else None
        rows.append(row)
    schema: dict[str, pl.DataType] = {c: pl.String() for c in inputs}
    schema |= {"_outcome": pl.String(), "_fetched_at": pl.Datetime("us", "UTC")}
    schema |= {f"_new_{name}": FIELD_TYPES[name] for name in fields}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def enrich_leads(
    leads: pl.DataFrame,
    config: EnrichmentConfig,
    providers: dict[str, HttpProvider],
    engine: Engine | None,
    *,
    default_country: str = "US",
    progress: Callable[[str], None] = lambda _m: None,
) -> tuple[pl.DataFrame, EnrichmentReport]:
    """`leads` plus the enriched fields, email-quality flags, `enrichment_provenance` and
    `enrichment_status`. `engine` (the operational store) holds the cache and the daily spend;
    without it nothing is cached and only per-run budgets apply."""
    started = utcnow()
    report = EnrichmentReport()
    types = FIELD_TYPES | dict.fromkeys(
        ("first_name", "last_name", "domain", "phone_e164"), pl.String()
    )
    # All-null columns (a small file, an empty field) arrive typed Null: give them their type.
    work = leads.with_columns(
        pl.col(name).cast(dtype) if name in leads.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in types.items()
    )
    offline = offline_fields(work, default_country)
    work = work.with_columns(
        *[offline[c] for c in QUALITY_COLUMNS],
        offline["business_domain"],
        *[offline[c].alias(f"_offline_{c}") for c in ("company", "website", "country")],
        pl.col("first_name").str.strip_chars().str.to_lowercase().alias("_first"),
        pl.col("last_name").str.strip_chars().str.to_lowercase().alias("_last"),
    )
    fields = list(config.waterfall)
    for name in config.http_providers():
        fields += [f for f in config.providers[name].field_map if f not in fields]
    work = work.with_columns(
        *[
            pl.when(pl.col(f).is_not_null()).then(pl.lit("input")).alias(f"_src_{f}")
            for f in fields
        ],
        *[pl.lit(None, pl.Datetime("us", "UTC")).alias(f"_at_{f}") for f in fields],
    )
    outcome_columns: list[str] = []
    answers_by_provider: dict[str, dict[str, tuple[str, CachedAnswer | None]]] = {}
    for round_index, by_provider in enumerate(_rounds(config)):
        for name, round_fields in by_provider.items():
            if name == OFFLINE:
                work = work.with_columns(
                    *[
                        pl.when(pl.col(f).is_null() & pl.col(f"_offline_{f}").is_not_null())
                        .then(pl.lit(OFFLINE))
                        .otherwise(pl.col(f"_src_{f}"))
                        .alias(f"_src_{f}")
                        for f in round_fields
                    ],
                    *[
                        pl.when(pl.col(f).is_null() & pl.col(f"_offline_{f}").is_not_null())
                        .then(pl.lit(started))
                        .otherwise(pl.col(f"_at_{f}"))
                        .alias(f"_at_{f}")
                        for f in round_fields
                    ],
                )
                work = work.with_columns(
                    pl.coalesce(f, f"_offline_{f}").alias(f) for f in round_fields
                )
                continue
            provider = providers[name]
            kind = provider.config.kind
            inputs = LOOKUP_INPUTS[kind]
            source = {"first_name": "_first", "last_name": "_last"}
            needs = pl.any_horizontal(
                pl.col(f).is_null() for f in round_fields
            ) & pl.all_horizontal(pl.col(source.get(c, c)).is_not_null() for c in inputs)
            distinct = (
                work.filter(needs)
                .select(pl.col(source.get(c, c)).alias(c) for c in inputs)
                .unique(maintain_order=True)
            )
            keys = {
                values: input_key(name, _lookup_dict(kind, values))
                for values in distinct.iter_rows()
            }
            stats = report.providers.setdefault(name, ProviderStats())
            known = answers_by_provider.setdefault(name, {})
            missing = [k for k in keys.values() if k not in known]
            stats.needed += len(missing)
            if engine is not None and missing:
                hits = cached(engine, name, missing)
                stats.cached += len(hits)
                known.update({k: (a.status, a) for k, a in hits.items()})
            to_fetch = {
                key: _lookup_dict(kind, values) for values, key in keys.items() if key not in known
            }
            if to_fetch:
                progress(
                    f"{name}: {len(keys)} distinct lookups, {len(keys) - len(to_fetch)} known, "
                    f"{len(to_fetch)} to fetch (round {round_index + 1})"
                )
                budget = Budget(
                    engine, name, provider.config.budget.per_run, provider.config.budget.per_day
                )
                known.update(_fetch_all(provider, to_fetch, engine, budget, stats, progress))
            # A provider's other answers that no waterfall entry claims (the finder's
            # verification status) come along with the fields it was asked for.
            answer_fields = [
                f
                for f in provider.config.field_map
                if f in round_fields or f not in config.waterfall
            ]
            answers = _answer_frame(kind, keys, known, answer_fields)
            outcome = f"_outcome_{name}_{round_index}"
            outcome_columns.append(outcome)
            joined = work.with_columns(
                pl.col(source.get(c, c)).alias(f"_key_{c}") for c in inputs
            ).join(
                answers.rename({c: f"_key_{c}" for c in inputs}),
                on=[f"_key_{c}" for c in inputs],
                how="left",
                maintain_order="left",
            )
            fill = {
                f: needs & pl.col(f).is_null() & pl.col(f"_new_{f}").is_not_null()
                for f in answer_fields
            }
            work = joined.with_columns(
                *[
                    pl.when(fill[f])
                    .then(pl.lit(name))
                    .otherwise(pl.col(f"_src_{f}"))
                    .alias(f"_src_{f}")
                    for f in answer_fields
                ],
                *[
                    pl.when(fill[f])
                    .then(pl.col("_fetched_at"))
                    .otherwise(pl.col(f"_at_{f}"))
                    .alias(f"_at_{f}")
                    for f in answer_fields
                ],
                *[pl.coalesce(f, f"_new_{f}").alias(f) for f in answer_fields],
                pl.when(needs).then(pl.col("_outcome")).alias(outcome),
            ).drop(
                "_outcome",
                "_fetched_at",
                *[f"_new_{f}" for f in answer_fields],
                *[f"_key_{c}" for c in inputs],
            )
    for name, provider in providers.items():
        report.http[name] = dict(provider.counts)
        if provider.auth_failed:
            report.auth_failures.append(provider.auth_failed)
        if provider.counts.get("circuit_open"):
            report.circuit_opened.append(name)
    return _finish(work, fields, outcome_columns, leads.columns), report


def _finish(
    work: pl.DataFrame, fields: list[str], outcomes: list[str], original: list[str]
) -> pl.DataFrame:
    entries = [
        pl.when(pl.col(f"_src_{f}").is_not_null() & (pl.col(f"_src_{f}") != "input")).then(
            pl.concat_str(
                pl.lit(json.dumps(f) + ':{"provider":"'),
                pl.col(f"_src_{f}"),
                pl.lit('","at":"'),
                pl.col(f"_at_{f}").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                pl.lit('"}'),
            )
        )
        for f in fields
    ]
    provenance = pl.concat_list(entries).list.drop_nulls().list.join(",") if entries else pl.lit("")
    filled = (
        pl.any_horizontal(
            pl.col(f"_src_{f}").is_not_null() & (pl.col(f"_src_{f}") != "input") for f in fields
        )
        if fields
        else pl.lit(False)
    )

    def any_outcome(value: str) -> pl.Expr:
        if not outcomes:
            return pl.lit(False)
        return pl.any_horizontal((pl.col(c) == value).fill_null(False) for c in outcomes)

    status = (
        pl.when(any_outcome(BUDGET))
        .then(pl.lit("not enriched: budget"))
        .when(any_outcome(FAILED))
        .then(pl.lit("not enriched: provider error"))
        .when(filled)
        .then(pl.lit("enriched"))
        .when(any_outcome(NOT_FOUND))
        .then(pl.lit("not found"))
        .otherwise(pl.lit("nothing to enrich"))
    )
    keep = [c for c in original if c not in FIELD_TYPES and c not in QUALITY_COLUMNS]
    return work.select(
        *keep,
        *[c for c in FIELD_TYPES],
        *QUALITY_COLUMNS,
        (pl.lit("{") + provenance + pl.lit("}")).alias("enrichment_provenance"),
        status.alias("enrichment_status"),
    )
