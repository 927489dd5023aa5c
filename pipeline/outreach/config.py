"""Sequences from YAML (SEQUENCES_CONFIG), validated once, with errors naming file and key.

Everything a sequence needs to run is checked here, before any enrolment: time zones and
holiday countries exist, windows make sense, every template compiles, a mailbox shared by
two sequences has one daily cap. A mistake reads like
`sequences.yaml: sequences[0].send_window.start: '9am' is not a time (HH:MM)`.
"""

from __future__ import annotations

from datetime import time
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from jinja2 import TemplateSyntaxError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from pipeline.config import ConfigError
from pipeline.email.message import AddressError, bare_address
from pipeline.outreach.templates import compile_template
from pipeline.yaml_files import label, read_yaml, validate

DEFAULT_SEQUENCES = Path(__file__).with_name("sequences.yaml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@cache
def supported_holiday_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def _holiday_countries(value: list[str]) -> list[str]:
    codes = [c.strip().upper() for c in value]
    unknown = [c for c in codes if c not in supported_holiday_countries()]
    if unknown:
        raise ValueError(f"no holiday calendar for {unknown} (ISO country codes, e.g. US)")
    return codes


# Countries whose public holidays a calendar skips (sequences' sends, the agent's slots).
HolidayCountries = Annotated[list[str], AfterValidator(_holiday_countries)]


class SequenceConfigError(ConfigError):
    """The sequences file is wrong; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enrol(_Strict):
    grades: list[str] | None = None
    min_score: float | None = None
    max_score: float | None = None
    segments: list[str] | None = None
    segment_column: str = "industry"
    owners: list[str] | None = None
    owner_column: str = "owner"
    # Only leads the CRM sync has (crm_contacts, status synced).
    require_crm: bool = True
    # An address active in another sequence is not enrolled in this one.
    exclusive: bool = True

    @field_validator("grades")
    @classmethod
    def _upper(cls, value: list[str] | None) -> list[str] | None:
        return [g.strip().upper() for g in value] if value is not None else None


class Mailbox(_Strict):
    from_: str = Field(alias="from")
    daily_cap: int = Field(80, gt=0, le=10_000)
    # Where the mailto: unsubscribe goes (default: the mailbox itself).
    unsubscribe_mailto: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("from_")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            bare_address(value)
        except AddressError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def address(self) -> str:
        return bare_address(self.from_)


def _clock_time(value: Any) -> time:
    if isinstance(value, int):  # YAML reads 09:00 unquoted as sexagesimal minutes
        return time(value // 60, value % 60)
    try:
        hours, minutes = str(value).strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{value!r} is not a time (HH:MM)") from None


class SendWindow(_Strict):
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    default_timezone: str = "UTC"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: Any) -> time:
        return _clock_time(value)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day(s) {unknown}; use {', '.join(WEEKDAYS)}")
        if not days:
            raise ValueError("at least one day")
        return days

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. America/New_York)"
            ) from None
        return value

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(d) for d in self.days)


class Template(_Strict):
    subject: str
    text: str
    html: str | None = None


class TaskTemplate(_Strict):
    subject: str = "Follow up with {{ first_name | default(email) }}"
    body: str = "Sequence {{ sequence }}: step {{ step_number }} is a call or a personal note."


class Step(_Strict):
    channel: Literal["email", "crm_task"] = "email"
    delay_business_days: int = Field(0, ge=0, le=90)
    template: Template | None = None
    task: TaskTemplate = Field(default_factory=TaskTemplate)
    # Email steps after the first reply in the first message's thread unless this is set.
    new_thread: bool = False


class Stop(_Strict):
    # A message from anyone at the recipient's company domain stops the sequence too.
    reply_from_domain: bool = False
    # Stop when the CRM lifecycle stage changes (to one of these; empty: to anything).
    crm_lifecycle: bool = True
    crm_lifecycle_stages: list[str] = Field(default_factory=list)


class BouncePause(_Strict):
    max_rate: float = Field(0.08, gt=0, le=1)
    window_hours: int = Field(24, gt=0)
    min_sent: int = Field(20, ge=1)


class Sequence(_Strict):
    name: str = Field(min_length=1, max_length=120)
    enrol: Enrol = Field(default_factory=Enrol)
    mailbox: Mailbox
    send_window: SendWindow = Field(default_factory=SendWindow)
    holidays: HolidayCountries = Field(default_factory=list)
    # The recipient's own country's public holidays are skipped too.
    recipient_holidays: bool = True
    stagger_seconds: int = Field(45, ge=0, le=3600)
    stop: Stop = Field(default_factory=Stop)
    bounce_pause: BouncePause = Field(default_factory=BouncePause)
    steps: list[Step] = Field(min_length=1)


class CrmSettings(_Strict):
    # What an unsubscribe writes on the CRM contact (through CRM_BACKEND). HubSpot keeps its
    # own hs_email_optout read-only, so the default is a custom checkbox property to create.
    unsubscribe_properties: dict[str, str] = Field(
        default_factory=lambda: {"outreach_opted_out": "true"}
    )


class Tick(_Strict):
    # A tick stops planning sends that would start later than this after it began.
    max_seconds: int = Field(840, gt=0, le=3600)


class SequencesFile(_Strict):
    sequences: list[Sequence] = Field(min_length=1)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    tick: Tick = Field(default_factory=Tick)


def parse_sequences(data: Any, source: str) -> SequencesFile:
    parsed = validate(SequencesFile, data, source, SequenceConfigError)
    _check(parsed, source)
    return parsed


def _check(parsed: SequencesFile, source: str) -> None:
    names: dict[str, int] = {}
    caps: dict[str, tuple[int, int]] = {}
    for i, seq in enumerate(parsed.sequences):
        where = f"{source}: sequences[{i}]"
        if seq.name in names:
            raise SequenceConfigError(
                f"{where}.name: {seq.name!r} is also sequences[{names[seq.name]}]'s name"
            )
        names[seq.name] = i
        window = seq.send_window
        if window.start >= window.end:
            raise SequenceConfigError(
                f"{where}.send_window: start {window.start:%H:%M} is not before end "
                f"{window.end:%H:%M}"
            )
        address = seq.mailbox.address
        if address in caps and caps[address][0] != seq.mailbox.daily_cap:
            other, cap = caps[address][1], caps[address][0]
            raise SequenceConfigError(
                f"{where}.mailbox.daily_cap: {address} has daily_cap {cap} in sequences[{other}]"
                f" and {seq.mailbox.daily_cap} here; a mailbox has one cap"
            )
        caps[address] = (seq.mailbox.daily_cap, i)
        for j, step in enumerate(seq.steps):
            at = f"{where}.steps[{j}]"
            if step.channel == "email" and step.template is None:
                raise SequenceConfigError(f"{at}.template: an email step needs a template")
            texts: dict[str, str | None] = (
                {
                    "template.subject": step.template.subject,
                    "template.text": step.template.text,
                    "template.html": step.template.html,
                }
                if step.channel == "email" and step.template is not None
                else {"task.subject": step.task.subject, "task.body": step.task.body}
            )
            for key, text in texts.items():
                if text is None:
                    continue
                try:
                    compile_template(text, html=key.endswith("html"))
                except TemplateSyntaxError as exc:
                    raise SequenceConfigError(
                        f"{at}.{key}: template error on line {exc.lineno}: {exc.message}"
                    ) from None


def load_sequences(path: str | Path | None = None) -> SequencesFile:
    file, source = label(path, DEFAULT_SEQUENCES)
    return parse_sequences(read_yaml(file, "SEQUENCES_CONFIG", SequenceConfigError), source)
