"""What processing an inbox event means, per source.

The receiver checked signatures and shape; here an event is checked against what this pipeline
knows how to act on. An event it cannot act on raises `EventRejected`, which counts as a failed
attempt and, after the configured number of attempts, lands in the dead-letter table where a
person can look at it and replay it. Later stages register the actions (the CRM sync ledger
consumes HubSpot contact changes; the sequence engine consumes replies, bounces and
unsubscribes) through `HANDLERS`. HubSpot contact changes update the CRM sync ledger; email
unsubscribes, complaints and hard bounces land on the suppression list.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy import Engine

from pipeline.crm.changes import apply_hubspot_event, suppress
from pipeline.outreach.stops import stop_for_email_event
from pipeline.store.inbox import StoredEvent
from pipeline.webhooks.events import EmailEvent, HubSpotEvent

# HubSpot CRM object subscriptions this pipeline consumes (legacy `contact.*` names and the
# developer platform's `object.*` names).
HUBSPOT_EVENT_TYPES = frozenset(
    {
        f"{obj}.{action}"
        for obj in ("contact", "company", "object")
        for action in (
            "creation",
            "deletion",
            "propertyChange",
            "merge",
            "restore",
            "privacyDeletion",
            "associationChange",
        )
    }
)


class EventRejected(Exception):
    """The event cannot be processed as it is; the message names the field and the reason."""


def _payload(event: StoredEvent) -> dict:
    try:
        data = json.loads(event.payload)
    except json.JSONDecodeError as exc:
        raise EventRejected(f"inbox id {event.id}: payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventRejected(f"inbox id {event.id}: payload is not an object")
    return data


def handle_hubspot(engine: Engine, event: StoredEvent) -> str:
    payload = _payload(event)
    try:
        parsed = HubSpotEvent.model_validate(payload)
    except ValidationError as exc:
        raise EventRejected(f"inbox id {event.id}: {exc.errors()[0]['msg']}") from None
    if parsed.subscription_type not in HUBSPOT_EVENT_TYPES:
        raise EventRejected(
            f"inbox id {event.id}: field 'subscriptionType': unsupported "
            f"{parsed.subscription_type!r}"
        )
    return apply_hubspot_event(engine, event.fingerprint, payload)


SUPPRESSING_EMAIL_EVENTS = {"unsubscribe": "unsubscribed", "complaint": "complaint"}


def handle_email(engine: Engine, event: StoredEvent) -> str:
    try:
        parsed = EmailEvent.model_validate(_payload(event))
    except ValidationError as exc:
        raise EventRejected(f"inbox id {event.id}: {exc.errors()[0]['msg']}") from None
    reason = SUPPRESSING_EMAIL_EVENTS.get(parsed.type)
    hard_bounce = (
        parsed.type == "bounce" and (parsed.model_extra or {}).get("bounce_type") != "soft"
    )
    if reason or hard_bounce:
        suppress(engine, parsed.email, reason or "hard_bounce", "email_events")
    # Every reply, bounce, complaint or unsubscribe stops the address's outreach sequences.
    stopped = stop_for_email_event(
        engine, parsed.type, parsed.email, at=parsed.occurred_at, message_id=parsed.message_id
    )
    domain = parsed.email.split("@")[-1]
    done = "suppressed an address" if reason or hard_bounce else "recorded"
    return f"email {parsed.type}: {done} at {domain}; {stopped} sequence enrolment(s) stopped"


HANDLERS: dict[str, Callable[[Engine, StoredEvent], str]] = {
    "hubspot": handle_hubspot,
    "email": handle_email,
}
