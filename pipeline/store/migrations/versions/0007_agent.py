"""The prospecting agent: submissions, per-step state and dead letters.

Revision ID: 0007_agent
Revises: 0006_llm
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_agent"
down_revision = "0006_llm"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_submissions",
        sa.Column("submission_id", sa.String(120), primary_key=True),
        sa.Column("form_id", sa.String(120)),
        sa.Column("portal_id", sa.String(40)),
        sa.Column("page_url", sa.Text),
        sa.Column("submitted_at", TS),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("inbox_id", Id),
        sa.Column("email", sa.String(320)),
        sa.Column("submission", sa.Text, nullable=False),
        sa.Column("prospect", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32)),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_agent_submissions_status", "agent_submissions", ["status"])
    op.create_table(
        "agent_steps",
        sa.Column("submission_id", sa.String(120), primary_key=True),
        sa.Column("step", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inputs_sha256", sa.String(64)),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("run_id", sa.String(64)),
        sa.Column("claimed_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("next_attempt_at", TS),
        sa.Column("duration_ms", sa.Integer),
    )
    op.create_index("ix_agent_steps_status", "agent_steps", ["status", "next_attempt_at"])
    op.create_table(
        "agent_dead_letters",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(120), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("dead_at", TS, nullable=False),
        sa.Column("replayed_at", TS),
    )
    op.create_index("ix_agent_dead_letters_submission", "agent_dead_letters", ["submission_id"])


def downgrade() -> None:
    op.drop_table("agent_dead_letters")
    op.drop_table("agent_steps")
    op.drop_table("agent_submissions")
