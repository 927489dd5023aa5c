"""Client monitoring: items, events, classifications, fetches (raw answers' index),
instant notifications, digests and the schedules' failure counts.

Revision ID: 0010_monitoring
Revises: 0009_crm_associations
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_monitoring"
down_revision = "0009_crm_associations"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitoring_items",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("item_key", sa.String(64), nullable=False, unique=True),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("canonical_url", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("publisher", sa.String(300)),
        sa.Column("published_at", TS),
        sa.Column("published_assumed", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("news_day", sa.Date, nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("raw_sha256", sa.String(64)),
    )
    op.create_index("ix_monitoring_items_news_day", "monitoring_items", ["news_day"])
    op.create_table(
        "monitoring_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("item_id", Id, sa.ForeignKey("monitoring_items.id"), nullable=False),
        sa.Column("account_key", sa.String(300), nullable=False),
        sa.Column("news_day", sa.Date, nullable=False),
        sa.Column("matched_by", sa.String(16), nullable=False),
        sa.Column("match_text", sa.String(300)),
        sa.Column("match_strength", sa.Float, nullable=False),
        sa.Column("in_title", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("item_id", "account_key"),
    )
    op.create_index("ix_monitoring_events_news_day", "monitoring_events", ["news_day"])
    op.create_table(
        "monitoring_classifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "event_id", Id, sa.ForeignKey("monitoring_events.id"), nullable=False, unique=True
        ),
        sa.Column("relevance", sa.Float, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("classifier", sa.String(16), nullable=False),
        sa.Column("model", sa.String(120)),
        sa.Column("classified_at", TS, nullable=False),
    )
    op.create_index(
        "ix_monitoring_classifications_at", "monitoring_classifications", ["classified_at"]
    )
    op.create_table(
        "monitoring_fetches",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64)),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("news_day", sa.Date, nullable=False),
        sa.Column("live", sa.Boolean, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("items", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("raw_sha256", sa.String(64)),
        sa.Column("raw_path", sa.Text),
        sa.Column("fetched_at", TS, nullable=False),
    )
    op.create_index(
        "ix_monitoring_fetches_source_at", "monitoring_fetches", ["source", "fetched_at"]
    )
    op.create_table(
        "monitoring_notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("event_id", Id, sa.ForeignKey("monitoring_events.id"), nullable=False),
        sa.Column("email_key", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("user_email", "event_id"),
    )
    op.create_index(
        "ix_monitoring_notifications_email_key", "monitoring_notifications", ["email_key"]
    )
    op.create_table(
        "monitoring_digests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("email_key", sa.String(200)),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("user_email", "frequency", "period"),
    )
    op.create_table(
        "monitoring_schedules",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("paused", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("paused_at", TS),
        sa.Column("paused_reason", sa.Text),
        sa.Column("last_run_id", sa.String(64)),
        sa.Column("last_status", sa.String(16)),
        sa.Column("last_run_at", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("resumed_at", TS),
        sa.Column("resumed_by", sa.String(120)),
    )


def downgrade() -> None:
    for table in (
        "monitoring_schedules",
        "monitoring_digests",
        "monitoring_notifications",
        "monitoring_fetches",
        "monitoring_classifications",
        "monitoring_events",
        "monitoring_items",
    ):
        op.drop_table(table)
