"""Settings read from the environment (and `.env`), validated in one place.

Every setting has one environment variable; a bad value fails at start with an error that
names the variable, the value (never a secret's) and what is expected, instead of a bare
`ValueError` from deep inside a run.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import pycountry
from dotenv import load_dotenv
from pydantic import (
    AfterValidator,
    ByteSize,
    Field,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Cells longer than Excel can hold are not lead data; a file holding one is quarantined.
DEFAULT_MAX_FIELD_CHARS = 32_767


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable to fix."""


def _existing_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


# A Drive folder id, alone or inside the URL a browser shows (`.../folders/<id>?usp=sharing`).
_DRIVE_ID = re.compile(r"[A-Za-z0-9_-]{10,}")
_DRIVE_FOLDER_URL = re.compile(r"/folders/([A-Za-z0-9_-]+)|[?&]id=([A-Za-z0-9_-]+)")


def _drive_folder_id(part: str) -> str:
    part = part.strip()
    url = _DRIVE_FOLDER_URL.search(part) if "/" in part or "?" in part else None
    folder = next(g for g in url.groups() if g) if url else part
    if not _DRIVE_ID.fullmatch(folder):
        raise ValueError(
            f"{part!r} is not a Drive folder id (the part after /folders/ in the folder's URL)"
        )
    return folder


def _country(code: str) -> str:
    code = code.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("expected an ISO 3166 alpha-2 country code such as US, GB or DE")
    return code


ExistingFile = Annotated[Path | None, AfterValidator(_existing_file)]


