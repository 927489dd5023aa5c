"""CRM sync ledger, company ids, outbox, rejections, CRM-side changes, suppression list.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_sync_ledger",
        sa.Column("backend", sa.String(16), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("id_value", sa.String(320), nullable=False),
        sa.Column("crm_id", sa.String(64)),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("properties_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="synced"),
        sa.Column("merged_into", sa.String(64)),
        sa.Column("synced_at", TS, nullable=False),
        sa.Column("run_id", sa.String(64)),
    )
    op.create_index("ix_crm_sync_ledger_crm_id", "crm_sync_ledger", ["backend", "crm_id"])
    op.create_table(
        "crm_companies",
        sa.Column("backend", sa.String(16), primary_key=True),
        sa.Column("domain", sa.String(255), primary_key=True),
        sa.Column("crm_id", sa.String(64)),
        sa.Column("name", sa.String(300)),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "crm_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64)),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_key", sa.String(320), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("operation", "object_type", "object_key", "payload_sha256"),
    )
    op.create_table(
        "crm_sync_rejections",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64)),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(64)),
        sa.Column("id_value", sa.String(320)),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("rejected_at", TS, nullable=False),
    )
    op.create_table(
        "crm_contact_changes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("event_fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("property", sa.String(120)),
        sa.Column("value", sa.Text),
        sa.Column("change_source", sa.String(64)),
        sa.Column("occurred_at", TS),
    )
    op.create_index("ix_crm_contact_changes_crm_id", "crm_contact_changes", ["crm_id"])
    op.create_table(
        "suppression_list",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "suppression_list",
        "crm_contact_changes",
        "crm_sync_rejections",
        "crm_outbox",
        "crm_companies",
        "crm_sync_ledger",
    ):
        op.drop_table(table)
