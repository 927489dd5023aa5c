"""Webhook inbox, dead letters, receipt counters and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("object_id", sa.String(120)),
        sa.Column("occurred_at", TS),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("replays", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("run_key", sa.String(200)),
        sa.Column("dispatched_at", TS),
        sa.Column("processed_at", TS),
    )
    op.create_index("ix_webhook_inbox_status_id", "webhook_inbox", ["status", "id"])
    op.create_index("ix_webhook_inbox_received_at", "webhook_inbox", ["received_at"])
    op.create_table(
        "webhook_dead_letters",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("inbox_id", Id, sa.ForeignKey("webhook_inbox.id"), nullable=False, unique=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("dead_at", TS, nullable=False),
        sa.Column("replayed_at", TS),
    )
    op.create_table(
        "webhook_receipts",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("outcome", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(120), nullable=False),
        sa.Column("target", sa.String(300)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("payload_sha256", sa.String(64)),
        sa.Column("details", sa.Text),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("webhook_receipts")
    op.drop_table("webhook_dead_letters")
    op.drop_table("webhook_inbox")
