"""The Drive lead source: its watched tree (drive_items) and its push channels (drive_channels).

Revision ID: 0006_drive_channels
Revises: 0005_outreach
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_drive_channels"
down_revision = "0005_outreach"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drive_items",
        sa.Column("file_id", sa.String(128), primary_key=True),
        sa.Column("root_id", sa.String(128), nullable=False),
        sa.Column("parent_id", sa.String(128)),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("is_folder", sa.Boolean, nullable=False),
        sa.Column("drive_id", sa.String(128)),
        sa.Column("content_key", sa.String(200)),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("modified_at", TS),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("removed_reason", sa.String(120)),
        sa.Column("removed_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_drive_items_parent", "drive_items", ["parent_id"])
    op.create_index("ix_drive_items_folders", "drive_items", ["is_folder", "state"])
    op.create_table(
        "drive_channels",
        sa.Column("channel_id", sa.String(64), primary_key=True),
        sa.Column("resource_id", sa.String(200), nullable=False),
        sa.Column("address", sa.String(2048), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("opened_by", sa.String(120), nullable=False),
        sa.Column("stopped_at", TS),
        sa.Column("stopped_by", sa.String(120)),
        sa.Column("replaced_by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("drive_channels")
    op.drop_index("ix_drive_items_folders", "drive_items")
    op.drop_index("ix_drive_items_parent", "drive_items")
    op.drop_table("drive_items")
