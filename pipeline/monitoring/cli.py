"""`python -m pipeline monitoring run | digest daily|weekly [--at TIME] | status | resume NAME`.

`run` and `digest` go through Dagster (the runs show in the UI; they need DAGSTER_HOME, which
the Makefile sets); `status` and `resume` read and write the operational store directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta

from pipeline.config import load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("monitoring", help="client monitoring: refresh, digests, status, resume")
    cmds = top.add_subparsers(dest="monitoring_command", required=True)
    run = cmds.add_parser(
        "run", help="one refresh now: fetch, match, classify, then instant alerts (through Dagster)"
    )
    run.add_argument("--day", help="a past news day to collect (YYYY-MM-DD; default today)")
    run.set_defaults(func=run_refresh)
    dg = cmds.add_parser("digest", help="build and send the digests due now (through Dagster)")
    dg.add_argument("frequency", choices=["daily", "weekly"])
    dg.add_argument(
        "--at",
        help="act as if it were this time (ISO 8601, e.g. 2026-12-07T08:00+01:00; UTC if no zone)",
    )
    dg.set_defaults(func=run_digest)
    cmds.add_parser(
        "status", help="sources and their last fetches, schedules (paused ones), recent sends"
    ).set_defaults(func=run_status)
    rs = cmds.add_parser("resume", help="resume a schedule that paused itself")
    rs.add_argument("name", help="monitoring_refresh | daily_digest | weekly_digest")
    rs.add_argument("--by", help="who (default: user@host)")
    rs.set_defaults(func=run_resume)


def _need_dagster_home() -> bool:
    if os.environ.get("DAGSTER_HOME"):
        return True
    print(
        "DAGSTER_HOME is not set: export it as `make dev` does, so the run is recorded where the "
        "UI reads it",
        file=sys.stderr,
    )
    return False


def _run(steps: list[tuple[str, str, dict]]) -> int:
    from pipeline.definitions import build_definitions
    from pipeline.definitions.runner import run_steps

    failure = run_steps(build_definitions(load_settings()), steps)
    if failure is not None:
        print(failure.paragraph(), file=sys.stderr)
        return 1
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    if not _need_dagster_home():
        return 2
    from assets.news_days import news_day_key

    day = args.day or news_day_key(datetime.now(UTC))
    steps = [
        (
            "monitoring_refresh_job",
            f"collecting and classifying news for {day}",
            {"partition_key": day},
        ),
        ("monitoring_alerts_job", "sending instant alerts", {}),
    ]
    code = _run(steps)
    if code == 0:
        _print_day(day)
    return code


def _print_day(day: str) -> None:
    from datetime import date

    from pipeline.monitoring.store import events_of_day
    from pipeline.store import open_store

    events = events_of_day(open_store(load_settings().store_url), date.fromisoformat(day))
    print(f"{day}: {events.height} event(s) about {events['account_key'].n_unique()} account(s)")
    for row in (
        events.sort("relevance", descending=True, nulls_last=True).head(15).iter_rows(named=True)
    ):
        rel = "  -  " if row["relevance"] is None else f"{row['relevance']:.2f}"
        print(
            f"  {rel} {row['category'] or 'unclassified':<17} {row['account_key']}: "
            f"{row['title'][:70]}"
        )


def run_digest(args: argparse.Namespace) -> int:
    if not _need_dagster_home():
        return 2
    from assets.monitoring_notify import parse_at

    try:
        at = parse_at(args.at)
    except ValueError:
        print(
            f"--at {args.at!r}: not an ISO 8601 time (e.g. 2026-12-07T08:00+01:00)", file=sys.stderr
        )
        return 2
    config = {"ops": {"digests": {"config": {"frequency": args.frequency, "at": at.isoformat()}}}}
    code = _run(
        [
            (
                "monitoring_digest_job",
                f"sending the {args.frequency} digests due at {at:%Y-%m-%d %H:%M} UTC",
                {"run_config": config},
            )
        ]
    )
    if code == 0:
        _print_digests(args.frequency, at)
    return code


def _print_digests(frequency: str, at: datetime) -> None:
    import polars as pl

    from pipeline.monitoring.store import digests_table
    from pipeline.store import open_store

    table = digests_table(open_store(load_settings().store_url)).filter(
        pl.col("frequency") == frequency
    )
    recent = table.filter(pl.col("created_at") >= datetime.now(UTC) - timedelta(minutes=10))
    if recent.is_empty():
        print("no digest was due (each user's period already has one, or their hour has not come)")
    for row in recent.iter_rows(named=True):
        state = row["email_status"] or row["status"]
        print(
            f"  {row['user_email']}: {frequency} {row['period']}, {row['items']} item(s): {state}"
        )


def run_status(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from pipeline.monitoring import health
    from pipeline.monitoring.config import load_preferences, load_sources
    from pipeline.store import open_store
    from pipeline.store.tables import (
        email_messages,
        monitoring_events,
        monitoring_fetches,
        monitoring_items,
    )

    settings = load_settings()
    engine = open_store(settings.store_url)
    sources = load_sources(settings.monitoring_sources)
    prefs = load_preferences(settings.notify_preferences).preferences()
    f = monitoring_fetches
    with engine.connect() as conn:
        last = {
            r.source: r
            for r in conn.execute(
                select(
                    f.c.source,
                    func.max(f.c.fetched_at).label("at"),
                    func.count().label("requests"),
                    func.sum(f.c["items"]).label("items"),
                ).group_by(f.c.source)
            )
        }
        errors = {
            s: e
            for s, e in conn.execute(
                select(f.c.source, f.c.error)
                .where(f.c.error.is_not(None))
                .order_by(f.c.id.desc())
                .limit(50)
            )
        }
        items = conn.execute(select(func.count()).select_from(monitoring_items)).scalar()
        events = conn.execute(select(func.count()).select_from(monitoring_events)).scalar()
        sends = conn.execute(
            select(email_messages.c.purpose, email_messages.c.status, func.count())
            .where(email_messages.c.purpose.like("monitoring%"))
            .group_by(email_messages.c.purpose, email_messages.c.status)
        ).all()
    print(
        f"classifier: {settings.monitoring_classifier}; {items} item(s), {events} event(s) stored"
    )
    print("sources:")
    for s in sources.sources:
        row = last.get(s.name)
        seen = (
            f"last fetch {row.at:%Y-%m-%d %H:%M} UTC, {row.requests} request(s) in all"
            if row is not None
            else "never fetched"
        )
        flag = "" if s.enabled else " (disabled)"
        err = f"; last error: {errors[s.name][:120]}" if s.name in errors else ""
        print(f"  {s.name} ({s.type}){flag}: {seen}{err}")
    print("schedules:")
    for state in health.states(engine):
        print(f"  {state.describe()}")
    print(f"users: {len(prefs)} (" + ", ".join(f"{p.email} {p.frequency}" for p in prefs) + ")")
    print(
        "emails: "
        + (", ".join(f"{p.removeprefix('monitoring_')} {s} {n}" for p, s, n in sends) or "none yet")
    )
    return 0


def run_resume(args: argparse.Namespace) -> int:
    from pipeline.monitoring import health
    from pipeline.operations_cli import who
    from pipeline.store import open_store

    engine = open_store(load_settings().store_url)
    try:
        before = health.state(engine, args.name)
        state = health.resume(engine, args.name, args.by or who(), datetime.now(UTC))
    except health.UnknownSchedule as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(
        f"resumed {args.name}" + ("" if before.paused else " (it was not paused; failures reset)")
    )
    if os.environ.get("DAGSTER_HOME"):
        _report_check_passing()
    print(state.describe())
    return 0


def _report_check_passing() -> None:
    """Tell the UI at once that the schedules' check passes again (when none is paused)."""
    from dagster import DagsterInstance, MetadataValue

    from pipeline.monitoring import health
    from pipeline.store import open_store
    from sensors.monitoring import CHECKED_ASSETS, check_evaluation

    engine = open_store(load_settings().store_url)
    if any(s.paused for s in health.states(engine)):
        return
    with DagsterInstance.get() as instance:
        for asset in CHECKED_ASSETS:
            instance.report_runless_asset_event(
                check_evaluation(asset, True, {"resumed": MetadataValue.text("by command")})
            )
