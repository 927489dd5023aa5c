"""A CRM client from the settings, for commands run outside Dagster (`crm merges approve`):
the same backend the code location's `crm` resource uses."""

from __future__ import annotations

from sqlalchemy import Engine

from pipeline.config import ConfigError, Settings
from pipeline.crm.client import CrmClient, OutboxCrm


def crm_client(settings: Settings, engine: Engine, run_id: str | None = None) -> CrmClient:
    """CRM_BACKEND's client; hubspot without HUBSPOT_ACCESS_TOKEN is a configuration error."""
    if settings.crm_backend != "hubspot":
        return OutboxCrm(engine, run_id)
    if settings.hubspot_access_token is None:
        raise ConfigError("CRM_BACKEND=hubspot needs HUBSPOT_ACCESS_TOKEN (a private app token)")
    from pipeline.crm.hubspot import HubSpotCrm

    return HubSpotCrm(
        settings.hubspot_access_token.get_secret_value(),
        settings.hubspot_base_url,
        requests_per_10s=settings.hubspot_requests_per_10s,
        daily_limit=settings.hubspot_daily_limit,
        engine=engine,
    )
