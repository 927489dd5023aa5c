"""Changes made on the CRM side, arriving as HubSpot webhook events, applied to the ledger.

A property a person edits in HubSpot is remembered so the next sync leaves it alone (unless
the mapping says the pipeline owns it); a deletion stops the sync from recreating the contact;
a merge done in HubSpot moves the ledger to the surviving id; an opt-out lands on the
suppression list the sequence engine honours. Each event is applied once (its fingerprint).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import crm_contact_changes, crm_sync_ledger, suppression_list

OPT_OUT_PROPERTIES = frozenset({"hs_email_optout", "hs_email_hard_bounce_reason_enum"})
TRUE_VALUES = frozenset({"true", "1", "yes"})


def suppress(engine: Engine, email: str, reason: str, source: str) -> None:
    """Add an address to the suppression list (first reason wins; idempotent)."""
    stmt = dialect_insert(engine, suppression_list).on_conflict_do_nothing(index_elements=["email"])
    with engine.begin() as conn:
        conn.execute(
            stmt,
            {
                "email": email.strip().lower(),
                "reason": reason,
                "source": source,
                "added_at": utcnow(),
            },
        )


def suppressed(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(suppression_list.c.email, suppression_list.c.reason))
        return dict(rows.all())


def _email_for(engine: Engine, crm_id: str) -> str | None:
    t = crm_sync_ledger
    with engine.connect() as conn:
        return conn.execute(
            select(t.c.id_value).where(t.c.backend == "hubspot", t.c.crm_id == crm_id).limit(1)
        ).scalar()


def apply_hubspot_event(engine: Engine, fingerprint: str, event: dict[str, Any]) -> str:
    """Record one HubSpot contact event; returns what it did, for the run log."""
    kind = str(event.get("subscriptionType", ""))
    obj, _, action = kind.partition(".")
    if obj not in ("contact", "object") or (
        obj == "object" and event.get("objectTypeId") not in (None, "0-1")
    ):
        return f"ignored {kind}"
    crm_id = str(event["objectId"])
    occurred = datetime.fromtimestamp(int(event.get("occurredAt", 0)) / 1000, UTC)
    change, prop, value = action, event.get("propertyName"), event.get("propertyValue")
    if action == "propertyChange":
        change = "property"
    row = {
        "event_fingerprint": fingerprint,
        "crm_id": crm_id,
        "change": change[:32],
        "property": prop,
        "value": None if value is None else str(value),
        "change_source": event.get("changeSource"),
        "occurred_at": occurred,
    }
    insert = dialect_insert(engine, crm_contact_changes).on_conflict_do_nothing(
        index_elements=["event_fingerprint"]
    )
    t = crm_sync_ledger
    with engine.begin() as conn:
        if conn.execute(insert, row).rowcount == 0:
            return f"already applied {kind} for {crm_id}"
        if action == "deletion" or action == "privacyDeletion":
            conn.execute(
                update(t)
                .where(t.c.backend == "hubspot", t.c.crm_id == crm_id)
                .values(status="deleted", synced_at=utcnow())
            )
        elif action == "merge":
            survivor = str(event.get("primaryObjectId") or event.get("newObjectId") or crm_id)
            merged = [str(i) for i in event.get("mergedObjectIds") or []]
            conn.execute(
                update(t)
                .where(t.c.backend == "hubspot", t.c.crm_id.in_(merged))
                .values(crm_id=survivor, synced_at=utcnow())
            )
        elif action == "restore":
            conn.execute(
                update(t)
                .where(t.c.backend == "hubspot", t.c.crm_id == crm_id, t.c.status == "deleted")
                .values(status="synced", synced_at=utcnow())
            )
    if change == "property" and prop in OPT_OUT_PROPERTIES and str(value).lower() in TRUE_VALUES:
        email = _email_for(engine, crm_id)
        if email:
            suppress(engine, email, "unsubscribed", "hubspot")
    return f"recorded {change} {prop or ''} for contact {crm_id}".strip()
