"""The resources of the code location, chosen from the settings, each built once.

`Definitions.merge` accepts a resource key from several domains only when it is the same
object, so every domain asks this one place for the resources it uses.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import EnvVar

from pipeline.config import Settings
from pipeline.scoring import DEFAULT_ICP_PATH
from pipeline.store import redact_url
from resources.agent import AgentResource
from resources.crm import CrmResource, HubSpotCrmResource, OutboxCrmResource
from resources.drive_channels import DriveChannelSettings
from resources.email import EmailResource
from resources.enrichment import EnrichmentProvider, OfflineEnrichment, WaterfallEnrichment
from resources.io_manager import LeadsWarehouseIOManager
from resources.lead_source import DriveLeadSource, LeadSource, LocalFolderLeadSource
from resources.llm import LlmResource
from resources.monitoring import MonitoringResource
from resources.ops_store import OpsStore
from resources.outreach import SequencesResource
from resources.scoring import IcpSource
from resources.settings import PipelineSettings
from resources.warehouse import Warehouse

log = logging.getLogger("pipeline")

WAREHOUSE_SCHEMA = "leads"


def enrichment_from(settings: Settings) -> EnrichmentProvider:
    """LEADS_ENRICHMENT picks the backend; `http` with a missing key or a bad config file is
    an error here, when the code location loads, not a silent offline run."""
    if settings.enrichment == "http":
        from pipeline.enrich import load_config, open_providers

        path = str(settings.enrichment_config) if settings.enrichment_config else None
        for provider in open_providers(load_config(path)).values():  # checks every key
            provider.close()
        return WaterfallEnrichment(config_path=path, default_country=settings.default_country)
    return OfflineEnrichment(default_country=settings.default_country)


def crm_from(settings: Settings) -> CrmResource:
    """CRM_BACKEND picks the backend; `hubspot` without HUBSPOT_ACCESS_TOKEN is a
    configuration error, never a quiet switch to the outbox."""
    mapping = str(settings.crm_mapping) if settings.crm_mapping else None
    shared: dict[str, Any] = {
        "mapping_path": mapping,
        "max_rejected_rate": settings.crm_max_rejected_rate,
        "import_file": _path(settings.crm_import_file),
        "import_companies_file": _path(settings.crm_import_companies_file),
        "merge_survivor": list(settings.crm_merge_survivor),
    }
    if settings.crm_backend == "hubspot":
        if settings.hubspot_access_token is None:
            raise ValueError("CRM_BACKEND=hubspot needs HUBSPOT_ACCESS_TOKEN (a private app token)")
        return HubSpotCrmResource(
            access_token=EnvVar("HUBSPOT_ACCESS_TOKEN"),
            base_url=settings.hubspot_base_url,
            requests_per_10s=settings.hubspot_requests_per_10s,
            daily_limit=settings.hubspot_daily_limit,
            **shared,
        )
    return OutboxCrmResource(**shared)


def lead_source_from(settings: Settings) -> LeadSource:
    """LEADS_SOURCE picks the backend; `drive` without DRIVE_FOLDER_IDS or credentials is a
    configuration error when the settings load (pipeline/config.py), never the folder."""
    source: LeadSource
    if settings.lead_source == "drive":
        source = DriveLeadSource(
            folder_ids=list(settings.drive_folder_ids),
            service_account_file=_path(settings.google_application_credentials),
            oauth_token_file=_path(settings.drive_oauth_token_file),
            impersonate=settings.google_impersonate,
            api_base_url=settings.google_api_base_url,
            database_url=_store_url(settings),
            poll_seconds=settings.drive_poll_seconds,
        )
    else:
        source = LocalFolderLeadSource(folder=str(settings.source_dir))
    log.info(f"lead source ({settings.lead_source}): {source.describe()}")
    return source


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _store_url(settings: Settings) -> Any:
    """A URL from the environment as an EnvVar, so the UI shows the variable's name, never
    the password inside the URL."""
    import os

    if settings.database_url and os.environ.get("LEADS_DATABASE_URL") == settings.database_url:
        return EnvVar("LEADS_DATABASE_URL")
    return settings.store_url


def _secret_env(variable: str, value: object) -> object:
    """A secret read from the environment as an EnvVar (the UI shows the variable's name);
    one that came from `.env` or an override as its value."""
    import os

    if value is None:
        return None
    return EnvVar(variable) if os.environ.get(variable) else value.get_secret_value()  # type: ignore[attr-defined]


def email_from(settings: Settings) -> EmailResource:
    """EMAIL_BACKEND / EMAIL_SEND_MODE; a backend missing its settings fails here, naming the
    variable, never a quiet switch to the outbox. `auto` is logged at start."""
    from pipeline.email.setup import EmailSettings

    checked = EmailSettings.from_settings(settings)  # raises EmailSettingsError
    if checked.send_mode == "auto":
        log.warning("EMAIL_SEND_MODE=auto: due outreach messages are SENT without approval")
    return EmailResource(
        backend=checked.backend,
        send_mode=checked.send_mode,
        public_url=checked.public_url,
        smtp_host=checked.smtp_host,
        smtp_port=checked.smtp_port,
        smtp_username=checked.smtp_username,
        smtp_password=_secret_env("SMTP_PASSWORD", settings.smtp_password),
        smtp_starttls=checked.smtp_starttls,
        smtp_timeout=checked.smtp_timeout,
        google_application_credentials=checked.google_application_credentials,
        google_impersonate=checked.google_impersonate,
        google_api_base_url=checked.google_api_base_url,
        gmail_oauth_token_file=checked.gmail_oauth_token_file,
        unsubscribe_secret=_secret_env("UNSUBSCRIBE_SECRET", settings.unsubscribe_secret),
    )


def llm_from(settings: Settings) -> LlmResource:
    """LLM_BACKEND; `openai` without OPENAI_API_KEY (or an OPENAI_BASE_URL of a server that
    needs no key) is a configuration error here, never a quiet switch to templates."""
    from pipeline.config import ConfigError

    if settings.llm_backend == "openai" and not (
        settings.openai_api_key or settings.openai_base_url
    ):
        raise ConfigError(
            "LLM_BACKEND=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL pointing at an "
            "OpenAI-compatible server that needs no key)"
        )
    return LlmResource(
        backend=settings.llm_backend,
        api_key=_secret_env("OPENAI_API_KEY", settings.openai_api_key),  # type: ignore[arg-type]
        base_url=settings.openai_base_url,
        model=settings.llm_model,
        daily_token_budget=settings.llm_daily_token_budget,
        structured_output=settings.llm_structured_output,
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        price_input_per_mtok=settings.llm_price_input_per_mtok,
        price_output_per_mtok=settings.llm_price_output_per_mtok,
    )


def agent_from(settings: Settings) -> AgentResource:
    """AGENT_CONFIG, MAIL_HISTORY_BACKEND/MAIL_ARCHIVE, CALENDAR_BACKEND/CALENDAR_ICS."""

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return AgentResource(
        config_path=text(settings.agent_config),
        mail_history_backend=settings.mail_history_backend,
        mail_archive=text(settings.mail_archive),
        calendar_backend=settings.calendar_backend,
        calendar_ics=text(settings.calendar_ics),
        google_application_credentials=text(settings.google_application_credentials),
        google_impersonate=settings.google_impersonate,
        google_api_base_url=settings.google_api_base_url,
        gmail_oauth_token_file=text(settings.gmail_oauth_token_file),
        default_country=settings.default_country,
    )


def ops_store_from(settings: Settings) -> OpsStore:
    return OpsStore(database_url=_store_url(settings), max_attempts=settings.webhook_max_attempts)


def monitoring_from(settings: Settings) -> MonitoringResource:
    """The monitoring resource; provider keys as EnvVars (the UI shows their names)."""
    return MonitoringResource(
        accounts_path=str(settings.monitoring_accounts) if settings.monitoring_accounts else None,
        sources_path=str(settings.monitoring_sources) if settings.monitoring_sources else None,
        preferences_path=(
            str(settings.notify_preferences) if settings.notify_preferences else None
        ),
        rules_path=str(settings.monitoring_rules) if settings.monitoring_rules else None,
        classifier=settings.monitoring_classifier,
        data_dir=str(settings.data_dir),
        news_api_key=_secret_env("NEWS_API_KEY", settings.news_api_key),
        google_cse_key=_secret_env("GOOGLE_CSE_KEY", settings.google_cse_key),
        google_cse_id=settings.google_cse_id,
        google_api_base_url=settings.google_api_base_url,
        max_failures=settings.monitoring_max_failures,
        admin_email=settings.monitoring_admin_email,
        sender=settings.monitoring_sender,
    )


class Backends:
    """Every resource of the code location, built on first use from one `Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def lead_source(self) -> LeadSource:
        return lead_source_from(self.settings)

    @cached_property
    def enrichment(self) -> EnrichmentProvider:
        return enrichment_from(self.settings)

    @cached_property
    def crm(self) -> CrmResource:
        return crm_from(self.settings)

    @cached_property
    def ops_store(self) -> OpsStore:
        return ops_store_from(self.settings)

    @cached_property
    def email(self) -> EmailResource:
        return email_from(self.settings)

    @cached_property
    def agent(self) -> AgentResource:
        return agent_from(self.settings)

    @cached_property
    def monitoring(self) -> MonitoringResource:
        return monitoring_from(self.settings)

    @cached_property
    def llm(self) -> LlmResource:
        return llm_from(self.settings)

    @cached_property
    def sequences(self) -> SequencesResource:
        path = self.settings.sequences_config
        return SequencesResource(path=str(path) if path else None)

    @cached_property
    def drive_channel_settings(self) -> DriveChannelSettings:
        """DRIVE_CHANNEL_TOKEN as an EnvVar (the UI shows the name, never the token)."""
        token = EnvVar("DRIVE_CHANNEL_TOKEN") if self.settings.drive_channel_token else None
        return DriveChannelSettings(channel_token=token)

    @cached_property
    def icp(self) -> IcpSource:
        return IcpSource(path=str(self.settings.icp or DEFAULT_ICP_PATH))

    @cached_property
    def io_manager(self) -> LeadsWarehouseIOManager:
        return LeadsWarehouseIOManager(
            database=str(self.settings.warehouse_path), schema=WAREHOUSE_SCHEMA
        )

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(database=str(self.settings.warehouse_path), schema_name=WAREHOUSE_SCHEMA)

    @cached_property
    def pipeline_settings(self) -> PipelineSettings:
        s = self.settings
        return PipelineSettings(
            data_dir=str(s.data_dir),
            default_country=s.default_country,
            header_aliases=str(s.header_aliases) if s.header_aliases else None,
            excel_sheets=s.excel_sheets,
            max_file_bytes=int(s.max_file_bytes),
            max_uncompressed_bytes=int(s.max_uncompressed_bytes),
            max_field_chars=s.max_field_chars,
        )

    def resources(self, *keys: str) -> dict[str, Any]:
        """The named resources (`settings` is the PipelineSettings resource)."""
        return {
            key: getattr(self, "pipeline_settings" if key == "settings" else key) for key in keys
        }

    def describe(self) -> str:
        """One line naming each backend in use, for the start-up log (never a secret)."""
        return (
            f"lead source: {self.lead_source.describe()}; warehouse: "
            f"{self.settings.warehouse_path}; operational store: "
            f"{redact_url(self.settings.store_url)}; {self.enrichment.describe()}; "
            f"CRM backend: {self.settings.crm_backend}; {self.email.describe()}; "
            f"{self.llm.describe()}"
        )
