"""What processing an inbox event means, per source.

The receiver checked signatures and shape; here an event is checked against what this pipeline
knows how to act on. An event it cannot act on raises `EventRejected`, which counts as a failed
attempt and, after the configured number of attempts, lands in the dead-letter table where a
person can look at it and replay it. Later stages register the actions (the CRM sync ledger
consumes HubSpot contact changes; the sequence engine consumes replies, bounces and
unsubscribes) through `HANDLERS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import ValidationError

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


def handle_hubspot(event: StoredEvent) -> str:
    try:
        parsed = HubSpotEvent.model_validate(_payload(event))
    except ValidationError as exc:
        raise EventRejected(f"inbox id {event.id}: {exc.errors()[0]['msg']}") from None
    if parsed.subscription_type not in HUBSPOT_EVENT_TYPES:
        raise EventRejected(
            f"inbox id {event.id}: field 'subscriptionType': unsupported "
            f"{parsed.subscription_type!r}"
        )
    return f"hubspot {parsed.subscription_type} for object {parsed.object_id}"


def handle_email(event: StoredEvent) -> str:
    try:
        parsed = EmailEvent.model_validate(_payload(event))
    except ValidationError as exc:
        raise EventRejected(f"inbox id {event.id}: {exc.errors()[0]['msg']}") from None
    return f"email {parsed.type} for {parsed.email.split('@')[-1]}"


HANDLERS: dict[str, Callable[[StoredEvent], str]] = {
    "hubspot": handle_hubspot,
    "email": handle_email,
}
