"""Reading monitoring's tables from the operational store as polars frames, and writing
classifications."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import Engine, Select, and_, select

from pipeline.store.sql import dialect_insert
from pipeline.store.tables import (
    monitoring_classifications as c,
)
from pipeline.store.tables import (
    monitoring_events as e,
)
from pipeline.store.tables import (
    monitoring_items as i,
)

EVENT_COLUMNS = {
    "event_id": pl.Int64,
    "item_id": pl.Int64,
    "account_key": pl.String,
    "news_day": pl.Date,
    "matched_by": pl.String,
    "match_text": pl.String,
    "match_strength": pl.Float64,
    "in_title": pl.Boolean,
    "title": pl.String,
    "summary": pl.String,
    "url": pl.String,
    "canonical_url": pl.String,
    "source": pl.String,
    "source_kind": pl.String,
    "publisher": pl.String,
    "published_at": pl.Datetime("us", "UTC"),
    "published_assumed": pl.Boolean,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "content_hash": pl.String,
    "raw_sha256": pl.String,
}
CLASS_COLUMNS = {
    "classification_id": pl.Int64,
    "relevance": pl.Float64,
    "category": pl.String,
    "reason": pl.String,
    "classifier": pl.String,
    "model": pl.String,
    "classified_at": pl.Datetime("us", "UTC"),
}


def _events_query() -> Select:
    return (
        select(
            e.c.id.label("event_id"),
            e.c.item_id,
            e.c.account_key,
            e.c.news_day,
            e.c.matched_by,
            e.c.match_text,
            e.c.match_strength,
            e.c.in_title,
            i.c.title,
            i.c.summary,
            i.c.url,
            i.c.canonical_url,
            i.c.source,
            i.c.source_kind,
            i.c.publisher,
            i.c.published_at,
            i.c.published_assumed,
            i.c.first_seen_at,
            i.c.content_hash,
            i.c.raw_sha256,
            c.c.id.label("classification_id"),
            c.c.relevance,
            c.c.category,
            c.c.reason,
            c.c.classifier,
            c.c.model,
            c.c.classified_at,
        )
        .select_from(e.join(i, e.c.item_id == i.c.id).outerjoin(c, c.c.event_id == e.c.id))
        .order_by(e.c.id)
    )


def _frame(engine: Engine, query: Select) -> pl.DataFrame:
    schema = {**EVENT_COLUMNS, **CLASS_COLUMNS}
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    data = []
    for row in rows:
        values = dict(row._mapping)
        for key in ("published_at", "first_seen_at", "classified_at"):
            at = values.get(key)
            if isinstance(at, datetime) and at.tzinfo is None:  # SQLite hands back naive UTC
                values[key] = at.replace(tzinfo=UTC)
        data.append(values)
    return pl.DataFrame(data, schema=schema, orient="row")


def events_of_day(engine: Engine, day: date) -> pl.DataFrame:
    """Every event of a news day, with its item and (when made) its classification."""
    return _frame(engine, _events_query().where(e.c.news_day == day))


def classified_between(engine: Engine, start: datetime | None, end: datetime) -> pl.DataFrame:
    """Events classified in [start, end) (digests) or before `end` (start None)."""
    cond = c.c.classified_at < end
    if start is not None:
        cond = and_(cond, c.c.classified_at >= start)
    return _frame(engine, _events_query().where(cond))


def classified_after(engine: Engine, after_id: int, limit: int | None = None) -> pl.DataFrame:
    """Events whose classification id is above `after_id` (the instant-alert sensor's cursor)."""
    query = _events_query().where(c.c.id > after_id)
    if limit:
        query = query.limit(limit)
    return _frame(engine, query)


def save_classifications(
    engine: Engine, classified: pl.DataFrame, classifier: str, model: str | None, at: datetime
) -> int:
    """Insert once per event (a second classifier racing this one loses, quietly)."""
    if classified.is_empty():
        return 0
    rows = [
        {
            "event_id": r["event_id"],
            "relevance": float(r["relevance"]),
            "category": r["category"],
            "reason": (r["reason"] or "")[:1000],
            "classifier": classifier,
            "model": r.get("model") or model,
            "classified_at": at,
        }
        for r in classified.iter_rows(named=True)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(
                dialect_insert(conn, c).values(rows[start : start + 1000]).on_conflict_do_nothing()
            )
    return len(rows)


def notifications_table(engine: Engine) -> pl.DataFrame:
    """Every instant alert per user and event, with its email's status."""
    from pipeline.store.tables import email_messages as m
    from pipeline.store.tables import monitoring_notifications as n

    query = (
        select(
            n.c.id.label("notification_id"),
            n.c.user_email,
            n.c.event_id,
            e.c.account_key,
            i.c.title,
            c.c.relevance,
            c.c.category,
            n.c.email_key,
            m.c.status.label("email_status"),
            n.c.created_at,
            m.c.sent_at,
        )
        .select_from(
            n.join(e, e.c.id == n.c.event_id)
            .join(i, i.c.id == e.c.item_id)
            .outerjoin(c, c.c.event_id == e.c.id)
            .outerjoin(m, m.c.idempotency_key == n.c.email_key)
        )
        .order_by(n.c.id)
    )
    schema = {
        "notification_id": pl.Int64,
        "user_email": pl.String,
        "event_id": pl.Int64,
        "account_key": pl.String,
        "title": pl.String,
        "relevance": pl.Float64,
        "category": pl.String,
        "email_key": pl.String,
        "email_status": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "sent_at": pl.Datetime("us", "UTC"),
    }
    return _rows(engine, query, schema)


def digests_table(engine: Engine) -> pl.DataFrame:
    """Every digest per user, frequency and period, with its email's status."""
    from pipeline.store.tables import email_messages as m
    from pipeline.store.tables import monitoring_digests as d

    query = (
        select(
            d.c.id.label("digest_id"),
            d.c.user_email,
            d.c.frequency,
            d.c.period,
            d.c.window_start,
            d.c.window_end,
            d.c["items"],
            d.c.status,
            m.c.status.label("email_status"),
            d.c.email_key,
            d.c.created_at,
            m.c.sent_at,
        )
        .select_from(d.outerjoin(m, m.c.idempotency_key == d.c.email_key))
        .order_by(d.c.id)
    )
    schema = {
        "digest_id": pl.Int64,
        "user_email": pl.String,
        "frequency": pl.String,
        "period": pl.String,
        "window_start": pl.Datetime("us", "UTC"),
        "window_end": pl.Datetime("us", "UTC"),
        "items": pl.Int64,
        "status": pl.String,
        "email_status": pl.String,
        "email_key": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "sent_at": pl.Datetime("us", "UTC"),
    }
    return _rows(engine, query, schema)


def _rows(engine: Engine, query: Select, schema: dict) -> pl.DataFrame:
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                row[key] = value.replace(tzinfo=UTC)
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
