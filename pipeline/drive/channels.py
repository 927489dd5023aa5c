"""Drive push channels: `changes.watch` to open one, `channels.stop` to close it, renewal.

A channel tells Drive to POST to our `/webhooks/drive` whenever the account's change feed
moves; the notification carries DRIVE_CHANNEL_TOKEN, which the receiver checks, and wakes the
file-arrival sensor (which then reads the feed: the notification itself says nothing of what
changed). Channels expire (at most a week for changes; we ask for `hours`), so a schedule
renews each one before it does: a new channel opens first, then the old one is stopped, so no
change goes unannounced in between. Each open, renewal and stop checks the kill switch first
and is recorded in the operational store (`drive_channels`) and the audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from pipeline.drive.api import DriveApi, DriveNotFound
from pipeline.store import audit
from pipeline.store.pause import check_not_paused
from pipeline.store.sql import utcnow
from pipeline.store.tables import drive_channels

DEFAULT_HOURS = 24
MAX_HOURS = 7 * 24  # Drive's longest changes channel
RENEW_WITHIN = timedelta(hours=3)  # the schedule renews channels expiring sooner than this


class ChannelError(ValueError):
    """A channel cannot be opened as asked (no token, not an HTTPS address)."""


@dataclass(frozen=True)
class Channel:
    channel_id: str
    resource_id: str
    address: str
    expires_at: datetime
    opened_at: datetime
    opened_by: str
    stopped_at: datetime | None = None
    replaced_by: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()

    def describe(self) -> str:
        left = self.expires_at - utcnow()
        state = (
            f"stopped {self.stopped_at:%Y-%m-%d %H:%M}"
            if self.stopped_at
            else "expired"
            if self.expired
            else f"open, {_hours(left)} left"
        )
        return (
            f"{self.channel_id} -> {self.address} (expires {self.expires_at:%Y-%m-%d %H:%M} UTC; "
            f"{state})"
        )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _channel(row) -> Channel:  # type: ignore[no-untyped-def]
    return Channel(
        row.channel_id,
        row.resource_id,
        row.address,
        _aware(row.expires_at),
        _aware(row.opened_at),
        row.opened_by,
        _aware(row.stopped_at) if row.stopped_at else None,
        row.replaced_by,
    )


def check_address(address: str) -> str:
    if not address.startswith("https://"):
        raise ChannelError(
            f"--address {address!r}: Drive only posts to a public HTTPS address, such as "
            "https://leads.example.com/webhooks/drive (a tunnel or a proxy in front of "
            "`python -m pipeline webhooks serve`)"
        )
    return address


def open_channels(engine: Engine, include_expired: bool = False) -> list[Channel]:
    """Channels not stopped (and, unless asked, not yet expired), soonest expiry first."""
    t = drive_channels
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.stopped_at.is_(None)).order_by(t.c.expires_at))
        channels = [_channel(r) for r in rows]
    return [c for c in channels if include_expired or not c.expired]


def all_channels(engine: Engine) -> list[Channel]:
    t = drive_channels
    with engine.connect() as conn:
        return [_channel(r) for r in conn.execute(select(t).order_by(t.c.opened_at))]


def due_for_renewal(engine: Engine, within: timedelta = RENEW_WITHIN) -> list[Channel]:
    """Channels that expire within `within` (or already did without being stopped)."""
    soon = utcnow() + within
    return [c for c in open_channels(engine, include_expired=True) if c.expires_at <= soon]


def open_channel(
    api: DriveApi,
    engine: Engine,
    address: str,
    token: str,
    by: str,
    hours: float = DEFAULT_HOURS,
) -> Channel:
    """Open a changes.watch channel posting to `address` with `token`; record it."""
    check_address(address)
    if not token:
        raise ChannelError(
            "DRIVE_CHANNEL_TOKEN is not set: the receiver accepts only notifications carrying "
            'it. Set it (for example to the output of `python -c "import secrets; '
            'print(secrets.token_urlsafe(32))"`) where both this command and `python -m '
            "pipeline webhooks serve` read it"
        )
    if not 0 < hours <= MAX_HOURS:
        raise ChannelError(f"--hours {hours}: a Drive changes channel lasts at most {MAX_HOURS}")
    check_not_paused(engine, "opening a Drive watch channel")
    channel_id = f"leads-{uuid.uuid4()}"
    expires = utcnow() + timedelta(hours=hours)
    reply = api.watch_changes(
        api.start_page_token(), channel_id, token, address, int(expires.timestamp() * 1000)
    )
    expires_at = datetime.fromtimestamp(int(reply["expiration"]) / 1000, UTC)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(drive_channels).values(
                channel_id=channel_id,
                resource_id=str(reply["resourceId"]),
                address=address,
                expires_at=expires_at,
                opened_at=now,
                opened_by=by[:120],
            )
        )
        audit.record(
            conn,
            actor=by,
            action="drive_channel_opened",
            subject=channel_id,
            details={"address": address, "expires_at": expires_at.isoformat()},
        )
    return Channel(channel_id, str(reply["resourceId"]), address, expires_at, now, by)


def stop_channel(
    api: DriveApi, engine: Engine, channel: Channel, by: str, replaced_by: str | None = None
) -> str:
    """Stop a channel at Drive and record it; one Drive no longer knows (expired, stopped
    elsewhere) is recorded as stopped too. Returns what happened, for the caller's report."""
    check_not_paused(engine, f"stopping Drive watch channel {channel.channel_id}")
    outcome = "stopped"
    if channel.expired:
        outcome = "expired"
    else:
        try:
            api.stop_channel(channel.channel_id, channel.resource_id)
        except DriveNotFound:
            outcome = "already gone at Drive"
    now = utcnow()
    t = drive_channels
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.channel_id == channel.channel_id)
            .values(stopped_at=now, stopped_by=by[:120], replaced_by=replaced_by)
        )
        audit.record(
            conn,
            actor=by,
            action="drive_channel_stopped",
            subject=channel.channel_id,
            details={"outcome": outcome, "replaced_by": replaced_by},
        )
    return outcome


@dataclass(frozen=True)
class Renewal:
    old: Channel
    new: Channel
    old_outcome: str


def renew_due(
    api: DriveApi,
    engine: Engine,
    token: str,
    by: str,
    within: timedelta = RENEW_WITHIN,
    hours: float = DEFAULT_HOURS,
) -> list[Renewal]:
    """Replace each channel expiring within `within`: open the new one, then stop the old."""
    renewals = []
    for old in due_for_renewal(engine, within):
        new = open_channel(api, engine, old.address, token, by, hours)
        outcome = stop_channel(api, engine, old, by, replaced_by=new.channel_id)
        renewals.append(Renewal(old, new, outcome))
    return renewals
