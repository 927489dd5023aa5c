"""Turn a verified request body into inbox events, each with a fingerprint that stays the same
when the sender retries, so a redelivery is recognised as a duplicate.

HubSpot says `eventId` alone is not guaranteed unique, so its fingerprint covers the portal,
subscription type, object, property, occurrence time and event id (not `attemptNumber`, which
changes on every retry).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.store.inbox import InboxEvent
from pipeline.store.sql import sha256_hex

Event = TypeVar("Event", bound=BaseModel)


class MalformedBody(ValueError):
    """The body cannot be taken in; the message says where and is returned with the 400."""


class HubSpotEvent(BaseModel):
    """One element of a HubSpot webhook array (CRM object subscriptions)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event_id: int | str = Field(alias="eventId")
    subscription_type: str = Field(alias="subscriptionType", min_length=1)
    portal_id: int | str = Field(alias="portalId")
    object_id: int | str = Field(alias="objectId")
    occurred_at: int = Field(alias="occurredAt")
    property_name: str | None = Field(default=None, alias="propertyName")
    property_value: Any = Field(default=None, alias="propertyValue")


class EmailEvent(BaseModel):
    """A reply, bounce, complaint or unsubscribe reported by the email side."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    type: Literal["reply", "bounce", "complaint", "unsubscribe"]
    email: str = Field(min_length=3, max_length=320)
    occurred_at: datetime
    message_id: str | None = None


def _fingerprint(*parts: object) -> str:
    return sha256_hex("|".join("" if p is None else str(p) for p in parts))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from None


def _first_error(exc: ValidationError, where: str) -> MalformedBody:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(body)"
    return MalformedBody(f"{where}: field {field!r}: {err['msg']}")


def _validated(items: list[Any], model: type[Event]) -> Iterator[tuple[Any, Event]]:
    """(raw item, validated event) for each item; the first invalid one is named by index."""
    for index, item in enumerate(items):
        try:
            yield item, model.model_validate(item)
        except ValidationError as exc:
            raise _first_error(exc, f"event [{index}]") from None


def _canonical(payload: Any) -> str:
    """The payload as stored: compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def hubspot_events(body: bytes) -> list[InboxEvent]:
    data = _json(body)
    if not isinstance(data, list) or not data:
        raise MalformedBody("HubSpot body must be a non-empty JSON array of events")
    events = []
    for item, event in _validated(data, HubSpotEvent):
        events.append(
            InboxEvent(
                source="hubspot",
                fingerprint=_fingerprint(
                    "hubspot",
                    event.portal_id,
                    event.subscription_type,
                    event.object_id,
                    event.property_name,
                    event.occurred_at,
                    event.event_id,
                ),
                event_type=event.subscription_type,
                object_id=str(event.object_id),
                occurred_at=datetime.fromtimestamp(event.occurred_at / 1000, UTC),
                payload=_canonical(item),
            )
        )
    return events


def drive_event(headers: dict[str, str]) -> InboxEvent | None:
    """A Drive change notification (None for the `sync` handshake, which is only acknowledged).
    The body is empty: the event only says "look for changes"."""
    state = headers.get("x-goog-resource-state", "")
    if not state:
        raise MalformedBody("missing X-Goog-Resource-State")
    if state == "sync":
        return None
    number = headers.get("x-goog-message-number", "")
    if not number.isdigit():
        raise MalformedBody("missing or malformed X-Goog-Message-Number")
    channel = headers["x-goog-channel-id"]
    payload = {
        "channel_id": channel,
        "message_number": int(number),
        "resource_state": state,
        "resource_id": headers.get("x-goog-resource-id"),
        "changed": headers.get("x-goog-changed"),
    }
    return InboxEvent(
        source="drive",
        fingerprint=_fingerprint("drive", channel, number),
        event_type=f"drive.{state}",
        object_id=headers.get("x-goog-resource-id"),
        occurred_at=datetime.now(UTC),
        payload=_canonical(payload),
    )


def email_events(body: bytes) -> list[InboxEvent]:
    data = _json(body)
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        raise MalformedBody("email events body must be an event object or an array of them")
    events = []
    for item, event in _validated(items, EmailEvent):
        events.append(
            InboxEvent(
                source="email",
                fingerprint=_fingerprint("email", event.id),
                event_type=f"email.{event.type}",
                object_id=event.email.strip().lower(),
                occurred_at=event.occurred_at,
                payload=_canonical(item),
            )
        )
    return events
