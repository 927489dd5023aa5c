"""Shared by the prospecting agent's tests: form submissions, the environment the command line
reads (a fresh data folder and store per test), and running `python -m pipeline agent`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.config import PROJECT_ROOT
from pipeline.store import open_store
from pipeline.store.tables import audit_log, crm_outbox, email_messages

SAMPLES = PROJECT_ROOT / "data" / "sample_agent"
OWNER = "alex@ourcompany.example"


def form(conversion_id: str, email: str = "jane.doe@acme-robotics.com", **fields: str) -> dict:
    values = {
        "email": email,
        "firstname": "Jane",
        "lastname": "Doe",
        "company": "Acme Robotics",
        "jobtitle": "VP Sales",
        "phone": "+1 415 555 0134",
        "state": "CA",
        **fields,
    }
    return {
        "conversionId": conversion_id,
        "submittedAt": 1_796_000_000_000,
        "formId": "contact-us",
        "portalId": 4512345,
        "pageUrl": "https://ourcompany.example/contact",
        "values": [{"name": k, "value": v} for k, v in values.items() if v is not None],
    }


def write_form(folder: Path, data: Any, name: str = "form.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def agent_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_url: str | None = None, **extra: str
) -> str:
    """Settings for one test through the environment (what the command line reads)."""
    data = tmp_path / "data"
    source = tmp_path / "drive"
    source.mkdir(exist_ok=True)
    url = store_url or f"sqlite:///{tmp_path / 'ops.sqlite'}"
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    values = {
        "LEADS_DATA_DIR": str(data),
        "LEADS_SOURCE_DIR": str(source),
        "LEADS_DATABASE_URL": url,
        "MAIL_ARCHIVE": str(SAMPLES / "mail"),
        "CALENDAR_ICS": str(SAMPLES / "busy.ics"),
        **extra,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return url


def run_agent(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    from pipeline.__main__ import main

    code = main(["agent", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def drafts(store_url: str) -> list[Any]:
    m = email_messages
    with open_store(store_url).connect() as conn:
        return conn.execute(select(m).where(m.c.purpose == "agent").order_by(m.c.id)).all()


def outbox(store_url: str, object_type: str) -> list[Any]:
    with open_store(store_url).connect() as conn:
        return conn.execute(select(crm_outbox).where(crm_outbox.c.object_type == object_type)).all()


def audit_count(store_url: str, action: str, subject: str | None = None) -> int:
    query = select(func.count()).where(audit_log.c.action == action)
    if subject is not None:
        query = query.where(audit_log.c.target == subject)
    with open_store(store_url).connect() as conn:
        return int(conn.execute(query).scalar_one())