class Settings(BaseSettings):
    """Paths, backends and limits; the alias of each field is its environment variable."""

    model_config = SettingsConfigDict(
        frozen=True,
        populate_by_name=True,
        env_ignore_empty=True,  # VAR= in .env means "use the default", not "empty"
        extra="ignore",
        case_sensitive=True,
    )

    data_dir: Path = Field(PROJECT_ROOT / ".data", alias="LEADS_DATA_DIR")
    # Where lead files come from: a watched folder (default) or Google Drive.
    lead_source: Literal["folder", "drive"] = Field("folder", alias="LEADS_SOURCE")
    source_dir: Path = Field(PROJECT_ROOT / "data" / "sample_drive", alias="LEADS_SOURCE_DIR")
    default_country: Annotated[str, AfterValidator(_country)] = Field(
        "US", alias="LEADS_DEFAULT_COUNTRY"
    )
    header_aliases: ExistingFile = Field(None, alias="LEADS_HEADER_ALIASES")
    # First arrival-day partition; unset: the oldest file's day (see assets/partitions.py).
    partition_start: date | None = Field(None, alias="LEADS_PARTITION_START")
    # leads: every sheet whose header maps to lead fields; first: the first sheet; all: all.
    excel_sheets: Literal["leads", "first", "all"] = Field("leads", alias="LEADS_EXCEL_SHEETS")
    max_file_bytes: ByteSize = Field(ByteSize(256 * 2**20), alias="LEADS_MAX_FILE_BYTES")
    max_uncompressed_bytes: ByteSize = Field(ByteSize(2**30), alias="LEADS_MAX_UNCOMPRESSED_BYTES")
    max_field_chars: PositiveInt = Field(DEFAULT_MAX_FIELD_CHARS, alias="LEADS_MAX_FIELD_CHARS")
    # The operational store; may carry a password, so it is kept out of repr() and logged
    # only through `pipeline.store.redact_url`.
    database_url: str | None = Field(None, alias="LEADS_DATABASE_URL", repr=False)
    webhook_max_attempts: PositiveInt = Field(5, alias="LEADS_WEBHOOK_MAX_ATTEMPTS")
    webhook_max_body_bytes: PositiveInt = Field(1_048_576, alias="LEADS_WEBHOOK_MAX_BODY_BYTES")
    webhook_public_url: str | None = Field(None, alias="LEADS_WEBHOOK_PUBLIC_URL")
    hubspot_client_secret: SecretStr | None = Field(None, alias="HUBSPOT_CLIENT_SECRET")
    hubspot_accept_legacy_signatures: bool = Field(False, alias="HUBSPOT_ACCEPT_LEGACY_SIGNATURES")
    drive_channel_token: SecretStr | None = Field(None, alias="DRIVE_CHANNEL_TOKEN")
    drive_channel_ids: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), alias="DRIVE_CHANNEL_IDS"
    )
    email_events_secret: SecretStr | None = Field(None, alias="EMAIL_EVENTS_SECRET")
    enrichment: Literal["offline", "http"] = Field("offline", alias="LEADS_ENRICHMENT")
    enrichment_config: ExistingFile = Field(None, alias="LEADS_ENRICHMENT_CONFIG")
    icp: ExistingFile = Field(None, alias="LEADS_ICP")
    crm_backend: Literal["outbox", "hubspot"] = Field("outbox", alias="CRM_BACKEND")
    # Read as an EnvVar by the CRM resource, so the UI shows the name, never the token.
    hubspot_access_token: SecretStr | None = Field(None, alias="HUBSPOT_ACCESS_TOKEN")
    hubspot_base_url: str | None = Field(None, alias="HUBSPOT_BASE_URL")
    hubspot_requests_per_10s: PositiveInt = Field(100, alias="HUBSPOT_REQUESTS_PER_10S")
    hubspot_daily_limit: PositiveInt | None = Field(None, alias="HUBSPOT_DAILY_LIMIT")
    crm_mapping: ExistingFile = Field(None, alias="CRM_MAPPING")
    crm_max_rejected_rate: float = Field(0.05, ge=0, le=1, alias="CRM_MAX_REJECTED_RATE")
    # false: crm_contacts waits for a person (or a schedule) instead of following new scores.
    crm_auto_sync: bool = Field(True, alias="CRM_AUTO_SYNC")
    # The CRM as a source (crm_records): a HubSpot contacts export (the CSV a portal exports),
    # read instead of the portal itself; with CRM_BACKEND=hubspot and no file, the portal is
    # read through its API. Optional: the companies export of the same portal.
    crm_import_file: ExistingFile = Field(None, alias="CRM_IMPORT_FILE")
    crm_import_companies_file: ExistingFile = Field(None, alias="CRM_IMPORT_COMPANIES_FILE")
    # When crm_records reads what changed in the CRM (cron, UTC; it also runs once when missing).
    crm_import_cron: str = Field("0 * * * *", alias="CRM_IMPORT_CRON")
    # The record a merge of duplicates inside the CRM keeps: criteria in order, each deciding
    # only where the ones before it tie (then the lowest record id).
    crm_merge_survivor: Annotated[tuple[str, ...], NoDecode] = Field(
        ("oldest", "owner_set", "most_complete"), alias="CRM_MERGE_SURVIVOR"
    )
    # The SQL models (dbt_like_sql/): each .sql file below it is one asset in group marts.
    sql_models_dir: Path = Field(PROJECT_ROOT / "dbt_like_sql", alias="LEADS_SQL_MODELS")

    # Every Google backend (Drive, Gmail, Calendar): a service account key file, the user it
    # acts as through domain-wide delegation, and the API root (tests point it elsewhere).
    google_application_credentials: ExistingFile = Field(
        None, alias="GOOGLE_APPLICATION_CREDENTIALS"
    )
    google_impersonate: str | None = Field(None, alias="GOOGLE_IMPERSONATE")
    google_api_base_url: str | None = Field(None, alias="GOOGLE_API_BASE_URL")

    # Email (pipeline/email): where messages go, and whether anything may leave at all.
    # draft_only (default): drafts only, nothing is ever sent; approval: a person approves each
    # message (`python -m pipeline outreach approve`); auto: sent when due (logged at start).
    email_backend: Literal["outbox", "smtp", "gmail"] = Field("outbox", alias="EMAIL_BACKEND")
    email_send_mode: Literal["draft_only", "approval", "auto"] = Field(
        "draft_only", alias="EMAIL_SEND_MODE"
    )
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, ge=1, le=65535, alias="SMTP_PORT")
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(True, alias="SMTP_STARTTLS")
    smtp_timeout_seconds: float = Field(30.0, gt=0, alias="SMTP_TIMEOUT_SECONDS")
    # An OAuth user token file for Gmail when there is no service account (the token's user is
    # the only mailbox it can act for).
    gmail_oauth_token_file: ExistingFile = Field(None, alias="GMAIL_OAUTH_TOKEN_FILE")
    # Signs unsubscribe links; unset, a key generated once is kept in the operational store
    # (shared by the receiver and the sequence tick).
    unsubscribe_secret: SecretStr | None = Field(None, alias="UNSUBSCRIBE_SECRET")
    # Outreach sequences (pipeline/outreach): who enrols, the steps, windows, caps.
    sequences_config: ExistingFile = Field(None, alias="SEQUENCES_CONFIG")

    # The Drive backend of the lead source (LEADS_SOURCE=drive): the folders it watches
    # (subfolders included), an OAuth user token file instead of the service account, and how
    # often the file-arrival sensor reads Drive's change feed when no push notification woke
    # it (pipeline/drive/).
    drive_folder_ids: Annotated[tuple[str, ...], NoDecode] = Field((), alias="DRIVE_FOLDER_IDS")
    drive_oauth_token_file: ExistingFile = Field(None, alias="DRIVE_OAUTH_TOKEN_FILE")
    drive_poll_seconds: PositiveInt = Field(60, alias="DRIVE_POLL_SECONDS")
    # Client monitoring (pipeline/monitoring): accounts to watch, news sources, who hears what.
    # Unset files mean the shipped samples in pipeline/monitoring/ (what `make demo` uses).
    monitoring_accounts: ExistingFile = Field(None, alias="MONITORING_ACCOUNTS")
    monitoring_sources: ExistingFile = Field(None, alias="MONITORING_SOURCES")
    notify_preferences: ExistingFile = Field(None, alias="NOTIFY_PREFERENCES")
    # The rules classifier's keyword and pattern rules (default pipeline/monitoring/rules.yaml).
    monitoring_rules: ExistingFile = Field(None, alias="MONITORING_RULES")
    # rules: offline keyword/pattern rules; llm: the project's LLM resource (pipeline/llm).
    monitoring_classifier: Literal["rules", "llm"] = Field("rules", alias="MONITORING_CLASSIFIER")
    news_api_key: SecretStr | None = Field(None, alias="NEWS_API_KEY")
    google_cse_key: SecretStr | None = Field(None, alias="GOOGLE_CSE_KEY")
    google_cse_id: str | None = Field(None, alias="GOOGLE_CSE_ID")
    # Consecutive failed runs after which a monitoring schedule pauses itself.
    monitoring_max_failures: PositiveInt = Field(5, alias="MONITORING_MAX_FAILURES")
    # Who hears that a schedule paused itself (unset: the audit log, the run log and a failed
    # check only), and the From of every digest, alert and admin message.
    monitoring_admin_email: str | None = Field(None, alias="MONITORING_ADMIN_EMAIL")
    monitoring_sender: str = Field(
        "Account monitoring <monitoring@lead-pipeline.localhost>", alias="MONITORING_SENDER"
    )
    # The monitoring_refresh schedule (cron, UTC): fetch, match, classify.
    monitoring_refresh_cron: str = Field("0 * * * *", alias="MONITORING_REFRESH_CRON")
    # First news-day partition; unset: 30 days back, or the oldest day in the feed folders.
    monitoring_partition_start: date | None = Field(None, alias="MONITORING_PARTITION_START")
    # The LLM (pipeline/llm): `template` writes without a model; `openai` uses the official
    # client against any OpenAI-compatible server. Chosen explicitly, never a silent fallback.
    llm_backend: Literal["template", "openai"] = Field("template", alias="LLM_BACKEND")
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    llm_model: str = Field("gpt-4o-mini", min_length=1, alias="LLM_MODEL")
    # Tokens (prompt + answer) all LLM calls of a UTC day may use together; spent, calls stop
    # cleanly until tomorrow.
    llm_daily_token_budget: PositiveInt | None = Field(200_000, alias="LLM_DAILY_TOKEN_BUDGET")
    # How the server is asked for JSON: json_schema (response_format), tools (a function
    # call) or json_object (the schema in the instructions), for servers that lack the first.
    llm_structured_output: Literal["json_schema", "tools", "json_object"] = Field(
        "json_schema", alias="LLM_STRUCTURED_OUTPUT"
    )
    llm_timeout_seconds: float = Field(60.0, gt=0, alias="LLM_TIMEOUT_SECONDS")
    llm_max_retries: int = Field(3, ge=0, le=10, alias="LLM_MAX_RETRIES")
    # USD per million tokens, for the cost in the audit log (known OpenAI models have defaults).
    llm_price_input_per_mtok: float | None = Field(None, ge=0, alias="LLM_PRICE_INPUT_PER_MTOK")
    llm_price_output_per_mtok: float | None = Field(None, ge=0, alias="LLM_PRICE_OUTPUT_PER_MTOK")

    # The prospecting agent (pipeline/agent): its YAML (owner, our side, slot and message
    # rules), where mail history and busy times come from.
    agent_config: ExistingFile = Field(None, alias="AGENT_CONFIG")
    mail_history_backend: Literal["local", "gmail"] = Field("local", alias="MAIL_HISTORY_BACKEND")
    # local: a folder of .eml files or an mbox; unset, the agent has no mail history.
    mail_archive: Path | None = Field(None, alias="MAIL_ARCHIVE")
    calendar_backend: Literal["ics", "google"] = Field("ics", alias="CALENDAR_BACKEND")
    # ics: the owner's busy times; unset, drafts propose no times (nothing to check them by).
    calendar_ics: ExistingFile = Field(None, alias="CALENDAR_ICS")

    @field_validator(
        "mail_history_backend",
        "calendar_backend",
        "llm_backend",
        "llm_structured_output",
        "enrichment",
        "crm_backend",
        "excel_sheets",
        "lead_source",
        "email_backend",
        "email_send_mode",
        "monitoring_classifier",
        mode="before",
    )
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("crm_merge_survivor", mode="before")
    @classmethod
    def _survivor_rule(cls, value: Any) -> Any:
        from pipeline.crm.survivor import parse_rule

        return parse_rule(value) if isinstance(value, str) else value

    @field_validator("drive_channel_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("drive_folder_ids", mode="before")
    @classmethod
    def _folder_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(dict.fromkeys(_drive_folder_id(str(part)) for part in value))
        return value

    @model_validator(mode="after")
    def _drive_is_configured(self) -> Settings:
        """LEADS_SOURCE=drive without folders or credentials is an error, never the folder."""
        if self.lead_source != "drive":
            return self
        if not self.drive_folder_ids:
            raise ValueError(
                "LEADS_SOURCE=drive needs DRIVE_FOLDER_IDS: the comma-separated ids of the "
                "Drive folders to watch (the part after /folders/ in each folder's URL)"
            )
        if self.google_application_credentials is None and self.drive_oauth_token_file is None:
            raise ValueError(
                "LEADS_SOURCE=drive needs GOOGLE_APPLICATION_CREDENTIALS (a service account key "
                "file, the folders shared with its email) or DRIVE_OAUTH_TOKEN_FILE (an OAuth "
                "user token file)"
            )
        return self

    @property
    def store_url(self) -> str:
        """LEADS_DATABASE_URL, or the embedded SQLite file beside the warehouse."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'ops.sqlite').resolve()}"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


_VARIABLES = {name: f.alias or name for name, f in Settings.model_fields.items()}
_SECRETS = {
    _VARIABLES[name]
    for name, f in Settings.model_fields.items()
    if f.annotation == (SecretStr | None) or name == "database_url"
}


def _describe(error: dict[str, Any]) -> str:
    """One problem as `VARIABLE='value': what is expected` (secrets are not echoed); a problem
    across settings (no location) is its message alone, which names the variables."""
    if not error["loc"]:
        return error["msg"].removeprefix("Value error, ")
    loc = str(error["loc"][0])
    variable = _VARIABLES.get(loc, loc)  # pydantic reports the alias or the field name
    shown = "" if variable in _SECRETS else f"={error.get('input')!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{variable}{shown}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings once per process; `.env` in the working directory is honoured (real
    environment variables win). `overrides` are field values that take precedence."""
    load_dotenv(override=False)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors(include_url=False))
        raise ConfigError(f"invalid configuration: {problems}") from None
