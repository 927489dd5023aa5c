"""Builders shared by the outreach and email tests: scored leads, CRM ledgers, sequences,
an `Outreach` on a simulated clock, and a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import polars as pl
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from pipeline.clock import SimulatedClock
from pipeline.email.backend import EmailBackend
from pipeline.email.mailer import Mailer
from pipeline.email.outbox import OutboxBackend
from pipeline.email.unsubscribe import UnsubscribeLinks, signing_key
from pipeline.outreach.config import SequencesFile, parse_sequences
from pipeline.outreach.engine import Outreach

MAILBOX = "sales@ourcompany.example"
PUBLIC = "https://leads.example.test"
# Monday 7 December 2026, 10:00 in London (UTC+0), 05:00 in New York, 21:00 in Sydney.
MONDAY_10_LONDON = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def leads(rows: list[dict[str, Any]]) -> pl.DataFrame:
    base = {
        "entity_id": None,
        "email": None,
        "email_valid": True,
        "first_name": "Ann",
        "company": "Acme",
        "country": "GB",
        "state": None,
        "phone_e164": None,
        "lead_grade": "A",
        "lead_score": 80,
    }
    out = []
    for i, row in enumerate(rows):
        full = {**base, **row}
        full["entity_id"] = full["entity_id"] or f"E{i:05d}"
        full["email"] = full["email"] or f"lead{i}@client{i}.example"
        out.append(full)
    return pl.DataFrame(
        out,
        schema={
            "entity_id": pl.String,
            "email": pl.String,
            "email_valid": pl.Boolean,
            "first_name": pl.String,
            "company": pl.String,
            "country": pl.String,
            "state": pl.String,
            "phone_e164": pl.String,
            "lead_grade": pl.String,
            "lead_score": pl.Int32,
        },
    )


def crm_of(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity_id": frame["entity_id"],
            "id_value": frame["email"],
            "crm_id": [None] * frame.height,
            "properties_hash": ["h"] * frame.height,
            "status": ["synced"] * frame.height,
        },
        schema={
            "entity_id": pl.String,
            "id_value": pl.String,
            "crm_id": pl.String,
            "properties_hash": pl.String,
            "status": pl.String,
        },
    )


def sequence(**overrides: Any) -> dict[str, Any]:
    seq: dict[str, Any] = {
        "name": "seq",
        "enrol": {"grades": ["A", "B"]},
        "mailbox": {"from": f"Sales <{MAILBOX}>", "daily_cap": 80},
        "send_window": {
            "start": "09:00",
            "end": "17:00",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "default_timezone": "Europe/London",
        },
        "holidays": [],
        "recipient_holidays": False,
        "stagger_seconds": 0,
        "steps": [
            {
                "channel": "email",
                "delay_business_days": 0,
                "template": {
                    "subject": "Quick question, {{ first_name }}",
                    "text": "Hi {{ first_name }} at {{ company }}. {{ unsubscribe_url }}",
                    "html": "<p>Hi {{ first_name }}</p>",
                },
            },
            {
                "channel": "email",
                "delay_business_days": 3,
                "template": {"subject": "Re: Quick question", "text": "Following up."},
            },
        ],
    }
    seq.update(overrides)
    return seq


def config(*sequences: dict[str, Any], **top: Any) -> SequencesFile:
    return parse_sequences({"sequences": list(sequences) or [sequence()], **top}, "test.yaml")


def make_outreach(
    engine: Engine,
    cfg: SequencesFile,
    *,
    mode: str = "auto",
    backend: EmailBackend | None = None,
    clock: SimulatedClock | None = None,
    crm: Any = None,
    **mailer_kwargs: Any,
) -> Outreach:
    clock = clock or SimulatedClock(MONDAY_10_LONDON)
    mailer = Mailer(
        engine,
        backend or OutboxBackend(engine),
        sending_allowed=mode != "draft_only",
        clock=clock,
        **mailer_kwargs,
    )
    links = UnsubscribeLinks(signing_key(engine, None), PUBLIC)
    return Outreach(engine, cfg, mailer, links, mode=mode, clock=clock, crm=crm)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """aiosmtpd handler: keeps every message; refuses recipients at refused.example (550)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return f"250 2.0.0 Ok: queued as Q{len(self.messages):04d}"


class SmtpServer:
    def __init__(self) -> None:
        self.sink = SmtpSink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()
