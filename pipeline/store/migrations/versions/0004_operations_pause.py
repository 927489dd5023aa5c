"""The kill switch: one pause flag for every side effect, and the automations it stopped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operations_pause",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("changed_by", sa.String(120), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_table(
        "paused_automations",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("paused_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paused_automations")
    op.drop_table("operations_pause")
