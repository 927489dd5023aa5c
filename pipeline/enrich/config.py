"""Enrichment configuration: the providers (endpoints, keys, limits, field mappings) and the
waterfall (which providers answer which field, in order). YAML, validated with clear errors.

Keys are never in the file: each provider names the environment variable that holds its key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.enrich.offline import OFFLINE, OFFLINE_FIELDS

DEFAULT_CONFIG = Path(__file__).with_name("enrichment.yaml")

# What each kind of HTTP provider can answer, and the lookup input it needs.
KIND_FIELDS = {
    "email_finder": ("email", "email_verification", "email_confidence"),
    "company": (
        "company",
        "industry",
        "employee_range",
        "revenue_range",
        "hq_country",
        "technologies",
    ),
}


class ConfigError(ValueError):
    """The enrichment configuration is unusable; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateLimit(_Strict):
    requests: int = Field(gt=0)
    per_seconds: float = Field(gt=0)


class Budget(_Strict):
    per_run: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)


class Breaker(_Strict):
    fail_max: int = Field(default=5, gt=0)
    reset_seconds: float = Field(default=60, gt=0)


class ProviderConfig(_Strict):
    kind: Literal["email_finder", "company"]
    base_url: str
    path: str | None = None
    api_key_env: str
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    rate: RateLimit
    timeout_seconds: float = Field(default=10, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    max_backoff_seconds: float = Field(default=30, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    ttl_days: float = Field(default=30, gt=0)
    paid: bool = True
    budget: Budget = Budget()
    breaker: Breaker = Breaker()
    # our field -> dotted path in the vendor's JSON answer
    field_map: dict[str, str]

    @model_validator(mode="after")
    def _known_fields(self) -> ProviderConfig:
        allowed = KIND_FIELDS[self.kind]
        unknown = sorted(set(self.field_map) - set(allowed))
        if unknown:
            raise ValueError(
                f"field_map has fields a {self.kind} provider cannot answer: {unknown} "
                f"(allowed: {list(allowed)})"
            )
        return self


class EnrichmentConfig(_Strict):
    providers: dict[str, ProviderConfig] = {}
    waterfall: dict[str, list[str]]

    @model_validator(mode="after")
    def _waterfall_names_known_providers(self) -> EnrichmentConfig:
        for field, names in self.waterfall.items():
            for name in names:
                if name == OFFLINE:
                    if field not in OFFLINE_FIELDS:
                        raise ValueError(
                            f"waterfall.{field}: the offline provider only answers "
                            f"{list(OFFLINE_FIELDS)}"
                        )
                    continue
                if name not in self.providers:
                    raise ValueError(f"waterfall.{field}: unknown provider {name!r}")
                if field not in self.providers[name].field_map:
                    raise ValueError(
                        f"waterfall.{field}: provider {name!r} has no field_map entry for it"
                    )
        return self

    def http_providers(self) -> list[str]:
        """HTTP providers used by the waterfall, in the order they are first needed."""
        order: list[str] = []
        for names in self.waterfall.values():
            for name in names:
                if name != OFFLINE and name not in order:
                    order.append(name)
        return order


def load_config(path: str | Path | None = None) -> EnrichmentConfig:
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: enrichment config not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return EnrichmentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {where + ': ' if where else ''}{message}") from None


def api_key(name: str, provider: ProviderConfig) -> str:
    """The provider's key from the environment; missing is a configuration error, never a
    silent fall back to offline enrichment."""
    key = os.environ.get(provider.api_key_env, "").strip()
    if not key:
        raise ConfigError(
            f"enrichment provider {name!r} needs its API key in ${provider.api_key_env}"
        )
    return key
