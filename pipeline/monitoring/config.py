"""The three YAML files people write for monitoring, validated once with errors naming the
file and the key (`notify.yaml: users[0].time_zone: 'Berlin' is not an IANA time zone`).

- MONITORING_ACCOUNTS: extra accounts (or more names for CRM accounts, by domain), exclusions,
  owner rules, matching settings.
- MONITORING_SOURCES: where news comes from (a folder of feed files, RSS/Atom URLs, a
  NewsAPI-style search, Google Programmable Search).
- NOTIFY_PREFERENCES: who hears about what, how often, at which local hour.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.config import PROJECT_ROOT, ConfigError
from pipeline.email.message import AddressError, bare_address
from pipeline.yaml_files import M, read_yaml, validate
from pipeline.yaml_files import label as file_label

HERE = Path(__file__).resolve().parent
DEFAULT_ACCOUNTS = HERE / "accounts.yaml"
DEFAULT_SOURCES = HERE / "sources.yaml"
DEFAULT_PREFERENCES = HERE / "notify.yaml"
DEFAULT_RULES = HERE / "rules.yaml"

CATEGORIES = (
    "funding",
    "leadership_change",
    "m_and_a",
    "product_launch",
    "layoffs",
    "legal",
    "partnership",
    "earnings",
    "other",
)
CATEGORY_LABELS = {
    "funding": "Funding",
    "leadership_change": "Leadership change",
    "m_and_a": "M&A",
    "product_launch": "Product launch",
    "layoffs": "Layoffs",
    "legal": "Legal",
    "partnership": "Partnership",
    "earnings": "Earnings",
    "other": "Other",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class MonitoringConfigError(ConfigError):
    """A monitoring YAML file is wrong; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _domain(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower().removeprefix("www.")
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", value):
        raise ValueError(f"{value!r} is not a domain (e.g. acme.com)")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return value


# --- MONITORING_ACCOUNTS ---------------------------------------------------------------------
class Subsidiary(_Strict):
    name: str = Field(min_length=1)
    domain: str | None = None
    aliases: list[str] = Field(default_factory=list)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        return _domain(value)


class AccountEntry(_Strict):
    """An extra account, or (same domain as a CRM account) more about that account."""

    name: str | None = None
    domain: str | None = None
    aliases: list[str] = Field(default_factory=list)
    owner: str | None = None
    country: str | None = None
    # Words that, near a bare common-word name ("Apple"), show the text is about the company.
    context: list[str] = Field(default_factory=list)
    # Phrases that never mean the account ("apple pie"): an item holding one is not matched
    # on the name alone.
    exclude: list[str] = Field(default_factory=list)
    subsidiaries: list[Subsidiary] = Field(default_factory=list)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        return _domain(value)

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return value.strip().lower() if value else value


class Exclusion(_Strict):
    domain: str | None = None
    name: str | None = None

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        return _domain(value)


class Territory(_Strict):
    owner: str
    countries: list[str]

    @field_validator("countries", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted NO (Norway) as false.
        if isinstance(value, list):
            return [
                ("NO" if v is False else v.strip().upper() if isinstance(v, str) else v)
                for v in value
            ]
        return value


class Owners(_Strict):
    # The CRM's owner ids (HubSpot `hubspot_owner_id`) to the owner's email.
    crm_owner_ids: dict[str, str] = Field(default_factory=dict)
    crm_owner_property: str = "hubspot_owner_id"
    # Who owns an account the CRM gives no owner, by the account's country.
    territories: list[Territory] = Field(default_factory=list)
    default: str | None = None


class Matching(_Strict):
    # A name token is a common word when its Zipf frequency (wordfreq: 3 = once per million
    # words) reaches this in any of `languages`.
    common_word_zipf: float = Field(2.0, ge=0, le=8)
    languages: list[str] = Field(default_factory=lambda: ["en", "de", "fr", "es", "nl"])
    # Names this short (in letters) are matched case-sensitively and need context.
    short_name_length: int = Field(3, ge=1, le=10)


class AccountsFile(_Strict):
    accounts: list[AccountEntry] = Field(default_factory=list)
    exclude: list[Exclusion] = Field(default_factory=list)
    owners: Owners = Field(default_factory=Owners)
    matching: Matching = Field(default_factory=Matching)


# --- MONITORING_SOURCES ----------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")


def parse_duration(value: str | int | None) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, int):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30m, 6h or 1d")
    n, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: n})


