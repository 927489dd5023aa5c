"""An index on the enrolments' company domain: a reply from a colleague stops every active
enrolment at that domain, and each reply looked them up by a full scan.

Revision ID: 0012_outreach_domain_index
Revises: 0011_crm_source
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012_outreach_domain_index"
down_revision = "0011_crm_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outreach_enrolments_domain", "outreach_enrolments", ["domain"])


def downgrade() -> None:
    op.drop_index("ix_outreach_enrolments_domain", table_name="outreach_enrolments")
