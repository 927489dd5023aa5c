"""The operational store's tables, as SQLAlchemy Core metadata.

Alembic migrations (`migrations/versions/`) create and change these; this module is what the
code queries against, and a test checks the two agree. Later stages add their own tables
(enrichment cache, CRM sync ledger, sequence state, suppression list) here and in a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); Postgres gets a bigint.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("event_type", String(120), nullable=False),
    Column("object_id", String(120)),
    Column("occurred_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    # pending -> dispatched -> processed; failures go to retry, then dead after N attempts.
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("replays", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("run_key", String(200)),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("processed_at", DateTime(timezone=True)),
    Index("ix_webhook_inbox_status_id", "status", "id"),
    Index("ix_webhook_inbox_received_at", "received_at"),
)

webhook_dead_letters = Table(
    "webhook_dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("inbox_id", Id, ForeignKey("webhook_inbox.id"), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("dead_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
)

# Per day, source and outcome, how many events the receiver saw. Rejected requests leave only
# a count here: their bodies are never stored.
webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("day", Date, primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("outcome", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(120), nullable=False),
    Column("target", String(300)),
    Column("run_id", String(64)),
    Column("payload_sha256", String(64)),
    Column("details", Text),
    Index("ix_audit_log_at", "at"),
)

# Enrichment answers per provider and normalized input (found and not-found alike), so a
# re-run on unchanged leads makes no HTTP calls until `expires_at`.
enrichment_cache = Table(
    "enrichment_cache",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("input_key", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("answer", Text, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Paid lookups per provider and UTC day, for the per-day budget shared by every run.
enrichment_spend = Table(
    "enrichment_spend",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("lookups", BigInteger, nullable=False),
)

# --- CRM sync ----------------------------------------------------------------------------
# Per backend and entity: the CRM id and what was last written (hash and values), so only new
# or changed entities are sent. Updated per acknowledged batch (crash safety), and per
# acknowledged association batch (associated_domain).
crm_sync_ledger = Table(
    "crm_sync_ledger",
    metadata,
    Column("backend", String(16), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("id_value", String(320), nullable=False),
    Column("crm_id", String(64)),
    Column("properties", Text, nullable=False),
    Column("properties_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False, server_default="synced"),
    Column("merged_into", String(64)),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64)),
    # The company domain this contact's association was acknowledged for (null: none yet).
    Column("associated_domain", String(255)),
    # Only rows with a CRM id are looked up by it (outbox rows have none): a partial index
    # spares the outbox sync an index entry per contact.
    Index(
        "ix_crm_sync_ledger_crm_id",
        "backend",
        "crm_id",
        sqlite_where=text("crm_id IS NOT NULL"),
        postgresql_where=text("crm_id IS NOT NULL"),
    ),
)

crm_companies = Table(
    "crm_companies",
    metadata,
    Column("backend", String(16), primary_key=True),
    Column("domain", String(255), primary_key=True),
    Column("crm_id", String(64)),
    Column("name", String(300)),
    Column("synced_at", DateTime(timezone=True), nullable=False),
)

# The outbox backend: every planned operation once (re-runs append nothing new).
crm_outbox = Table(
    "crm_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64)),
    Column("operation", String(32), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_key", String(320), nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("operation", "object_type", "object_key", "payload_sha256"),
)

crm_sync_rejections = Table(
    "crm_sync_rejections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64)),
    Column("backend", String(16), nullable=False),
    Column("entity_id", String(64)),
    Column("id_value", String(320)),
    Column("category", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("input", Text, nullable=False),
    Column("rejected_at", DateTime(timezone=True), nullable=False),
)

# Changes made on the CRM side, from HubSpot webhooks: manual edits the sync must not
# overwrite, lifecycle changes, deletions and merges.
crm_contact_changes = Table(
    "crm_contact_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_fingerprint", String(64), nullable=False, unique=True),
    Column("crm_id", String(64), nullable=False),
    Column("change", String(32), nullable=False),
    Column("property", String(120)),
    Column("value", Text),
    Column("change_source", String(64)),
    Column("occurred_at", DateTime(timezone=True)),
    Index("ix_crm_contact_changes_crm_id", "crm_id"),
)

# Addresses that must never get outreach: unsubscribes, complaints, hard bounces.
suppression_list = Table(
    "suppression_list",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
)
