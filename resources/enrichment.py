"""Where enrichment answers come from: the `EnrichmentProvider` interface and its backends.

`OfflineEnrichment` needs no network and no keys (what `make demo` uses); `WaterfallEnrichment`
runs the configured HTTP providers in their waterfall, with the offline answers as fallbacks
only where the configuration lists them. Which one runs is configuration
(`LEADS_ENRICHMENT=offline|http`), logged at start, never a silent fallback.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable

import polars as pl
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.enrich import (
    OFFLINE_CONFIG,
    EnrichmentReport,
    enrich_leads,
    load_config,
    open_providers,
)


class EnrichmentProvider(ConfigurableResource, ABC):
    default_country: str = Field(
        default="US", description="ISO alpha-2 country for phone numbers without one."
    )

    @abstractmethod
    def describe(self) -> str:
        """One line naming the backend (never a key)."""

    @abstractmethod
    def enrich(
        self, leads: pl.DataFrame, store: Engine, progress: Callable[[str], None]
    ) -> tuple[pl.DataFrame, EnrichmentReport]: ...


class OfflineEnrichment(EnrichmentProvider):
    def describe(self) -> str:
        return "offline enrichment (free-mail/disposable lists, domain, phone country)"

    def enrich(
        self, leads: pl.DataFrame, store: Engine, progress: Callable[[str], None]
    ) -> tuple[pl.DataFrame, EnrichmentReport]:
        return enrich_leads(
            leads,
            OFFLINE_CONFIG,
            {},
            store,
            default_country=self.default_country,
            progress=progress,
        )


class WaterfallEnrichment(EnrichmentProvider):
    config_path: str | None = Field(
        default=None,
        description="Enrichment YAML (providers, waterfall); default: the packaged one.",
    )

    def describe(self) -> str:
        config = load_config(self.config_path)
        return f"HTTP enrichment waterfall: {', '.join(config.http_providers())}"

    def enrich(
        self, leads: pl.DataFrame, store: Engine, progress: Callable[[str], None]
    ) -> tuple[pl.DataFrame, EnrichmentReport]:
        config = load_config(self.config_path)
        providers = open_providers(config)
        try:
            return enrich_leads(
                leads,
                config,
                providers,
                store,
                default_country=self.default_country,
                progress=progress,
            )
        finally:
            for provider in providers.values():
                provider.close()
