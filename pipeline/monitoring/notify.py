"""Instant alerts and daily/weekly digests, each to the people who asked for them.

These are notifications a user subscribed to, not outreach: they go through the email
interface (`pipeline.email.Mailer`) with sending allowed whatever EMAIL_SEND_MODE says for
sequences; the kill switch (read before each send) and the suppression list (checked in the
transaction that claims each message) hold as for every email.

Nothing is sent twice: a digest is a row per user, frequency and period (unique) whose
email is reserved under the key `monitoring-digest:<user>:<frequency>:<period>` in the same
transaction; an alert reserves its events per user (unique) with its email. A run that dies
after reserving leaves the message `approved` (delivered by the next run), or `sending`
(looked up at the provider by the next run, never sent blindly again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, func, select

from pipeline.clock import Clock, SystemClock
from pipeline.email.mailer import Mailer, Outcome
from pipeline.email.message import OutgoingEmail, new_message_id
from pipeline.email.unsubscribe import UnsubscribeLinks
from pipeline.monitoring.config import CATEGORY_LABELS, Preference
from pipeline.monitoring.periods import Period, due_period
from pipeline.monitoring.store import classified_between
from pipeline.store.sql import dialect_insert
from pipeline.store.tables import email_messages, monitoring_digests, monitoring_notifications

ALERT, DIGEST, ADMIN = "monitoring_alert", "monitoring_digest", "monitoring_admin"
PURPOSES = (ALERT, DIGEST, ADMIN)
TEMPLATES = Path(__file__).with_name("templates")
# How far back an alert run looks for classified events not yet alerted.
ALERT_LOOKBACK = timedelta(days=7)


@cache
def _env(html: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=html, default_for_string=html),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )


def events_for(events: pl.DataFrame, accounts: pl.DataFrame, pref: Preference) -> pl.DataFrame:
    """The events `pref` wants: relevance at or above the threshold, the categories it
    names, the accounts it watches (owned: those whose owner is this user)."""
    if events.is_empty():
        return events
    found = events.filter(pl.col("relevance") >= pref.relevance_threshold)
    if pref.categories is not None:
        found = found.filter(pl.col("category").is_in(list(pref.categories)))
    if pref.accounts == "owned":
        owned = accounts.filter(pl.col("owner").is_in(list(pref.owner_keys)))
        found = found.filter(pl.col("account_key").is_in(owned.get_column("account_key").to_list()))
    elif pref.accounts != "all":
        wanted = list(pref.accounts)
        keys = accounts.filter(pl.col("domain").is_in(wanted)).get_column("account_key").to_list()
        found = found.filter(pl.col("account_key").is_in([*wanted, *keys]))
    return found


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    total: int
    shown: int
    event_ids: tuple[int, ...]


def render(
    pref: Preference,
    kind: str,
    heading: str,
    events: pl.DataFrame,
    accounts: pl.DataFrame,
    unsubscribe_url: str | None = None,
) -> Rendered:
    """Text and HTML bodies: items grouped by account, the most relevant first."""
    names = accounts.select("account_key", pl.col("name").alias("account_name"), "domain")
    frame = (
        events.join(names, on="account_key", how="left")
        .with_columns(pl.coalesce("account_name", "account_key").alias("account_name"))
        .sort(["relevance", "published_at"], descending=True, nulls_last=True)
    )
    total = frame.height
    shown_frame = frame.head(pref.max_items)
    zone = pref.zone
    groups: dict[str, dict] = {}
    order = shown_frame.group_by("account_key", maintain_order=True).agg(
        pl.col("relevance").max().alias("best")
    )
    for (key,) in order.sort("best", descending=True).select("account_key").iter_rows():
        groups[key] = {"name": "", "domain": None, "items": []}
    for row in shown_frame.iter_rows(named=True):
        group = groups[row["account_key"]]
        group["name"], group["domain"] = row["account_name"], row["domain"]
        at = row["published_at"] or row["first_seen_at"]
        group["items"].append(
            {
                "title": row["title"],
                "url": row["url"],
                "source": row["publisher"] or row["source"],
                "published": f"{at.astimezone(zone):%a %-d %b %H:%M %Z}" if at else "undated",
                "category_label": CATEGORY_LABELS.get(row["category"], row["category"]),
                "relevance": row["relevance"],
                "reason": row["reason"],
            }
        )
    context = {
        "heading": heading,
        "kind": kind,
        "total": total,
        "shown": shown_frame.height,
        "more": total - shown_frame.height,
        "accounts": list(groups.values()),
        "filters": pref.describe_filters(),
        "unsubscribe_url": unsubscribe_url,
    }
    top = [g["name"] for g in groups.values()][:2]
    rest = len(groups) - len(top)
    who = ", ".join(top) + (f" +{rest}" if rest > 0 else "")
    if kind == "alert":
        subject = (
            f"Alert: {shown_frame.row(0, named=True)['title']}"
            if total == 1
            else f"Alert: {total} new items ({who})"
        )
    else:
        subject = f"{heading}: " + (
            f"{total} item{'s' if total != 1 else ''} ({who})" if total else "nothing new"
        )
    return Rendered(
        subject=subject[:250],
        text=_env(False).get_template("digest.txt.j2").render(**context),
        html=_env(True).get_template("digest.html.j2").render(**context),
        total=total,
        shown=shown_frame.height,
        event_ids=tuple(frame.get_column("event_id").to_list()),
    )


class _Taken(Exception):
    pass


@dataclass
class SendReport:
    due: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # outcome status -> count
    empty: int = 0
    already: int = 0
    details: list[dict] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        self.sent[outcome.status] = self.sent.get(outcome.status, 0) + 1


class Notifier:
    def __init__(
        self,
        engine: Engine,
        mailer: Mailer,
        links: UnsubscribeLinks | None,
        sender: str,
        accounts: pl.DataFrame,
        preferences: list[Preference],
        clock: Clock | None = None,
        progress: Callable[[str], None] = print,
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        self.links = links
        self.sender = sender
        self.accounts = accounts
        self.preferences = preferences
        self.clock = clock or SystemClock()
        self.progress = progress

    # --- shared ----------------------------------------------------------------------------
    def settle(self, purpose: str) -> list[Outcome]:
        """Finish what an earlier run left: messages it reserved but did not deliver, and
        messages it left `sending` (looked up at the provider)."""
        outcomes = self.mailer.reconcile(purpose)
        with self.engine.connect() as conn:
            waiting = (
                conn.execute(
                    select(email_messages.c.id).where(
                        email_messages.c.purpose == purpose, email_messages.c.status == "approved"
                    )
                )
                .scalars()
                .all()
            )
        for row_id in waiting:
            outcomes.append(self.mailer.deliver(row_id))
        return outcomes

    def _email(
        self,
        pref: Preference,
        key: str,
        purpose: str,
        rendered_fn: Callable[[str | None], Rendered],
    ) -> tuple[OutgoingEmail, Rendered]:
        headers: dict[str, str] = {}
        url = None
        if self.links is not None:
            headers = self.links.headers(pref.email, key, purpose, self.mailer_address)
            url = self.links.url(self.links.token(pref.email, key, purpose))
        rendered = rendered_fn(url)
        email = OutgoingEmail(
            from_header=self.sender,
            to=pref.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=new_message_id(self.sender),
            headers={**headers, "Auto-Submitted": "auto-generated"},
        )
        return email, rendered

    @property
    def mailer_address(self) -> str:
        from pipeline.email.message import bare_address

        return bare_address(self.sender)

    # --- instant alerts --------------------------------------------------------------------
    def instant(self) -> SendReport:
        report = SendReport()
        for outcome in self.settle(ALERT):
            report.count(outcome)
        now = self.clock.now()
        users = [p for p in self.preferences if p.frequency == "instant"]
        if not users:
            return report
        recent = classified_between(self.engine, now - ALERT_LOOKBACK, now + timedelta(seconds=1))
        for pref in users:
            wanted = events_for(recent, self.accounts, pref)
            cutoff = now - timedelta(hours=pref.alert_max_age_hours)
            wanted = wanted.filter(pl.coalesce("published_at", "first_seen_at") >= cutoff)
            if wanted.is_empty():
                continue
            with self.engine.connect() as conn:
                done = set(
                    conn.execute(
                        select(monitoring_notifications.c.event_id).where(
                            monitoring_notifications.c.user_email == pref.email,
                            monitoring_notifications.c.event_id.in_(
                                wanted.get_column("event_id").to_list()
                            ),
                        )
                    ).scalars()
                )
            wanted = wanted.filter(~pl.col("event_id").is_in(list(done)))
            if wanted.is_empty():
                continue
            report.due += 1
            ids = sorted(wanted.get_column("event_id").to_list())
            digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
            key = f"monitoring-alert:{pref.email}:{digest}"
            email, rendered = self._email(
                pref,
                key,
                ALERT,
                lambda url, w=wanted, p=pref: render(
                    p, "alert", "New about your accounts", w, self.accounts, url
                ),
            )
            try:
                with self.engine.begin() as conn:
                    inserted = (
                        conn.execute(
                            dialect_insert(conn, monitoring_notifications)
                            .values(
                                [
                                    {
                                        "user_email": pref.email,
                                        "event_id": i,
                                        "email_key": key,
                                        "created_at": now,
                                    }
                                    for i in ids
                                ]
                            )
                            .on_conflict_do_nothing()
                            .returning(monitoring_notifications.c.event_id)
                        )
                        .scalars()
                        .all()
                    )
                    if len(inserted) != len(ids):
                        raise _Taken  # another run took some of them meanwhile: roll back
                    row_id = self.mailer.reserve(
                        conn,
                        key=key,
                        purpose=ALERT,
                        intent="send",
                        email=email,
                        status="approved",
                        ref=f"alert:{pref.email}",
                    )
            except _Taken:
                report.already += 1
                continue
            if row_id is None:
                report.already += 1
                continue
            outcome = self.mailer.deliver(row_id)
            report.count(outcome)
            report.details.append(
                {"user": pref.email, "items": rendered.total, "status": outcome.status}
            )
            self.progress(f"alert to {pref.email}: {rendered.total} item(s), {outcome.status}")
        return report

    # --- digests ---------------------------------------------------------------------------
    def previous_end(self, pref: Preference, frequency: str) -> datetime | None:
        t = monitoring_digests
        with self.engine.connect() as conn:
            found = conn.execute(
                select(func.max(t.c.window_end)).where(
                    t.c.user_email == pref.email, t.c.frequency == frequency
                )
            ).scalar()
        if found is not None and found.tzinfo is None:
            from datetime import UTC

            found = found.replace(tzinfo=UTC)
        return found

    def build(
        self,
        pref: Preference,
        period: Period,
        unsubscribe_url: str | None = None,
        end: datetime | None = None,
    ) -> tuple[Rendered, datetime, datetime]:
        """The digest of `period` (window: from the user's previous digest, or the period
        before's send time, to this one's); `end` overrides the window's end (previews)."""
        start = self.previous_end(pref, period.frequency) or period.previous_send_at
        stop = end or period.send_at
        events = events_for(classified_between(self.engine, start, stop), self.accounts, pref)
        heading = f"Account news, {period.label()}"
        kind = f"{period.frequency} digest"
        return render(pref, kind, heading, events, self.accounts, unsubscribe_url), start, stop

    def digests(self, frequency: str, at: datetime | None = None) -> SendReport:
        """Send the `frequency` digests due at `at` (default now): users whose local digest
        hour has come and whose period has no digest yet."""
        at = at or self.clock.now()
        report = SendReport()
        for outcome in self.settle(DIGEST):
            report.count(outcome)
        t = monitoring_digests
        for pref in (p for p in self.preferences if p.frequency == frequency):
            period = due_period(pref, frequency, at)
            with self.engine.connect() as conn:
                exists = conn.execute(
                    select(t.c.id).where(
                        t.c.user_email == pref.email,
                        t.c.frequency == frequency,
                        t.c.period == period.key,
                    )
                ).first()
            if exists:
                report.already += 1
                continue
            report.due += 1
            key = f"monitoring-digest:{pref.email}:{frequency}:{period.key}"
            holder: dict = {}

            def make(
                url: str | None, p: Period = period, pr: Preference = pref, h: dict = holder
            ) -> Rendered:
                rendered, h["start"], h["end"] = self.build(pr, p, url)
                return rendered

            email, rendered = self._email(pref, key, DIGEST, make)
            now = self.clock.now()
            row = {
                "user_email": pref.email,
                "frequency": frequency,
                "period": period.key,
                "window_start": holder["start"],
                "window_end": holder["end"],
                "items": rendered.total,
                "created_at": now,
            }
            with self.engine.begin() as conn:
                if rendered.total == 0 and not pref.send_empty:
                    conn.execute(
                        dialect_insert(conn, t)
                        .values(**row, status="empty")
                        .on_conflict_do_nothing()
                    )
                    report.empty += 1
                    report.details.append(
                        {"user": pref.email, "period": period.key, "items": 0, "status": "empty"}
                    )
                    continue
                claimed = conn.execute(
                    dialect_insert(conn, t)
                    .values(**row, status="queued", email_key=key)
                    .on_conflict_do_nothing()
                    .returning(t.c.id)
                ).scalar()
                if claimed is None:
                    report.already += 1
                    continue
                row_id = self.mailer.reserve(
                    conn,
                    key=key,
                    purpose=DIGEST,
                    intent="send",
                    email=email,
                    status="approved",
                    ref=f"digest:{frequency}:{period.key}",
                )
            if row_id is None:
                report.already += 1
                continue
            outcome = self.mailer.deliver(row_id)
            report.count(outcome)
            report.details.append(
                {
                    "user": pref.email,
                    "period": period.key,
                    "items": rendered.total,
                    "status": outcome.status,
                }
            )
            self.progress(
                f"{frequency} digest {period.key} to {pref.email}: {rendered.total} item(s), "
                f"{outcome.status}"
            )
        return report
