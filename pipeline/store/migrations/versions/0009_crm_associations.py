"""CRM sync: which company each contact's association was acknowledged for, ledger hashes
on the vectorized canonical JSON, and a partial index on CRM ids.

`crm_sync_ledger.associated_domain` records the company domain a contact's association was
acknowledged for, so associations can be sent in large batches across contact batches and a
re-run after a crash sends exactly those still missing. Rows written before it are backfilled
from the ledger's own properties (the old sync associated each batch before committing it).

The properties hash is now the SHA-256 of `json.dumps(properties, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`, computed vectorized; the old one escaped
non-ASCII characters. Rows whose hash changes are rehashed here, so no contact is re-sent
only because of the upgrade.

The outbox's payloads are canonical JSON in UTF-8 now too: rows written with escapes are
rewritten (and rehashed), so the same operation planned again is still recognised as planned.

The index on CRM ids covers only rows that have one (outbox rows have none).

Revision ID: 0009_crm_associations
Revises: 0008_dedupe_labels
Create Date: 2026-12-06
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0009_crm_associations"
down_revision = "0008_dedupe_labels"
branch_labels = None
depends_on = None

COMPANY_KEY = "__company"


def upgrade() -> None:
    op.add_column("crm_sync_ledger", sa.Column("associated_domain", sa.String(255)))
    # Only rows with a CRM id are looked up by it: outbox rows (none) stay out of the index.
    op.drop_index("ix_crm_sync_ledger_crm_id", "crm_sync_ledger")
    op.create_index(
        "ix_crm_sync_ledger_crm_id",
        "crm_sync_ledger",
        ["backend", "crm_id"],
        sqlite_where=sa.text("crm_id IS NOT NULL"),
        postgresql_where=sa.text("crm_id IS NOT NULL"),
    )
    conn = op.get_bind()
    ledger = sa.table(
        "crm_sync_ledger",
        sa.column("backend", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("properties", sa.Text),
        sa.column("properties_hash", sa.String),
        sa.column("associated_domain", sa.String),
    )
    companies = sa.table("crm_companies", sa.column("backend"), sa.column("domain"))
    known = {(b, d) for b, d in conn.execute(sa.select(companies.c.backend, companies.c.domain))}
    updates = []
    rows = conn.execute(
        sa.select(
            ledger.c.backend, ledger.c.entity_id, ledger.c.properties, ledger.c.properties_hash
        )
    )
    for backend, entity_id, properties, _old_hash in rows:
        payload = json.loads(properties)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        domain = payload.get(COMPANY_KEY)
        updates.append(
            {
                "b_backend": backend,
                "b_entity_id": entity_id,
                "new_properties": text,
                "new_hash": hashlib.sha256(text.encode()).hexdigest(),
                "domain": domain if (backend, domain) in known else None,
            }
        )
    _outbox_in_utf8(conn)
    if updates:
        conn.execute(
            sa.update(ledger)
            .where(
                ledger.c.backend == sa.bindparam("b_backend"),
                ledger.c.entity_id == sa.bindparam("b_entity_id"),
            )
            .values(
                properties=sa.bindparam("new_properties"),
                properties_hash=sa.bindparam("new_hash"),
                associated_domain=sa.bindparam("domain"),
            ),
            updates,
        )


def _outbox_in_utf8(conn: sa.Connection) -> None:
    outbox = sa.table(
        "crm_outbox",
        sa.column("id", sa.Integer),
        sa.column("payload", sa.Text),
        sa.column("payload_sha256", sa.String),
    )
    escaped = conn.execute(
        sa.select(outbox.c.id, outbox.c.payload).where(outbox.c.payload.like("%\\u%"))
    ).all()
    rows = []
    for row_id, payload in escaped:
        text = json.dumps(
            json.loads(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        if text != payload:
            rows.append(
                {
                    "b_id": row_id,
                    "new_payload": text,
                    "new_sha": hashlib.sha256(text.encode()).hexdigest(),
                }
            )
    if rows:
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == sa.bindparam("b_id"))
            .values(payload=sa.bindparam("new_payload"), payload_sha256=sa.bindparam("new_sha")),
            rows,
        )


def downgrade() -> None:
    op.drop_index("ix_crm_sync_ledger_crm_id", "crm_sync_ledger")
    op.create_index("ix_crm_sync_ledger_crm_id", "crm_sync_ledger", ["backend", "crm_id"])
    with op.batch_alter_table("crm_sync_ledger") as batch:
        batch.drop_column("associated_domain")
