"""Dedupe review labels: a person's match / no_match / unsure per pair of leads.

Revision ID: 0008_dedupe_labels
Revises: 0007_agent
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_dedupe_labels"
down_revision = "0007_agent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dedupe_labels",
        sa.Column("left_id", sa.String(200), primary_key=True),
        sa.Column("right_id", sa.String(200), primary_key=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("labelled_by", sa.String(120), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("match_weight", sa.Float),
    )
    op.create_index("ix_dedupe_labels_labelled_at", "dedupe_labels", ["labelled_at"])


def downgrade() -> None:
    op.drop_index("ix_dedupe_labels_labelled_at", table_name="dedupe_labels")
    op.drop_table("dedupe_labels")
