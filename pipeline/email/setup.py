"""The email settings, checked once, and the backend, mailer and links they make.

Shared by the Dagster resource (`resources/email.py`) and the command line, so both refuse
the same mistakes with the same words: SMTP without SMTP_HOST, Gmail without credentials,
real mail whose unsubscribe links would not lead anywhere (LEADS_WEBHOOK_PUBLIC_URL must be
the https address of the receiver for the smtp and gmail backends).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from pipeline.clock import Clock
from pipeline.config import ConfigError, Settings
from pipeline.email.backend import EmailBackend
from pipeline.email.mailer import Mailer
from pipeline.email.outbox import OutboxBackend
from pipeline.email.unsubscribe import UnsubscribeLinks, signing_key

log = logging.getLogger("pipeline.email")

LOCAL_RECEIVER = "http://127.0.0.1:8787"


class EmailSettingsError(ConfigError):
    """The email settings do not fit together; the message names the variable."""


@dataclass(frozen=True)
class EmailSettings:
    backend: str = "outbox"
    send_mode: str = "draft_only"
    public_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = True
    smtp_timeout: float = 30.0
    google_application_credentials: str | None = None
    google_impersonate: str | None = None
    google_api_base_url: str | None = None
    gmail_oauth_token_file: str | None = None
    unsubscribe_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, s: Settings) -> EmailSettings:
        return cls(
            backend=s.email_backend,
            send_mode=s.email_send_mode,
            public_url=s.webhook_public_url,
            smtp_host=s.smtp_host,
            smtp_port=s.smtp_port,
            smtp_username=s.smtp_username,
            smtp_password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            smtp_starttls=s.smtp_starttls,
            smtp_timeout=s.smtp_timeout_seconds,
            google_application_credentials=(
                str(s.google_application_credentials) if s.google_application_credentials else None
            ),
            google_impersonate=s.google_impersonate,
            google_api_base_url=s.google_api_base_url,
            gmail_oauth_token_file=(
                str(s.gmail_oauth_token_file) if s.gmail_oauth_token_file else None
            ),
            unsubscribe_secret=(
                s.unsubscribe_secret.get_secret_value() if s.unsubscribe_secret else None
            ),
        ).checked()

    def checked(self) -> EmailSettings:
        if self.backend == "smtp" and not self.smtp_host:
            raise EmailSettingsError("EMAIL_BACKEND=smtp needs SMTP_HOST (and usually SMTP_PORT)")
        if self.backend == "gmail" and not (
            self.google_application_credentials or self.gmail_oauth_token_file
        ):
            raise EmailSettingsError(
                "EMAIL_BACKEND=gmail needs GOOGLE_APPLICATION_CREDENTIALS (a service account "
                "with domain-wide delegation) or GMAIL_OAUTH_TOKEN_FILE"
            )
        if self.backend != "outbox" and not (self.public_url or "").startswith("https://"):
            raise EmailSettingsError(
                f"EMAIL_BACKEND={self.backend} needs LEADS_WEBHOOK_PUBLIC_URL: the https "
                "address of `python -m pipeline webhooks serve`, where the messages' "
                "unsubscribe links lead"
            )
        return self

    @property
    def sending_allowed(self) -> bool:
        return self.send_mode != "draft_only"

    def describe(self) -> str:
        mode = {
            "draft_only": "draft only: nothing is sent",
            "approval": "approval: a person approves each message",
            "auto": "AUTO: due messages are SENT without approval",
        }[self.send_mode]
        return f"email backend: {self.backend}; EMAIL_SEND_MODE={self.send_mode} ({mode})"

    def email_backend(self, engine: Engine) -> EmailBackend:
        if self.backend == "smtp":
            from pipeline.email.smtp import SmtpBackend

            assert self.smtp_host is not None
            return SmtpBackend(
                engine,
                self.smtp_host,
                self.smtp_port,
                username=self.smtp_username,
                password=self.smtp_password,
                starttls=self.smtp_starttls,
                timeout=self.smtp_timeout,
            )
        if self.backend == "gmail":
            from pipeline.email.gmail import GmailBackend
            from pipeline.google.auth import GoogleAuth

            return GmailBackend(
                GoogleAuth(
                    service_account_file=Path(self.google_application_credentials)
                    if self.google_application_credentials
                    else None,
                    oauth_token_file=Path(self.gmail_oauth_token_file)
                    if self.gmail_oauth_token_file
                    else None,
                    impersonate=self.google_impersonate,
                    api_base_url=self.google_api_base_url,
                    oauth_token_variable="GMAIL_OAUTH_TOKEN_FILE",
                )
            )
        return OutboxBackend(engine)

    def mailer(self, engine: Engine, clock: Clock | None = None, **kwargs) -> Mailer:  # type: ignore[no-untyped-def]
        return Mailer(
            engine,
            self.email_backend(engine),
            sending_allowed=self.sending_allowed,
            clock=clock,
            **kwargs,
        )

    def links(self, engine: Engine, mailto: str | None = None) -> UnsubscribeLinks:
        url = self.public_url
        if not url:
            log.warning(
                "LEADS_WEBHOOK_PUBLIC_URL is not set: unsubscribe links in the outbox point at "
                "%s (the receiver on this machine)",
                LOCAL_RECEIVER,
            )
            url = LOCAL_RECEIVER
        return UnsubscribeLinks(signing_key(engine, self.unsubscribe_secret), url, mailto)
