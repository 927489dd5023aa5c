"""Receiver configuration from the environment (and `.env`). Secrets stay out of repr()."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pipeline.config import load_settings

DEFAULT_MAX_BODY_BYTES = 1_048_576


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WebhookConfig:
    database_url: str = field(repr=False)
    hubspot_client_secret: str | None = field(default=None, repr=False)
    hubspot_accept_legacy: bool = False
    drive_channel_token: str | None = field(default=None, repr=False)
    drive_channel_ids: frozenset[str] = frozenset()
    email_events_secret: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # HubSpot signs the URL it called; behind a proxy that is not the URL we see.
    public_base_url: str | None = None

    def enabled(self) -> dict[str, bool]:
        return {
            "hubspot": bool(self.hubspot_client_secret),
            "drive": bool(self.drive_channel_token),
            "email": bool(self.email_events_secret),
        }


def load_webhook_config() -> WebhookConfig:
    settings = load_settings()  # also reads .env
    ids = os.environ.get("DRIVE_CHANNEL_IDS", "")
    return WebhookConfig(
        database_url=settings.store_url,
        hubspot_client_secret=os.environ.get("HUBSPOT_CLIENT_SECRET") or None,
        hubspot_accept_legacy=_flag("HUBSPOT_ACCEPT_LEGACY_SIGNATURES"),
        drive_channel_token=os.environ.get("DRIVE_CHANNEL_TOKEN") or None,
        drive_channel_ids=frozenset(i.strip() for i in ids.split(",") if i.strip()),
        email_events_secret=os.environ.get("EMAIL_EVENTS_SECRET") or None,
        max_body_bytes=int(os.environ.get("LEADS_WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        public_base_url=os.environ.get("LEADS_WEBHOOK_PUBLIC_URL") or None,
    )
