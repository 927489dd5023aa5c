"""One news day's refresh, engine only (the Dagster assets are thin over it): fetch every
source, dedupe, match, store the events; then classify the day's events that have none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from pipeline.monitoring.accounts import query_phrases
from pipeline.monitoring.classify import Classified, Classifier
from pipeline.monitoring.collect import CollectResult, collect
from pipeline.monitoring.config import AccountsFile, SourcesFile
from pipeline.monitoring.fetch import FetchResult, Keys, fetch_all, last_live_fetch
from pipeline.monitoring.matching import domain_map
from pipeline.monitoring.names import build_index
from pipeline.monitoring.raw import RawArchive
from pipeline.monitoring.sources import FetchContext, FetchWindow
from pipeline.monitoring.store import events_of_day, save_classifications
from pipeline.store.pause import PauseGate


@dataclass
class DayRefresh:
    fetch: FetchResult
    collected: CollectResult


def source_accounts(sources: SourcesFile, accounts: pl.DataFrame) -> dict[str, list[str]]:
    """Sources that carry one company's news: source name -> account keys."""
    known = set(accounts.get_column("account_key").to_list())
    by_domain = dict(accounts.select("domain", "account_key").drop_nulls().iter_rows())
    out = {}
    for s in sources.sources:
        keys = [by_domain.get(a, a) for a in s.accounts]
        keys = [k for k in keys if k in known]
        if keys:
            out[s.name] = keys
    return out


def refresh_day(
    engine: Engine,
    accounts: pl.DataFrame,
    accounts_file: AccountsFile,
    sources: SourcesFile,
    keys: Keys,
    *,
    day: date,
    now: datetime,
    data_dir: Path,
    run_id: str | None,
    live: bool | None = None,
    progress: Callable[[str], None] = print,
) -> DayRefresh:
    """Fetch and store the events of `day` (live when it is today: anything new; else a
    backfill of items published that day)."""
    live = (day == now.date()) if live is None else live
    window = FetchWindow(day=day, live=live, now=now)
    archive = RawArchive(engine, data_dir / "monitoring" / "raw", run_id, live)
    gate = PauseGate(engine, "paid news searches")
    ctx = FetchContext(
        window=window,
        queries=query_phrases(accounts),
        archive=archive,
        pause_check=gate.check,
        progress=progress,
    )
    result = fetch_all(
        sources,
        ctx,
        keys,
        data_dir / "quarantine" / "monitoring",
        last_live_fetch(engine) if live else None,
    )
    index = build_index(accounts, accounts_file.matching)
    progress(
        f"matching {result.items.height} item(s) against {accounts.height} account(s) "
        f"({index.lower.height} patterns)"
    )
    collected = collect(
        engine,
        result.items,
        index,
        domain_map(accounts),
        source_accounts(sources, accounts),
        day=day,
        now=now,
        run_id=run_id,
    )
    return DayRefresh(result, collected)


def classify_day(
    engine: Engine,
    day: date,
    accounts: pl.DataFrame,
    classifier: Classifier,
    now: datetime,
) -> tuple[Classified, int]:
    """Classify the day's events that have no classification yet; (result, saved)."""
    events = events_of_day(engine, day)
    todo = events.filter(pl.col("classification_id").is_null())
    names = accounts.select("account_key", pl.col("name").alias("account_name"))
    todo = todo.join(names, on="account_key", how="left").with_columns(
        pl.coalesce("account_name", "account_key").alias("account_name")
    )
    result = classifier.classify(todo)
    saved = save_classifications(engine, result.frame, classifier.name, classifier.model, now)
    return result, saved