class Source(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    type: Literal["folder", "rss", "newsapi", "google_cse"]
    enabled: bool = True
    path: str | None = None  # folder
    url: str | None = None  # rss
    base_url: str | None = None  # newsapi, google_cse: another API host (a proxy, a test)
    # Dates written without a zone are read in this zone.
    timezone: str = "UTC"
    # Live refreshes fetch this source at most this often (backfills always fetch).
    every: str | None = None
    # Search APIs: how far back a live refresh asks, pages per query, names per query.
    lookback_days: int = Field(1, ge=0, le=30)
    max_pages: int = Field(3, ge=1, le=100)
    page_size: int = Field(100, ge=1, le=100)
    query_max_chars: int = Field(480, ge=50, le=2000)
    language: str | None = None
    # Requests one run may make (paid APIs); the rest of the accounts wait for the next run.
    max_requests_per_run: int | None = Field(None, ge=1)
    # Retries on 429/5xx/timeouts, with backoff that honours Retry-After.
    max_attempts: int = Field(4, ge=1, le=10)
    max_backoff_seconds: float = Field(30.0, gt=0)
    timeout_seconds: float = Field(20.0, gt=0)
    # Every item of this source is about these accounts (a company's own newsroom feed).
    accounts: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        return _zone(value)

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        parse_duration(value)
        return value

    @property
    def interval(self) -> timedelta | None:
        return parse_duration(self.every)

    @property
    def paid(self) -> bool:
        return self.type in ("newsapi", "google_cse")

    def folder(self) -> Path:
        assert self.path is not None
        path = Path(self.path).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path


class SourcesFile(_Strict):
    sources: list[Source] = Field(min_length=1)


# --- NOTIFY_PREFERENCES ----------------------------------------------------------------------
class Defaults(_Strict):
    relevance_threshold: float = Field(0.5, ge=0, le=1)
    digest_hour: int = Field(8, ge=0, le=23)
    weekly_day: str = "monday"
    send_empty: bool = False
    max_items: int = Field(50, ge=1, le=1000)
    # Instant alerts only for news published this recently (a backfill is not "news").
    alert_max_age_hours: int = Field(72, ge=1)

    @field_validator("weekly_day")
    @classmethod
    def _day(cls, value: str) -> str:
        return _weekday(value)


def _weekday(value: str) -> str:
    day = value.strip().lower()
    match = [d for d in WEEKDAYS if d.startswith(day[:3])] if len(day) >= 3 else []
    if not match:
        raise ValueError(f"{value!r} is not a weekday (monday ... sunday)")
    return match[0]


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    email: str
    time_zone: str = "UTC"
    frequency: Literal["instant", "daily", "weekly"] = "daily"
    relevance_threshold: float | None = Field(None, ge=0, le=1)
    categories: list[str] | None = None  # None: every category
    # owned (the accounts the CRM or the owner rules give this user) | all | [domains]
    accounts: Literal["owned", "all"] | list[str] = "owned"
    # The owner ids/addresses that mean this user, beside the email (CRM owner ids).
    owner_ids: list[str] = Field(default_factory=list)
    digest_hour: int | None = Field(None, ge=0, le=23)
    weekly_day: str | None = None
    send_empty: bool | None = None
    max_items: int | None = Field(None, ge=1, le=1000)
    alert_max_age_hours: int | None = Field(None, ge=1)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return bare_address(value)
        except AddressError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        return _zone(value)

    @field_validator("frequency", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        ids = [c.strip().lower() for c in value]
        unknown = [c for c in ids if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categor(y/ies) {unknown}; use {', '.join(CATEGORIES)}")
        return ids

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower()
        if isinstance(value, list):
            return [_domain(str(v)) for v in value]
        return value

    @field_validator("weekly_day")
    @classmethod
    def _day(cls, value: str | None) -> str | None:
        return _weekday(value) if value is not None else None


class Preference(BaseModel):
    """A user with the file's defaults filled in: what the notifier works with."""

    model_config = ConfigDict(frozen=True)

    name: str
    email: str
    time_zone: str
    frequency: str
    relevance_threshold: float
    categories: tuple[str, ...] | None
    accounts: str | tuple[str, ...]
    owner_ids: tuple[str, ...]
    digest_hour: int
    weekly_day: str
    send_empty: bool
    max_items: int
    alert_max_age_hours: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def owner_keys(self) -> frozenset[str]:
        return frozenset({self.email, *(o.strip().lower() for o in self.owner_ids)})

    def describe_filters(self) -> str:
        cats = (
            ", ".join(CATEGORY_LABELS[c] for c in self.categories)
            if self.categories
            else "every category"
        )
        if self.accounts == "owned":
            accounts = "the accounts you own"
        elif self.accounts == "all":
            accounts = "every monitored account"
        else:
            accounts = ", ".join(self.accounts)
        return f"relevance at least {self.relevance_threshold:.2f}; {cats}; {accounts}"


class PreferencesFile(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    users: list[User] = Field(default_factory=list)

    def preferences(self) -> list[Preference]:
        d = self.defaults
        out = []
        for u in self.users:
            out.append(
                Preference(
                    name=u.name,
                    email=u.email,
                    time_zone=u.time_zone,
                    frequency=u.frequency,
                    relevance_threshold=(
                        u.relevance_threshold
                        if u.relevance_threshold is not None
                        else d.relevance_threshold
                    ),
                    categories=tuple(u.categories) if u.categories is not None else None,
                    accounts=u.accounts if isinstance(u.accounts, str) else tuple(u.accounts),
                    owner_ids=tuple(u.owner_ids),
                    digest_hour=u.digest_hour if u.digest_hour is not None else d.digest_hour,
                    weekly_day=u.weekly_day or d.weekly_day,
                    send_empty=u.send_empty if u.send_empty is not None else d.send_empty,
                    max_items=u.max_items or d.max_items,
                    alert_max_age_hours=u.alert_max_age_hours or d.alert_max_age_hours,
                )
            )
        return out


# --- loading ---------------------------------------------------------------------------------
def _read(path: Path, variable: str) -> Any:
    return read_yaml(path, variable, MonitoringConfigError)


def _parse(model: type[M], data: Any, source: str) -> M:
    return validate(model, data, source, MonitoringConfigError)


def load_accounts_file(path: str | Path | None = None) -> AccountsFile:
    file, label = file_label(path, DEFAULT_ACCOUNTS)
    parsed: AccountsFile = _parse(AccountsFile, _read(file, "MONITORING_ACCOUNTS"), label)
    for i, entry in enumerate(parsed.accounts):
        if not entry.name and not entry.domain:
            raise MonitoringConfigError(f"{label}: accounts[{i}]: give a name, a domain or both")
    return parsed


def load_sources(path: str | Path | None = None) -> SourcesFile:
    file, label = file_label(path, DEFAULT_SOURCES)
    parsed: SourcesFile = _parse(SourcesFile, _read(file, "MONITORING_SOURCES"), label)
    seen: dict[str, int] = {}
    for i, source in enumerate(parsed.sources):
        where = f"{label}: sources[{i}]"
        if source.name in seen:
            raise MonitoringConfigError(
                f"{where}.name: {source.name!r} is also sources[{seen[source.name]}]'s name"
            )
        seen[source.name] = i
        if source.type == "folder" and not source.path:
            raise MonitoringConfigError(f"{where}.path: a folder source needs a path")
        if source.type == "folder" and not source.folder().is_dir():
            raise MonitoringConfigError(f"{where}.path: no such folder: {source.folder()}")
        if source.type == "rss" and not (source.url or "").startswith(("http://", "https://")):
            raise MonitoringConfigError(f"{where}.url: an rss source needs an http(s) url")
    return parsed


def load_preferences(path: str | Path | None = None) -> PreferencesFile:
    file, label = file_label(path, DEFAULT_PREFERENCES)
    parsed: PreferencesFile = _parse(PreferencesFile, _read(file, "NOTIFY_PREFERENCES"), label)
    seen: dict[str, int] = {}
    for i, user in enumerate(parsed.users):
        if user.email in seen:
            raise MonitoringConfigError(
                f"{label}: users[{i}].email: {user.email} is also users[{seen[user.email]}]'s"
            )
        seen[user.email] = i
    return parsed
