"""The webhook inbox: durable intake, de-duplication, dispatch, failures and dead letters.

The receiver only ever appends (one transaction per burst of requests); the inbox sensor reads
by id; the processing job records outcomes. An event that keeps failing moves to
`webhook_dead_letters` and comes back only when a person replays it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, bindparam, select, update

from pipeline.store.sql import dialect_insert, sha256_hex, utcnow
from pipeline.store.tables import webhook_dead_letters, webhook_inbox, webhook_receipts


@dataclass(frozen=True)
class InboxEvent:
    """One event as the receiver accepted it; `fingerprint` is its identity across retries."""

    source: str
    fingerprint: str
    event_type: str
    payload: str
    object_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class StoredEvent:
    id: int
    source: str
    fingerprint: str
    event_type: str
    object_id: str | None
    payload: str
    status: str
    attempts: int
    replays: int
    received_at: datetime


def record_receipts(conn: Connection, counts: Counter[tuple[date, str, str]]) -> None:
    """Add to the per-day counters in the caller's transaction."""
    if not counts:
        return
    stmt = dialect_insert(conn, webhook_receipts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "source", "outcome"],
        set_={"count": webhook_receipts.c.count + stmt.excluded.count},
    )
    conn.execute(
        stmt,
        [
            {"day": day, "source": source, "outcome": outcome, "count": n}
            for (day, source, outcome), n in sorted(counts.items())
        ],
    )


def accept_events(
    engine: Engine,
    events: Sequence[InboxEvent],
    rejections: Counter[tuple[date, str, str]] | None = None,
) -> set[str]:
    """Commit new events (duplicates by fingerprint are ignored) and the receipt counters in
    one transaction; returns the fingerprints that were new."""
    now = utcnow()
    inserted: set[str] = set()
    counts: Counter[tuple[date, str, str]] = Counter(rejections or {})
    with engine.begin() as conn:
        if events:
            stmt = (
                dialect_insert(engine, webhook_inbox)
                .on_conflict_do_nothing(index_elements=["fingerprint"])
                .returning(webhook_inbox.c.fingerprint)
            )
            rows = [
                {
                    "source": e.source,
                    "fingerprint": e.fingerprint,
                    "event_type": e.event_type[:120],
                    "object_id": e.object_id[:120] if e.object_id else None,
                    "occurred_at": e.occurred_at,
                    "received_at": now,
                    "payload": e.payload,
                    "payload_sha256": sha256_hex(e.payload),
                }
                for e in events
            ]
            result = conn.execute(stmt, rows)
            inserted = {row[0] for row in result}
            seen: set[str] = set()
            for e in events:
                new = e.fingerprint in inserted and e.fingerprint not in seen
                seen.add(e.fingerprint)
                counts[(now.date(), e.source, "accepted" if new else "duplicate")] += 1
        record_receipts(conn, counts)
    return inserted


def _stored(row) -> StoredEvent:  # type: ignore[no-untyped-def]
    return StoredEvent(
        id=row.id,
        source=row.source,
        fingerprint=row.fingerprint,
        event_type=row.event_type,
        object_id=row.object_id,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        replays=row.replays,
        received_at=row.received_at,
    )


def events_after(engine: Engine, after_id: int, limit: int) -> list[StoredEvent]:
    """Events past the sensor's cursor, oldest first (dead ones are left alone)."""
    t = webhook_inbox
    query = select(t).where(t.c.id > after_id, t.c.status != "dead").order_by(t.c.id).limit(limit)
    with engine.connect() as conn:
        return [_stored(r) for r in conn.execute(query)]


def events_to_retry(engine: Engine, up_to_id: int, limit: int) -> list[StoredEvent]:
    """Failed or replayed events behind the cursor that are due another attempt."""
    t = webhook_inbox
    query = select(t).where(t.c.status == "retry", t.c.id <= up_to_id).order_by(t.c.id).limit(limit)
    with engine.connect() as conn:
        return [_stored(r) for r in conn.execute(query)]


def events_by_id(engine: Engine, ids: Iterable[int]) -> list[StoredEvent]:
    t = webhook_inbox
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.id.in_(list(ids))).order_by(t.c.id))
        return [_stored(r) for r in rows]


def mark_dispatched(engine: Engine, run_keys: dict[int, str]) -> None:
    """Note which run will handle each event (informational: the run key dedupes runs)."""
    if not run_keys:
        return
    t = webhook_inbox
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(
                t.c.id == bindparam("event_id"),
                (t.c.status == "pending") | (t.c.status == "retry"),
            )
            .values(status="dispatched", run_key=bindparam("key"), dispatched_at=now),
            [{"event_id": i, "key": k} for i, k in run_keys.items()],
        )


def mark_processed(engine: Engine, event_ids: Iterable[int]) -> None:
    t = webhook_inbox
    ids = list(event_ids)
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.id.in_(ids), t.c.status != "dead")
            .values(status="processed", processed_at=utcnow(), last_error=None)
        )


def record_failure(engine: Engine, event_id: int, error: str, max_attempts: int) -> str:
    """Count a failed attempt; after `max_attempts` the event is dead-lettered.
    Returns the new status (`retry` or `dead`)."""
    t = webhook_inbox
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(select(t).where(t.c.id == event_id)).one()
        attempts = row.attempts + 1
        status = "dead" if attempts >= max_attempts else "retry"
        conn.execute(
            update(t)
            .where(t.c.id == event_id)
            .values(status=status, attempts=attempts, last_error=error[:4000])
        )
        if status == "dead":
            letter = dialect_insert(engine, webhook_dead_letters)
            conn.execute(
                letter.on_conflict_do_update(
                    index_elements=["inbox_id"],
                    set_={
                        "error": letter.excluded.error,
                        "attempts": letter.excluded.attempts,
                        "dead_at": letter.excluded.dead_at,
                        "replayed_at": None,
                    },
                ),
                {
                    "inbox_id": event_id,
                    "source": row.source,
                    "fingerprint": row.fingerprint,
                    "event_type": row.event_type,
                    "error": error[:4000],
                    "attempts": attempts,
                    "dead_at": now,
                },
            )
            record_receipts(conn, Counter({(now.date(), row.source, "dead_lettered"): 1}))
    return status


def dead_letters(engine: Engine, include_replayed: bool = False) -> list[dict]:
    d = webhook_dead_letters
    query = select(d).order_by(d.c.id)
    if not include_replayed:
        query = query.where(d.c.replayed_at.is_(None))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def replay(engine: Engine, inbox_ids: Iterable[int] | None = None) -> list[int]:
    """Put dead-lettered events back in line (all of them, or those given); they get a
    fresh set of attempts. Returns the inbox ids replayed."""
    d, t = webhook_dead_letters, webhook_inbox
    now = utcnow()
    with engine.begin() as conn:
        query = select(d.c.inbox_id).where(d.c.replayed_at.is_(None))
        if inbox_ids is not None:
            query = query.where(d.c.inbox_id.in_(list(inbox_ids)))
        ids = [r[0] for r in conn.execute(query)]
        if ids:
            conn.execute(update(d).where(d.c.inbox_id.in_(ids)).values(replayed_at=now))
            conn.execute(
                update(t)
                .where(t.c.id.in_(ids))
                .values(status="retry", attempts=0, replays=t.c.replays + 1)
            )
    return ids


def receipt_counts(engine: Engine) -> list[dict]:
    r = webhook_receipts
    with engine.connect() as conn:
        rows = conn.execute(select(r).order_by(r.c.day, r.c.source, r.c.outcome))
        return [dict(row._mapping) for row in rows]
