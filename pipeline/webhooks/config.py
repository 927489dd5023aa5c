"""Receiver configuration from the environment (and `.env`). Secrets stay out of repr()."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from pipeline.config import load_settings

DEFAULT_MAX_BODY_BYTES = 1_048_576


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
    # Signs unsubscribe links (None: the key kept in the operational store).
    unsubscribe_secret: str | None = field(default=None, repr=False)

    def enabled(self) -> dict[str, bool]:
        return {
            "hubspot": bool(self.hubspot_client_secret),
            "drive": bool(self.drive_channel_token),
            "email": bool(self.email_events_secret),
            # Form submissions for the prospecting agent, signed like HubSpot's webhooks.
            "forms": bool(self.hubspot_client_secret),
        }


def load_webhook_config() -> WebhookConfig:
    """The receiver's part of the settings (validated with the rest in pipeline.config)."""
    settings = load_settings()

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    return WebhookConfig(
        database_url=settings.store_url,
        hubspot_client_secret=secret(settings.hubspot_client_secret),
        hubspot_accept_legacy=settings.hubspot_accept_legacy_signatures,
        drive_channel_token=secret(settings.drive_channel_token),
        drive_channel_ids=settings.drive_channel_ids,
        email_events_secret=secret(settings.email_events_secret),
        max_body_bytes=settings.webhook_max_body_bytes,
        public_base_url=settings.webhook_public_url,
        unsubscribe_secret=secret(settings.unsubscribe_secret),
    )
