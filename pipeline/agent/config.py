"""The prospecting agent's configuration (AGENT_CONFIG, YAML), validated once with errors
naming the file and the key: the owner (whose mailbox, calendar and tasks), what may be said
about our side, the slot rules, the message rules and the retry policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.config import ConfigError
from pipeline.email.message import AddressError, bare_address
from pipeline.outreach.config import HolidayCountries, SendWindow
from pipeline.outreach.templates import compile_template
from pipeline.yaml_files import label, read_yaml, validate

DEFAULT_AGENT_CONFIG = Path(__file__).with_name("agent.yaml")
DEFAULT_TEMPLATE = Path(__file__).with_name("first_reply.j2")


class AgentConfigError(ConfigError):
    """The agent's configuration is wrong; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Strict):
    name: str = Field(min_length=1)
    # Whose mailbox (history, drafts), calendar and tasks; unset: GOOGLE_IMPERSONATE.
    email: str | None = None
    title: str | None = None
    # The HubSpot owner of the follow-up tasks; unset: looked up by `email` in HubSpot.
    hubspot_owner_id: str | None = None

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return bare_address(value)
        except AddressError as exc:
            raise ValueError(str(exc)) from None


class OurCompany(_Strict):
    name: str = Field(min_length=1)
    website: str | None = None
    # One or two sentences the writer may use about what we do (a fact, like any other).
    pitch: str = ""


class Slots(_Strict):
    # The owner's working hours, in the owner's zone (`default_timezone`).
    working_hours: SendWindow = Field(default_factory=SendWindow)
    business_days_ahead: int = Field(5, ge=1, le=30)
    length_minutes: int = Field(30, ge=10, le=240)
    offer: int = Field(3, ge=0, le=10)  # slots proposed in the message
    per_day: int = Field(1, ge=1, le=20)  # at most this many of them on one day
    min_notice_hours: float = Field(2, ge=0)
    holidays: HolidayCountries = Field(default_factory=list)


class Message(_Strict):
    language: str = Field("en", min_length=2, max_length=3)
    min_words: int = Field(30, ge=0)
    max_words: int = Field(180, ge=20, le=1000)
    subject_max_chars: int = Field(90, ge=10, le=200)
    # After the model's answer failed validation twice: write from the template (the draft
    # says so) instead of failing the step.
    fallback_to_template: bool = False
    # A Jinja2 file with `{% block subject %}` and `{% block body %}`; default: first_reply.j2.
    template: str | None = None
    # Links the message may contain besides our website and the prospect's own.
    allowed_links: list[str] = Field(default_factory=list)
    # Names the message may use although no fact holds them (product names, ...).
    allowed_terms: list[str] = Field(default_factory=list)
    max_output_tokens: int = Field(700, ge=100, le=4000)


class FollowUp(_Strict):
    due_business_days: int = Field(2, ge=0, le=30)
    priority: str = Field("MEDIUM", pattern="^(LOW|MEDIUM|HIGH)$")


class MailHistory(_Strict):
    max_messages: int = Field(5, ge=0, le=50)
    lookback_days: int = Field(365, ge=1, le=3650)


class Retries(_Strict):
    max_attempts: int = Field(3, ge=1, le=20)  # then the step is dead-lettered
    backoff_minutes: float = Field(5, ge=0)  # doubled after each failed attempt


class AgentConfig(_Strict):
    owner: Owner
    company: OurCompany
    slots: Slots = Field(default_factory=Slots)
    message: Message = Field(default_factory=Message)
    followup: FollowUp = Field(default_factory=FollowUp)
    mail_history: MailHistory = Field(default_factory=MailHistory)
    retries: Retries = Field(default_factory=Retries)

    def template_text(self, base: Path | None = None) -> str:
        path = Path(self.message.template) if self.message.template else DEFAULT_TEMPLATE
        if not path.is_absolute() and base is not None:
            path = base / path
        return path.read_text(encoding="utf-8")

    def owner_email(self, impersonate: str | None) -> str:
        email = self.owner.email or impersonate
        if not email:
            raise AgentConfigError(
                "the agent's owner has no mailbox: set owner.email in AGENT_CONFIG or "
                "GOOGLE_IMPERSONATE"
            )
        return bare_address(email)


def parse_agent_config(data: Any, source: str, base: Path | None = None) -> AgentConfig:
    parsed = validate(AgentConfig, data, source, AgentConfigError)
    hours = parsed.slots.working_hours
    if hours.start >= hours.end:
        raise AgentConfigError(
            f"{source}: slots.working_hours: start {hours.start:%H:%M} is not before end "
            f"{hours.end:%H:%M}"
        )
    try:
        text = parsed.template_text(base)
    except OSError as exc:
        raise AgentConfigError(f"{source}: message.template: {exc}") from None
    try:
        compile_template(text)
    except TemplateSyntaxError as exc:
        raise AgentConfigError(
            f"{source}: message.template: line {exc.lineno}: {exc.message}"
        ) from None
    if "block subject" not in text or "block body" not in text:
        raise AgentConfigError(
            f"{source}: message.template: needs {{% block subject %}} and {{% block body %}}"
        )
    return parsed


def load_agent_config(path: str | Path | None = None) -> AgentConfig:
    file, source = label(path, DEFAULT_AGENT_CONFIG)
    data = read_yaml(file, "AGENT_CONFIG", AgentConfigError)
    return parse_agent_config(data, source, file.parent)
