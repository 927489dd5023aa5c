"""The prospecting agent's own configuration as a Dagster resource: AGENT_CONFIG, the mail
history backend (MAIL_HISTORY_BACKEND, MAIL_ARCHIVE) and the calendar (CALENDAR_BACKEND,
CALENDAR_ICS), with the Google settings the gmail/google backends share.

`services(...)` builds what the steps talk to for one run, from this and the shared
resources (CRM, email, LLM, enrichment); a backend missing its settings fails here, naming
the variable, never a quiet switch to another backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.agent.config import AgentConfig, load_agent_config
from pipeline.agent.flow import AgentServices
from pipeline.agent.free_slots import BusyCalendar, GoogleCalendar, IcsCalendar, NoCalendar
from pipeline.agent.mail_history import (
    ArchiveMailHistory,
    GmailMailHistory,
    MailHistory,
    NoMailHistory,
)
from pipeline.agent.writer import LlmWriter, TemplateWriter, Writer
from pipeline.config import ConfigError

ENRICHED_FACTS = (
    "company",
    "website",
    "country",
    "industry",
    "employee_range",
    "revenue_range",
    "hq_country",
    "technologies",
    "email_deliverability",
)


class AgentResource(ConfigurableResource):
    config_path: str | None = Field(default=None, description="AGENT_CONFIG (YAML).")
    mail_history_backend: str = Field(default="local", description="local | gmail")
    mail_archive: str | None = Field(default=None, description="MAIL_ARCHIVE (.eml folder/mbox)")
    calendar_backend: str = Field(default="ics", description="ics | google")
    calendar_ics: str | None = Field(default=None, description="CALENDAR_ICS")
    google_application_credentials: str | None = None
    google_impersonate: str | None = None
    google_api_base_url: str | None = None
    gmail_oauth_token_file: str | None = None
    default_country: str = "US"

    def config(self) -> AgentConfig:
        return load_agent_config(self.config_path)

    def owner_email(self) -> str:
        return self.config().owner_email(self.google_impersonate)

    def _auth(self, oauth_token_file: str | None, variable: str) -> Any:
        from pipeline.google.auth import GoogleAuth

        if not (self.google_application_credentials or oauth_token_file):
            raise ConfigError(
                f"{variable} needs GOOGLE_APPLICATION_CREDENTIALS (a service account with "
                "domain-wide delegation)"
                + (" or GMAIL_OAUTH_TOKEN_FILE" if oauth_token_file is None else "")
            )
        return GoogleAuth(
            service_account_file=Path(self.google_application_credentials)
            if self.google_application_credentials
            else None,
            oauth_token_file=Path(oauth_token_file) if oauth_token_file else None,
            impersonate=self.google_impersonate,
            api_base_url=self.google_api_base_url,
            oauth_token_variable="GMAIL_OAUTH_TOKEN_FILE",
        )

    def mail_history(self) -> MailHistory:
        if self.mail_history_backend == "gmail":
            return GmailMailHistory(
                self._auth(self.gmail_oauth_token_file, "MAIL_HISTORY_BACKEND=gmail")
            )
        return ArchiveMailHistory(Path(self.mail_archive)) if self.mail_archive else NoMailHistory()

    def calendar(self) -> BusyCalendar:
        if self.calendar_backend == "google":
            return GoogleCalendar(self._auth(None, "CALENDAR_BACKEND=google"))
        return IcsCalendar(Path(self.calendar_ics)) if self.calendar_ics else NoCalendar()

    def describe(self) -> str:
        return (
            f"agent: {self.mail_history().describe()}; {self.calendar().describe()}; "
            f"owner {self.owner_email()}"
        )

    def services(
        self,
        engine: Engine,
        *,
        crm: Any,
        email: Any,
        llm: Any,
        enrichment: Any | None,
        run_id: str | None,
        clock: Any | None = None,
    ) -> AgentServices:
        """`crm`, `email`, `llm`, `enrichment`: the shared resources."""
        config = self.config()
        base = Path(self.config_path).parent if self.config_path else None

        def writer() -> Writer:
            template = TemplateWriter(config, base)
            if llm.enabled:
                return LlmWriter(config, llm.client(engine), template)
            return template

        def enrich(prospect: dict[str, Any]) -> dict[str, Any]:
            if enrichment is None:
                return {}
            columns = ("email", "first_name", "last_name", "company", "domain", "phone_e164")
            columns += ("country", "website", "job_title")
            frame = pl.DataFrame([{c: prospect.get(c) for c in columns}])
            out, _report = enrichment.enrich(frame, engine, lambda _m: None)
            row = out.row(0, named=True)
            return {k: row.get(k) for k in ENRICHED_FACTS if row.get(k) not in (None, "")}

        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        return AgentServices(
            engine=engine,
            config=config,
            owner_email=config.owner_email(self.google_impersonate),
            crm_factory=lambda: crm.client(engine, run_id or "agent"),
            mail_history=self.mail_history(),
            calendar=self.calendar(),
            writer_factory=writer,
            mailer_factory=lambda: email.mailer(engine),
            enrich=enrich,
            run_id=run_id,
            config_dir=base,
            **extra,
        )
