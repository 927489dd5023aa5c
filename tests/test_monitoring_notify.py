"""Notifications: who gets what (thresholds, categories, owned accounts), when (local digest
hour across time zones and daylight-saving changes), never twice (crashes included), empty
digests, suppression, the kill switch, and the email log with bounces."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import func, insert, select

from pipeline.clock import SimulatedClock
from pipeline.email.mailer import Mailer
from pipeline.email.outbox import OutboxBackend
from pipeline.monitoring.config import PreferencesFile
from pipeline.monitoring.email_logs import email_logs
from pipeline.monitoring.notify import DIGEST, Notifier, events_for
from pipeline.monitoring.periods import due_period, local_instant
from pipeline.monitoring.store import classified_between, save_classifications
from pipeline.store import pause
from pipeline.store.pause import SideEffectsPaused
from pipeline.store.sql import utcnow
from pipeline.store.tables import (
    email_messages,
    email_outbox,
    monitoring_digests,
    monitoring_events,
    monitoring_items,
    suppression_list,
    webhook_inbox,
)
from tests.monitoring_helpers import accounts_frame

ACCOUNTS = accounts_frame(
    [
        {"name": "Acme Robotics", "domain": "acmerobotics.com", "owner": "emea@our.example"},
        {"name": "Globex", "domain": "globex.com", "owner": "us@our.example"},
        {"name": "Initech", "domain": "initech.io", "owner": "us@our.example"},
    ]
)
_ids = itertools.count(1)


def prefs(*users: dict) -> list:
    return PreferencesFile.model_validate({"users": list(users)}).preferences()


def seed(engine, *events: dict) -> None:
    """Items, events and classifications as the refresh would leave them."""
    for e in events:
        n = next(_ids)
        with engine.begin() as conn:
            item_id = conn.execute(
                insert(monitoring_items).returning(monitoring_items.c.id),
                {
                    "item_key": f"k{n}",
                    "content_hash": f"h{n}",
                    "url": f"https://news.example/{n}",
                    "title": e.get("title", f"Story {n}"),
                    "summary": "",
                    "source": "test",
                    "source_kind": "folder",
                    "published_at": e.get("published_at", e["at"]),
                    "news_day": e["at"].date(),
                    "first_seen_at": e["at"],
                },
            ).scalar_one()
            event_id = conn.execute(
                insert(monitoring_events).returning(monitoring_events.c.id),
                {
                    "item_id": item_id,
                    "account_key": e["account"],
                    "news_day": e["at"].date(),
                    "matched_by": "name",
                    "match_text": e["account"],
                    "match_strength": 1.0,
                    "in_title": True,
                    "created_at": e["at"],
                },
            ).scalar_one()
        save_classifications(
            engine,
            pl.DataFrame(
                {
                    "event_id": [event_id],
                    "relevance": [e.get("relevance", 0.9)],
                    "category": [e.get("category", "funding")],
                    "reason": ["test"],
                }
            ),
            "rules",
            None,
            e["at"],
        )


def notifier(engine, preferences, clock, **mailer_kwargs) -> Notifier:
    mailer = Mailer(
        engine, OutboxBackend(engine), sending_allowed=True, clock=clock, **mailer_kwargs
    )
    return Notifier(
        engine,
        mailer,
        None,
        "Monitoring <monitoring@our.example>",
        ACCOUNTS,
        preferences,
        clock,
        progress=lambda _m: None,
    )


def sent(engine, purpose: str = DIGEST) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(email_messages.c.to_email, email_messages.c.status, email_messages.c.subject)
            .where(email_messages.c.purpose == purpose)
            .order_by(email_messages.c.id)
        ).all()


# --- who gets what -----------------------------------------------------------------------------
def test_thresholds_categories_and_accounts_per_user(store):
    at = datetime(2026, 12, 3, 12, tzinfo=UTC)
    seed(
        store,
        {"account": "acmerobotics.com", "at": at, "relevance": 0.9, "category": "funding"},
        {"account": "acmerobotics.com", "at": at, "relevance": 0.55, "category": "funding"},
        {"account": "globex.com", "at": at, "relevance": 0.95, "category": "m_and_a"},
        {"account": "initech.io", "at": at, "relevance": 0.7, "category": "layoffs"},
    )
    events = classified_between(store, None, at + timedelta(hours=1))
    emea, us, deals, two = prefs(
        {"name": "E", "email": "emea@our.example", "relevance_threshold": 0.6},
        {
            "name": "U",
            "email": "us@our.example",
            "categories": ["m_and_a", "layoffs"],
            "relevance_threshold": 0.75,
        },
        {
            "name": "D",
            "email": "deals@our.example",
            "accounts": "all",
            "categories": ["funding", "m_and_a"],
            "relevance_threshold": 0.5,
        },
        {
            "name": "T",
            "email": "two@our.example",
            "accounts": ["initech.io", "globex.com"],
            "relevance_threshold": 0.0,
        },
    )

    def got(p):
        return sorted(
            events_for(events, ACCOUNTS, p).select("account_key", "relevance").iter_rows()
        )

    assert got(emea) == [("acmerobotics.com", 0.9)]
    assert got(us) == [("globex.com", 0.95)]  # initech's 0.7 is under 0.75
    assert got(deals) == [
        ("acmerobotics.com", 0.55),
        ("acmerobotics.com", 0.9),
        ("globex.com", 0.95),
    ]
    assert got(two) == [("globex.com", 0.95), ("initech.io", 0.7)]


# --- when ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "at", "key", "send_at"),
    [
        # Berlin 08:00 is 07:00 UTC in winter and 06:00 UTC in summer.
        ("Europe/Berlin", "2026-12-07T07:30:00+00:00", "2026-12-07", "2026-12-07T07:00:00+00:00"),
        ("Europe/Berlin", "2026-07-07T06:30:00+00:00", "2026-07-07", "2026-07-07T06:00:00+00:00"),
        ("Europe/Berlin", "2026-12-07T06:59:00+00:00", "2026-12-06", "2026-12-06T07:00:00+00:00"),
        # New York on the day clocks go back (2026-11-01): 08:00 EST is 13:00 UTC.
        (
            "America/New_York",
            "2026-11-01T12:30:00+00:00",
            "2026-10-31",
            "2026-10-31T12:00:00+00:00",
        ),
        (
            "America/New_York",
            "2026-11-01T13:00:00+00:00",
            "2026-11-01",
            "2026-11-01T13:00:00+00:00",
        ),
        # ... and the day they go forward (2026-03-08): 08:00 EDT is 12:00 UTC.
        (
            "America/New_York",
            "2026-03-08T12:00:00+00:00",
            "2026-03-08",
            "2026-03-08T12:00:00+00:00",
        ),
        # Half-hour offsets: 08:00 in Kolkata is 02:30 UTC; the hourly run at 03:00 sends it.
        ("Asia/Kolkata", "2026-12-07T02:00:00+00:00", "2026-12-06", "2026-12-06T02:30:00+00:00"),
        ("Asia/Kolkata", "2026-12-07T03:00:00+00:00", "2026-12-07", "2026-12-07T02:30:00+00:00"),
        # The southern hemisphere's summer time: Sydney 08:00 AEDT is 21:00 UTC the day before.
        (
            "Australia/Sydney",
            "2026-12-06T21:00:00+00:00",
            "2026-12-07",
            "2026-12-06T21:00:00+00:00",
        ),
    ],
)
def test_the_daily_period_due_follows_the_users_local_morning(zone, at, key, send_at):
    (pref,) = prefs({"name": "X", "email": "x@our.example", "time_zone": zone})
    period = due_period(pref, "daily", datetime.fromisoformat(at))
    assert (period.key, period.send_at) == (key, datetime.fromisoformat(send_at))


def test_weekly_periods_and_a_spring_gap_hour():
    (pref,) = prefs(
        {
            "name": "X",
            "email": "x@our.example",
            "time_zone": "Europe/London",
            "frequency": "weekly",
            "weekly_day": "mon",
        }
    )
    period = due_period(pref, "weekly", datetime(2026, 12, 9, 12, tzinfo=UTC))  # a Wednesday
    assert (period.key, period.send_at) == ("2026-W50", datetime(2026, 12, 7, 8, tzinfo=UTC))
    assert period.previous_send_at == datetime(2026, 11, 30, 8, tzinfo=UTC)
    # 02:00 does not exist in New York on 2026-03-08: read with the offset before, it is 03:00.
    zone = ZoneInfo("America/New_York")
    assert local_instant(datetime(2026, 3, 8).date(), 2, zone).astimezone(zone).hour == 3


def test_hourly_digest_runs_send_each_user_once_per_local_morning_across_a_dst_change(store):
    """A week of hourly runs spanning New York's autumn change: every user gets exactly one
    digest per local day, at their hour, with each event in exactly one digest."""
    start = datetime(2026, 10, 29, 0, tzinfo=UTC)
    clock = SimulatedClock(start)
    users = prefs(
        {
            "name": "NY",
            "email": "us@our.example",
            "time_zone": "America/New_York",
            "send_empty": True,
        },
        {
            "name": "BER",
            "email": "emea@our.example",
            "time_zone": "Europe/Berlin",
            "send_empty": True,
        },
    )
    n = notifier(store, users, clock)
    for hour in range(7 * 24):
        clock.set(start + timedelta(hours=hour))
        if hour % 5 == 0:  # news keeps arriving
            seed(
                store,
                {"account": "acmerobotics.com", "at": clock.now()},
                {"account": "globex.com", "at": clock.now()},
            )
        n.digests("daily", clock.now())
    with store.connect() as conn:
        rows = conn.execute(
            select(
                monitoring_digests.c.user_email,
                monitoring_digests.c.period,
                monitoring_digests.c.window_start,
                monitoring_digests.c.window_end,
                monitoring_digests.c["items"],
            )
        ).all()
        local_hours = {
            (
                r.to_email,
                (r.sent_at.replace(tzinfo=UTC))
                .astimezone(
                    ZoneInfo("America/New_York" if r.to_email.startswith("us") else "Europe/Berlin")
                )
                .hour,
            )
            for r in conn.execute(select(email_messages.c.to_email, email_messages.c.sent_at))
            if r.sent_at.replace(tzinfo=UTC) > start  # the first run catches up on the 28th
        }
    for user in ("us@our.example", "emea@our.example"):
        periods = sorted(r.period for r in rows if r.user_email == user)
        # One per local day (the first run sends the 28th's, already due), none twice.
        assert len(periods) == len(set(periods)) == 8
        windows = sorted((r.window_start, r.window_end) for r in rows if r.user_email == user)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))  # no gap, no overlap
    assert local_hours == {("us@our.example", 8), ("emea@our.example", 8)}
    # Each of the owned events reached its owner's digests exactly once (minus those after the
    # last digest's window).
    per_user = {
        u: sum(r.items for r in rows if r.user_email == u)
        for u in ("us@our.example", "emea@our.example")
    }
    assert per_user["emea@our.example"] > 0 and per_user["us@our.example"] > 0


# --- never twice -------------------------------------------------------------------------------
class Crash(Exception):
    pass


def test_no_double_send_when_a_run_dies_after_the_provider_took_the_digest(store):
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(at)
    seed(store, {"account": "acmerobotics.com", "at": at - timedelta(hours=5)})
    users = prefs({"name": "E", "email": "emea@our.example", "time_zone": "Europe/Berlin"})

    def die(_row_id):
        raise Crash("killed between the provider's answer and the record")

    with pytest.raises(Crash):
        notifier(store, users, clock, after_provider=die).digests("daily", at)
    assert sent(store)[0].status == "sending"
    # The next hourly run: the period has its digest; the message is looked up, not re-sent.
    clock.advance(hours=1)
    report = notifier(store, users, clock).digests("daily", clock.now())
    assert report.already == 1
    with store.connect() as conn:
        outbox = conn.execute(select(func.count()).select_from(email_outbox)).scalar()
    assert outbox == 1
    assert [r.status for r in sent(store)] == ["sent"]  # reconciled with the outbox


def test_no_double_send_when_a_run_dies_after_reserving(store):
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(at)
    seed(store, {"account": "acmerobotics.com", "at": at - timedelta(hours=5)})
    users = prefs({"name": "E", "email": "emea@our.example", "time_zone": "Europe/Berlin"})
    n = notifier(store, users, clock)
    n.mailer.deliver = lambda _row_id: (_ for _ in ()).throw(Crash("died before delivering"))  # type: ignore[method-assign]
    with pytest.raises(Crash):
        n.digests("daily", at)
    assert [r.status for r in sent(store)] == ["approved"]
    notifier(store, users, clock).digests("daily", at)
    notifier(store, users, clock).digests("daily", at)
    assert [r.status for r in sent(store)] == ["sent"]
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(email_outbox)).scalar() == 1


def test_empty_digests_are_recorded_not_sent_unless_asked(store):
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(at)
    users = prefs(
        {"name": "Q", "email": "quiet@our.example", "time_zone": "Europe/Berlin"},
        {
            "name": "A",
            "email": "asks@our.example",
            "time_zone": "Europe/Berlin",
            "send_empty": True,
        },
    )
    report = notifier(store, users, clock).digests("daily", at)
    assert report.empty == 1
    assert [(r.to_email, "nothing new" in r.subject) for r in sent(store)] == [
        ("asks@our.example", True)
    ]
    assert notifier(store, users, clock).digests("daily", at).already == 2


def test_suppressed_recipients_and_the_kill_switch(store):
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(at)
    seed(store, {"account": "acmerobotics.com", "at": at - timedelta(hours=3)})
    users = prefs({"name": "E", "email": "emea@our.example", "time_zone": "Europe/Berlin"})
    with store.begin() as conn:
        conn.execute(
            insert(suppression_list),
            {
                "email": "emea@our.example",
                "reason": "unsubscribed",
                "source": "test",
                "added_at": utcnow(),
            },
        )
    notifier(store, users, clock).digests("daily", at)
    assert [r.status for r in sent(store)] == ["suppressed"]
    with store.begin() as conn:
        conn.execute(suppression_list.delete())
    seed(store, {"account": "acmerobotics.com", "at": at + timedelta(hours=12)})
    pause.pause(store, "test", "incident")
    clock.advance(days=1)
    with pytest.raises(SideEffectsPaused):
        notifier(store, users, clock).digests("daily", clock.now())
    assert sent(store)[-1].status == "approved"  # reserved, waiting: sent once resumed
    pause.resume(store, "test")
    notifier(store, users, clock).digests("daily", clock.now())
    assert [r.status for r in sent(store)] == ["suppressed", "sent"]


def test_digests_go_out_whatever_the_outreach_send_mode(store):
    """EMAIL_SEND_MODE=draft_only holds outreach; a subscribed digest is still sent."""
    from pipeline.email.setup import EmailSettings

    assert EmailSettings(send_mode="draft_only").sending_allowed is False
    from assets.monitoring_notify import notification_mailer
    from resources.email import EmailResource

    mailer = notification_mailer(EmailResource(send_mode="draft_only"), store)
    assert mailer.sending_allowed is True


# --- instant alerts ------------------------------------------------------------------------------
def test_instant_alerts_once_per_user_and_event_and_not_for_old_news(store):
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(now)
    seed(
        store,
        {
            "account": "globex.com",
            "at": now - timedelta(minutes=5),
            "relevance": 0.95,
            "category": "m_and_a",
            "title": "Globex buys Initech",
        },
        {
            "account": "initech.io",
            "at": now - timedelta(minutes=5),
            "relevance": 0.95,
            "category": "legal",
        },
        # Classified now, but published ten days ago (a backfill): no instant alert.
        {
            "account": "globex.com",
            "at": now - timedelta(minutes=5),
            "published_at": now - timedelta(days=10),
            "relevance": 0.99,
        },
    )
    users = prefs(
        {
            "name": "D",
            "email": "deals@our.example",
            "frequency": "instant",
            "accounts": "all",
            "categories": ["m_and_a"],
            "relevance_threshold": 0.8,
        },
    )
    first = notifier(store, users, clock).instant()
    assert first.sent == {"sent": 1}
    assert [r.subject for r in sent(store, "monitoring_alert")] == ["Alert: Globex buys Initech"]
    assert notifier(store, users, clock).instant().due == 0
    seed(store, {"account": "globex.com", "at": now, "relevance": 0.9, "category": "m_and_a"})
    clock.advance(minutes=1)
    assert notifier(store, users, clock).instant().sent == {"sent": 1}
    assert len(sent(store, "monitoring_alert")) == 2


# --- email logs ----------------------------------------------------------------------------------
def test_email_logs_show_delivery_and_bounces_from_email_events(store):
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(at)
    seed(
        store,
        {"account": "acmerobotics.com", "at": at - timedelta(hours=3)},
        {"account": "globex.com", "at": at - timedelta(hours=3)},
    )
    users = prefs(
        {"name": "E", "email": "emea@our.example", "time_zone": "Europe/Berlin"},
        {"name": "U", "email": "us@our.example", "time_zone": "Europe/London"},
    )
    notifier(store, users, clock).digests("daily", at)
    with store.connect() as conn:
        message_id = conn.execute(
            select(email_messages.c.message_id).where(email_messages.c.to_email == "us@our.example")
        ).scalar_one()
    payload = {
        "id": "ev-1",
        "type": "bounce",
        "email": "us@our.example",
        "occurred_at": (at + timedelta(minutes=5)).isoformat(),
        "message_id": message_id,
    }
    with store.begin() as conn:
        conn.execute(
            insert(webhook_inbox),
            {
                "source": "email",
                "fingerprint": "f1",
                "event_type": "email.bounce",
                "object_id": "us@our.example",
                "occurred_at": at + timedelta(minutes=5),
                "received_at": at + timedelta(minutes=5),
                "payload": json.dumps(payload),
                "payload_sha256": "0" * 64,
            },
        )
    logs = email_logs(store)
    assert dict(logs.select("user_email", "delivery").iter_rows()) == {
        "emea@our.example": "delivered",
        "us@our.example": "bounced",
    }
    assert set(logs["kind"]) == {"digest"}


def test_a_digest_window_starts_where_the_previous_one_ended(store):
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    clock = SimulatedClock(at)
    users = prefs(
        {"name": "E", "email": "emea@our.example", "time_zone": "Europe/Berlin", "send_empty": True}
    )
    notifier(store, users, clock).digests("daily", at)
    # The daemon was down for two days: the next run sends the latest period, from where the
    # last digest ended (nothing is lost in between).
    seed(store, {"account": "acmerobotics.com", "at": at + timedelta(days=1)})
    later = at + timedelta(days=2, hours=1)
    notifier(store, users, clock).digests("daily", later)
    with store.connect() as conn:
        rows = conn.execute(select(monitoring_digests).order_by(monitoring_digests.c.id)).all()
    assert [r.period for r in rows] == ["2026-12-07", "2026-12-09"]
    assert rows[1].window_start == rows[0].window_end and rows[1].items == 1
