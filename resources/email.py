"""Email as a Dagster resource: EMAIL_BACKEND (outbox, smtp, gmail) and EMAIL_SEND_MODE.

Holds configuration only (passwords and secrets as EnvVars, so the UI shows their names);
each run builds its mailer on the operational store. Outreach, the prospecting agent and
monitoring digests share it.
"""

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.clock import Clock
from pipeline.email.mailer import Mailer
from pipeline.email.setup import EmailSettings
from pipeline.email.unsubscribe import UnsubscribeLinks


class EmailResource(ConfigurableResource):
    backend: str = Field(default="outbox", description="EMAIL_BACKEND: outbox | smtp | gmail.")
    send_mode: str = Field(
        default="draft_only", description="EMAIL_SEND_MODE: draft_only | approval | auto."
    )
    public_url: str | None = Field(
        default=None, description="LEADS_WEBHOOK_PUBLIC_URL: where unsubscribe links lead."
    )
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, description="SMTP_PASSWORD (an EnvVar).")
    smtp_starttls: bool = True
    smtp_timeout: float = 30.0
    google_application_credentials: str | None = None
    google_impersonate: str | None = None
    google_api_base_url: str | None = None
    gmail_oauth_token_file: str | None = None
    unsubscribe_secret: str | None = Field(
        default=None, description="UNSUBSCRIBE_SECRET (an EnvVar); unset: a key in the store."
    )

    def settings(self) -> EmailSettings:
        return EmailSettings(**self.model_dump()).checked()

    def mailer(self, engine: Engine, clock: Clock | None = None) -> Mailer:
        return self.settings().mailer(engine, clock)

    def links(self, engine: Engine, mailto: str | None = None) -> UnsubscribeLinks:
        return self.settings().links(engine, mailto)

    def describe(self) -> str:
        return self.settings().describe()
