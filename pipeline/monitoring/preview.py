"""What each user would get, for `make demo`: the next digest (daily or weekly users) or
the alert (instant users) built from what is stored now, printed as the text part of the
email. Nothing is sent or recorded."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import Engine

from pipeline.monitoring.config import Preference
from pipeline.monitoring.notify import events_for, render
from pipeline.monitoring.periods import next_period
from pipeline.monitoring.store import classified_between


def preview_text(
    engine: Engine, accounts: pl.DataFrame, preferences: list[Preference], now: datetime
) -> str:
    everything = classified_between(engine, None, now)
    blocks = []
    for pref in preferences:
        events = events_for(everything, accounts, pref)
        if pref.frequency == "instant":
            title = f"{pref.name} <{pref.email}>: instant alerts"
            rendered = render(pref, "alert", "New about your accounts", events, accounts)
        else:
            period = next_period(pref, pref.frequency, now)
            local = period.send_at.astimezone(pref.zone)
            title = (
                f"{pref.name} <{pref.email}>: {pref.frequency} digest due "
                f"{local:%a %-d %b %H:%M} {pref.time_zone}"
            )
            rendered = render(
                pref,
                f"{pref.frequency} digest",
                f"Account news, {period.label()}",
                events,
                accounts,
            )
        empty = (
            ""
            if rendered.total or pref.send_empty or pref.frequency == "instant"
            else (" (empty: not sent unless send_empty)")
        )
        body = rendered.text.rstrip() if rendered.total or pref.send_empty else "(nothing to send)"
        blocks.append(f"### {title}{empty}\nSubject: {rendered.subject}\n\n{body}\n")
    return "\n".join(blocks)


def demo_previews(settings) -> str:  # type: ignore[no-untyped-def]
    """The block `make demo` prints: the accounts watched and each sample user's digest."""
    from datetime import UTC

    import duckdb

    from pipeline.monitoring.config import load_preferences
    from pipeline.store import open_store

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        accounts = conn.sql("select * from leads.monitored_accounts").pl()
    engine = open_store(settings.store_url)
    prefs = load_preferences(settings.notify_preferences).preferences()
    now = datetime.now(UTC)
    head = (
        f"Client monitoring ({accounts.height} accounts watched; nothing below is sent: the "
        "digest each sample user would get next, from NOTIFY_PREFERENCES)\n" + "-" * 40
    )
    return head + "\n" + preview_text(engine, accounts, prefs, now)
