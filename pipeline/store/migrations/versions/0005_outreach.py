"""Email ledger and outbox, signing keys, outreach enrolments, transitions, mailboxes, CRM
updates and the tick lease.

Revision ID: 0005_outreach
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_outreach"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(120)),
        sa.Column("intent", sa.String(8), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("from_header", sa.String(400), nullable=False),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False, unique=True),
        sa.Column("in_reply_to", sa.String(300)),
        sa.Column("provider_thread_hint", sa.String(300)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("not_before", TS),
        sa.Column("provider_id", sa.String(300)),
        sa.Column("provider_thread_id", sa.String(300)),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("sent_at", TS),
    )
    op.create_index("ix_email_messages_status", "email_messages", ["status"])
    op.create_index("ix_email_messages_mailbox_sent_at", "email_messages", ["mailbox", "sent_at"])
    op.create_index("ix_email_messages_to_email", "email_messages", ["to_email"])
    op.create_index("ix_email_messages_ref", "email_messages", ["ref"])
    op.create_table(
        "email_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(300), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "signing_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "outreach_enrolments",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sequence", sa.String(120), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("entity_id", sa.String(64)),
        sa.Column("domain", sa.String(255)),
        sa.Column("stop_on_domain_reply", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("steps_total", sa.Integer, nullable=False),
        sa.Column("next_due_at", TS),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("timezone_source", sa.String(16), nullable=False),
        sa.Column("country", sa.String(2)),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("thread_message_id", sa.String(300)),
        sa.Column("provider_thread_id", sa.String(300)),
        sa.Column("last_message_at", TS),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("sequence", "email"),
    )
    op.create_index(
        "ix_outreach_enrolments_state_due", "outreach_enrolments", ["state", "next_due_at"]
    )
    op.create_index("ix_outreach_enrolments_email", "outreach_enrolments", ["email"])
    op.create_index(
        "ix_outreach_enrolments_provider_thread", "outreach_enrolments", ["provider_thread_id"]
    )
    op.create_table(
        "outreach_transitions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("enrolment_id", Id, sa.ForeignKey("outreach_enrolments.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("from_state", sa.String(24)),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("step", sa.Integer),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("details", sa.Text),
    )
    op.create_index("ix_outreach_transitions_enrolment", "outreach_transitions", ["enrolment_id"])
    op.create_index("ix_outreach_transitions_at", "outreach_transitions", ["at"])
    op.create_table(
        "outreach_mailboxes",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("paused_reason", sa.Text),
        sa.Column("changed_by", sa.String(120)),
        sa.Column("changed_at", TS),
        sa.Column("polled_at", TS),
    )
    op.create_table(
        "outreach_crm_updates",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS),
        sa.Column("detail", sa.Text),
        sa.UniqueConstraint("email", "change"),
    )
    op.create_table(
        "outreach_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "outreach_leases",
        "outreach_crm_updates",
        "outreach_mailboxes",
        "outreach_transitions",
        "outreach_enrolments",
        "signing_keys",
        "email_outbox",
        "email_messages",
    ):
        op.drop_table(table)
