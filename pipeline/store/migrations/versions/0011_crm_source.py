"""The CRM as a source: merge proposals for duplicates inside the CRM and each merge step.

Revision ID: 0011_crm_source
Revises: 0010_monitoring
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_crm_source"
down_revision = "0010_monitoring"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_merge_proposals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("survivor_id", sa.String(64), nullable=False),
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("match_weight", sa.Float),
        sa.Column("explanation", sa.Text),
        sa.Column("rule", sa.String(120)),
        sa.Column("proposed_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", TS),
        sa.Column("reason", sa.Text),
        sa.Column("result_id", sa.String(64)),
        sa.Column("claimed_by", sa.String(120)),
        sa.Column("claimed_at", TS),
        sa.Column("merged_at", TS),
        sa.Column("error", sa.Text),
    )
    op.create_index(
        "ix_crm_merge_proposals_backend_status", "crm_merge_proposals", ["backend", "status"]
    )
    op.create_table(
        "crm_merge_steps",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "proposal_id",
            sa.String(32),
            sa.ForeignKey("crm_merge_proposals.id"),
            nullable=False,
        ),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("primary_id", sa.String(64), nullable=False),
        sa.Column("merged_id", sa.String(64), nullable=False),
        sa.Column("result_id", sa.String(64)),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.UniqueConstraint("proposal_id", "merged_id", name="uq_crm_merge_steps_member"),
    )


def downgrade() -> None:
    op.drop_table("crm_merge_steps")
    op.drop_index("ix_crm_merge_proposals_backend_status", table_name="crm_merge_proposals")
    op.drop_table("crm_merge_proposals")
