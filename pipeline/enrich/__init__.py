"""Enrichment: an offline provider, HTTP providers, and the waterfall that combines them."""

from __future__ import annotations

from pipeline.enrich.config import (
    ConfigError,
    EnrichmentConfig,
    ProviderConfig,
    api_key,
    load_config,
)
from pipeline.enrich.http_provider import HttpProvider
from pipeline.enrich.offline import OFFLINE, OFFLINE_FIELDS
from pipeline.enrich.waterfall import EnrichmentReport, enrich_leads

# Offline only: what `make demo` runs, with no network and no keys.
OFFLINE_CONFIG = EnrichmentConfig(waterfall={f: [OFFLINE] for f in OFFLINE_FIELDS})


def open_providers(config: EnrichmentConfig) -> dict[str, HttpProvider]:
    """HTTP providers the waterfall uses, with their keys from the environment (a missing key
    is a ConfigError before any call is made)."""
    return {
        name: HttpProvider(name, config.providers[name], api_key(name, config.providers[name]))
        for name in config.http_providers()
    }


__all__ = [
    "OFFLINE_CONFIG",
    "ConfigError",
    "EnrichmentConfig",
    "EnrichmentReport",
    "HttpProvider",
    "ProviderConfig",
    "enrich_leads",
    "load_config",
    "open_providers",
]
