"""Enrichment cache and daily spend.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "enrichment_cache",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("input_key", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "enrichment_spend",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("lookups", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("enrichment_spend")
    op.drop_table("enrichment_cache")
