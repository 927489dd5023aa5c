"""The operational store's tables, as SQLAlchemy Core metadata.

Alembic migrations (`migrations/versions/`) create and change these; this module is what the
code queries against, and a test checks the two agree. Later stages add their own tables
(enrichment cache, CRM sync ledger, sequence state, suppression list) here and in a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
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

# The kill switch (`python -m pipeline pause-all`): one row, read by every side-effecting step
# before each batch (CRM writes, paid enrichment, email, Drive channels).
operations_pause = Table(
    "operations_pause",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("paused", Boolean, nullable=False),
    Column("changed_by", String(120), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),
)

# The sensors and schedules pause-all turned off, so resume-all turns on exactly those.
paused_automations = Table(
    "paused_automations",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("paused_at", DateTime(timezone=True), nullable=False),
)

# --- Email (pipeline/email) -------------------------------------------------------------
# Every message any domain drafts or sends, once: the idempotency key is reserved before the
# provider is called, `sending` marks the call in flight (a row left there by a crash is in
# doubt and never re-sent blindly), and the provider's id is recorded after.
email_messages = Table(
    "email_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("purpose", String(32), nullable=False),
    # What the message belongs to, for its domain (outreach: "enrolment:<id>").
    Column("ref", String(120)),
    # draft: a draft only, whatever happens; send: goes out once approved.
    Column("intent", String(8), nullable=False),
    Column("backend", String(16), nullable=False),
    Column("mailbox", String(320), nullable=False),
    Column("from_header", String(400), nullable=False),
    Column("to_email", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text),
    Column("headers", Text, nullable=False),  # JSON: extra headers (List-Unsubscribe, ...)
    Column("message_id", String(300), nullable=False, unique=True),
    Column("in_reply_to", String(300)),
    Column("provider_thread_hint", String(300)),  # e.g. the Gmail thread to reply in
    # awaiting_approval -> approved -> sending -> sent | drafted; failed, in_doubt, denied,
    # cancelled (the recipient stopped the sequence first), suppressed.
    Column("status", String(20), nullable=False),
    Column("not_before", DateTime(timezone=True)),
    Column("provider_id", String(300)),
    Column("provider_thread_id", String(300)),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("decided_by", String(120)),
    Column("decided_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Index("ix_email_messages_status", "status"),
    Index("ix_email_messages_mailbox_sent_at", "mailbox", "sent_at"),
    Index("ix_email_messages_to_email", "to_email"),
    Index("ix_email_messages_ref", "ref"),
)

# The outbox backend: rendered messages (whole MIME text) that never leave this machine.
email_outbox = Table(
    "email_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(300), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # draft | sent
    Column("mailbox", String(320), nullable=False),
    Column("to_email", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Keys generated once and shared by every process (the unsubscribe link signing key, when
# UNSUBSCRIBE_SECRET is not set).
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("key", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- Outreach sequences (pipeline/outreach) ----------------------------------------------
outreach_enrolments = Table(
    "outreach_enrolments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sequence", String(120), nullable=False),
    Column("email", String(320), nullable=False),
    Column("entity_id", String(64)),
    Column("domain", String(255)),
    # A message from anyone at `domain` stops this enrolment (the sequence's stop rule).
    Column("stop_on_domain_reply", Boolean, nullable=False, server_default="0"),
    Column("mailbox", String(320), nullable=False),
    # enrolled, scheduled, pending_approval, sent, replied, bounced, unsubscribed, completed,
    # paused, stopped
    Column("state", String(24), nullable=False),
    Column("step", Integer, nullable=False),  # the next step to do (0-based)
    Column("steps_total", Integer, nullable=False),
    Column("next_due_at", DateTime(timezone=True)),
    Column("timezone", String(64), nullable=False),
    Column("timezone_source", String(16), nullable=False),
    Column("country", String(2)),
    Column("context", Text, nullable=False),  # JSON: the template variables
    Column("reason", Text, nullable=False),  # why enrolled, in words
    Column("thread_message_id", String(300)),  # the first message's Message-ID
    Column("provider_thread_id", String(300)),
    Column("last_message_at", DateTime(timezone=True)),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("sequence", "email"),
    Index("ix_outreach_enrolments_state_due", "state", "next_due_at"),
    Index("ix_outreach_enrolments_email", "email"),
    Index("ix_outreach_enrolments_domain", "domain"),
    Index("ix_outreach_enrolments_provider_thread", "provider_thread_id"),
)

# Every state change of an enrolment, with its cause and who or what made it.
outreach_transitions = Table(
    "outreach_transitions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("enrolment_id", Id, ForeignKey("outreach_enrolments.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("from_state", String(24)),
    Column("to_state", String(24), nullable=False),
    Column("step", Integer),
    Column("cause", String(64), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("details", Text),
    Index("ix_outreach_transitions_enrolment", "enrolment_id"),
    Index("ix_outreach_transitions_at", "at"),
)

# Per sending mailbox: paused (bounce rate, or by hand), and the reply poll's cursor.
outreach_mailboxes = Table(
    "outreach_mailboxes",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("paused", Boolean, nullable=False, server_default="0"),
    Column("paused_reason", Text),
    Column("changed_by", String(120)),
    Column("changed_at", DateTime(timezone=True)),
    Column("polled_at", DateTime(timezone=True)),
)

# Changes the CRM must learn about (an unsubscribe): written where they happen (the
# receiver), pushed by the next sequence tick through the CRM backend.
outreach_crm_updates = Table(
    "outreach_crm_updates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("change", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # pending | done | not_in_crm
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("detail", Text),
    UniqueConstraint("email", "change"),
)

# One sequence tick at a time across processes (the schedule, `outreach tick`, approvals).
outreach_leases = Table(
    "outreach_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# The Drive lead source's view of its watched folders (pipeline/drive/tree.py): every folder and
# file found below DRIVE_FOLDER_IDS, so a change can be placed (inside the watched tree or not)
# without asking Drive for each file's ancestors, and a file that was trashed, deleted or moved
# out is recorded as removed (and never ingested again from a stale listing).
drive_items = Table(
    "drive_items",
    metadata,
    Column("file_id", String(128), primary_key=True),
    Column("root_id", String(128), nullable=False),  # the watched folder it lies under
    Column("parent_id", String(128)),
    Column("name", String(1024), nullable=False),
    Column("mime_type", String(255), nullable=False),
    Column("is_folder", Boolean, nullable=False),
    Column("drive_id", String(128)),  # the shared drive, if any
    Column("content_key", String(200)),  # md5Checksum + size, or a Sheet's version
    Column("size_bytes", BigInteger),
    Column("modified_at", DateTime(timezone=True)),
    # present | removed (trashed, deleted, access lost, moved out of the watched folders)
    Column("state", String(16), nullable=False),
    Column("removed_reason", String(120)),
    Column("removed_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_drive_items_parent", "parent_id"),
    Index("ix_drive_items_folders", "is_folder", "state"),
)

# Drive push channels (`python -m pipeline drive watch`): what Google needs to stop one (id and
# resource id), where it posts, and until when; renewals open a new channel, then stop the old.
drive_channels = Table(
    "drive_channels",
    metadata,
    Column("channel_id", String(64), primary_key=True),
    Column("resource_id", String(200), nullable=False),
    Column("address", String(2048), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("opened_by", String(120), nullable=False),
    Column("stopped_at", DateTime(timezone=True)),
    Column("stopped_by", String(120)),
    Column("replaced_by", String(64)),
)

# --- Client monitoring (pipeline/monitoring) ---------------------------------------------
# Every news item matched to an account, once: the canonical URL's hash and the content hash
# are both unique, so the same story from two sources or on two days is kept once.
monitoring_items = Table(
    "monitoring_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("item_key", String(64), nullable=False, unique=True),  # sha256 of the canonical URL
    Column("content_hash", String(64), nullable=False, unique=True),
    Column("canonical_url", Text),
    Column("url", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text),
    Column("source", String(100), nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("publisher", String(300)),
    Column("published_at", DateTime(timezone=True)),
    Column("published_assumed", Boolean, nullable=False, server_default="0"),
    # The news-day partition whose run collected it.
    Column("news_day", Date, nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64)),
    Column("raw_sha256", String(64)),
    Index("ix_monitoring_items_news_day", "news_day"),
)

# An item about an account, and what the match rests on.
monitoring_events = Table(
    "monitoring_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("item_id", Id, ForeignKey("monitoring_items.id"), nullable=False),
    Column("account_key", String(300), nullable=False),
    Column("news_day", Date, nullable=False),
    Column("matched_by", String(16), nullable=False),
    Column("match_text", String(300)),
    Column("match_strength", Float, nullable=False),
    Column("in_title", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("item_id", "account_key"),
    Index("ix_monitoring_events_news_day", "news_day"),
)

# One classification per event (made once: classification runs only on new events). The id
# orders them for the instant-alert sensor; `classified_at` places them in digests.
monitoring_classifications = Table(
    "monitoring_classifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("monitoring_events.id"), nullable=False, unique=True),
    Column("relevance", Float, nullable=False),
    Column("category", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("classifier", String(16), nullable=False),
    Column("model", String(120)),
    Column("classified_at", DateTime(timezone=True), nullable=False),
    Index("ix_monitoring_classifications_at", "classified_at"),
)

# Every request (or feed file) a source made, with its raw answer kept on disk for audit.
monitoring_fetches = Table(
    "monitoring_fetches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64)),
    Column("source", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("news_day", Date, nullable=False),
    Column("live", Boolean, nullable=False),
    Column("request", Text, nullable=False),  # the URL or file, keys removed
    Column("http_status", Integer),
    Column("items", Integer),
    Column("error", Text),
    Column("raw_sha256", String(64)),
    Column("raw_path", Text),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Index("ix_monitoring_fetches_source_at", "source", "fetched_at"),
)

# Instant alerts: one row per user and event, with the email that carried it.
monitoring_notifications = Table(
    "monitoring_notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_email", String(320), nullable=False),
    Column("event_id", Id, ForeignKey("monitoring_events.id"), nullable=False),
    Column("email_key", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_email", "event_id"),
    Index("ix_monitoring_notifications_email_key", "email_key"),
)

# One digest per user, frequency and period (a local date, or an ISO week): never two.
monitoring_digests = Table(
    "monitoring_digests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_email", String(320), nullable=False),
    Column("frequency", String(8), nullable=False),
    Column("period", String(16), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("items", Integer, nullable=False),
    # queued (its email is reserved) | empty (nothing to say, not sent)
    Column("status", String(16), nullable=False),
    Column("email_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_email", "frequency", "period"),
)

# Per monitoring schedule: consecutive failed runs, and whether it paused itself.
monitoring_schedules = Table(
    "monitoring_schedules",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("paused", Boolean, nullable=False, server_default="0"),
    Column("paused_at", DateTime(timezone=True)),
    Column("paused_reason", Text),
    Column("last_run_id", String(64)),
    Column("last_status", String(16)),
    Column("last_run_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("resumed_at", DateTime(timezone=True)),
    Column("resumed_by", String(120)),
)

# --- LLM calls (pipeline/llm) ------------------------------------------------------------
# Tokens used per UTC day, against LLM_DAILY_TOKEN_BUDGET: a call reserves its estimate
# before it goes out (atomically, under the cap) and settles to the real usage after.
llm_spend = Table(
    "llm_spend",
    metadata,
    Column("day", Date, primary_key=True),
    Column("tokens", BigInteger, nullable=False),
    Column("calls", BigInteger, nullable=False),
)

# Answers per content hash (the caller's key with the model, schema and instructions), so
# the same question is paid for once.
llm_cache = Table(
    "llm_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("purpose", String(64), nullable=False),
    Column("model", String(120), nullable=False),
    Column("answer", Text, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- The prospecting agent (pipeline/agent) ----------------------------------------------
# One row per form submission (HubSpot's conversionId), whatever channel brought it.
agent_submissions = Table(
    "agent_submissions",
    metadata,
    Column("submission_id", String(120), primary_key=True),
    Column("form_id", String(120)),
    Column("portal_id", String(40)),
    Column("page_url", Text),
    Column("submitted_at", DateTime(timezone=True)),
    Column("origin", String(16), nullable=False),  # webhook | file
    Column("inbox_id", Id),
    Column("email", String(320)),
    Column("submission", Text, nullable=False),  # the Forms API object, as received
    Column("prospect", Text),  # JSON: the prospect as the project's normalizers made it
    # in_progress -> done; dead (a step dead-lettered); rejected (unusable submission)
    Column("status", String(16), nullable=False),
    Column("step", String(32)),  # the step to do next (None once done)
    Column("detail", Text),  # why rejected, dead or waiting
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_agent_submissions_status", "status"),
)

# Each step of each submission once: claimed (`running`), then `done` with its result, or
# `failed` (tried again from `next_attempt_at`), `waiting` (the LLM budget is spent) or
# `dead` (dead-lettered after the configured attempts).
agent_steps = Table(
    "agent_steps",
    metadata,
    Column("submission_id", String(120), primary_key=True),
    Column("step", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("inputs_sha256", String(64)),
    Column("result", Text),  # JSON
    Column("error", Text),
    Column("run_id", String(64)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("duration_ms", Integer),
    Index("ix_agent_steps_status", "status", "next_attempt_at"),
)

# Steps that failed for good, with the step named; `agent replay` puts them back in line.
agent_dead_letters = Table(
    "agent_dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("submission_id", String(120), nullable=False),
    Column("step", String(32), nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("dead_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
    Index("ix_agent_dead_letters_submission", "submission_id"),
)


# --- Dedupe review -------------------------------------------------------------------------
# A person's verdict on a pair of leads (`python -m pipeline dedupe review`, a labels CSV):
# match, no_match or unsure. One row per pair (the ids in order, left < right); a later
# verdict replaces the earlier one. Every dedupe run, incremental ones too, honours them
# (match: must-link, no_match: cannot-link) and learns from them.
dedupe_labels = Table(
    "dedupe_labels",
    metadata,
    Column("left_id", String(200), primary_key=True),
    Column("right_id", String(200), primary_key=True),
    Column("label", String(16), nullable=False),
    Column("labelled_by", String(120), nullable=False),
    Column("source", String(32), nullable=False),
    Column("labelled_at", DateTime(timezone=True), nullable=False),
    Column("match_weight", Float),
    Index("ix_dedupe_labels_labelled_at", "labelled_at"),
)


# --- Duplicates inside the CRM ---------------------------------------------------------------
# One proposal per group of CRM contacts the dedupe put in one entity (`crm_merge_proposals`
# asset): the members side by side (JSON, survivor first), the match weight and per-field
# explanation, and the survivor by the configured rule. A person approves or denies it
# (`python -m pipeline crm merges`); approved ones are merged through the CRM's merge endpoint
# by whoever claims them first (the command or the next sync).
crm_merge_proposals = Table(
    "crm_merge_proposals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("backend", String(16), nullable=False),
    Column("entity_id", String(64)),
    # pending -> approved -> merged | failed; pending -> denied | superseded | obsolete
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("survivor_id", String(64), nullable=False),
    Column("members", Text, nullable=False),
    Column("match_weight", Float),
    Column("explanation", Text),
    Column("rule", String(120)),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(120)),
    Column("decided_at", DateTime(timezone=True)),
    Column("reason", Text),
    # The surviving record's id as the merges go (HubSpot may give each merge a new id).
    Column("result_id", String(64)),
    Column("claimed_by", String(120)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("merged_at", DateTime(timezone=True)),
    Column("error", Text),
    Index("ix_crm_merge_proposals_backend_status", "backend", "status"),
)

# Each merge of one member into the survivor, recorded once (a crash between HubSpot's answer
# and this row is found on the next attempt: both ids then read as one record). `how`: sent
# (this attempt merged), found (merged already: recorded now), gone (the member no longer
# exists: nothing to merge).
crm_merge_steps = Table(
    "crm_merge_steps",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("proposal_id", String(32), ForeignKey("crm_merge_proposals.id"), nullable=False),
    Column("backend", String(16), nullable=False),
    Column("primary_id", String(64), nullable=False),
    Column("merged_id", String(64), nullable=False),
    Column("result_id", String(64)),
    Column("how", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64)),
    UniqueConstraint("proposal_id", "merged_id", name="uq_crm_merge_steps_member"),
)
