"""The prospecting agent on the vendors' backends, each a local HTTP server driven through the
official clients: HubSpot (search, create, associations, owners, tasks), Gmail (threads for
the history, drafts), Google Calendar (freebusy) and an OpenAI-compatible model."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.agent import ledger
from pipeline.store import open_store
from tests.agent_helpers import OWNER, agent_env, audit_count, drafts, form, run_agent, write_form
from tests.fakes.gmail import FakeGmail
from tests.fakes.google_api import GoogleApiServer
from tests.fakes.google_calendar import FakeCalendar
from tests.fakes.hubspot_server import HubSpotServer, HubSpotState
from tests.fakes.openai_server import OpenAiServer
from tests.test_agent import good_answer


@pytest.fixture
def vendors(tmp_path, monkeypatch):
    state = HubSpotState(extra_properties={"contacts": ["state"]})
    owner_id = state.add_owner(OWNER, "Alex", "Morgan")
    with HubSpotServer(state) as hubspot, GoogleApiServer() as google, OpenAiServer() as llm:
        gmail, calendar = FakeGmail(google), FakeCalendar(google)
        calendar.busy[OWNER] = []  # the owner's calendar exists, with nothing booked
        llm.state.responder = good_answer
        url = agent_env(
            monkeypatch,
            tmp_path,
            CRM_BACKEND="hubspot",
            HUBSPOT_ACCESS_TOKEN=state.access_token,
            HUBSPOT_BASE_URL=hubspot.url,
            GOOGLE_APPLICATION_CREDENTIALS=str(google.service_account_file(tmp_path)),
            GOOGLE_API_BASE_URL=google.url,
            MAIL_HISTORY_BACKEND="gmail",
            CALENDAR_BACKEND="google",
            EMAIL_BACKEND="gmail",
            LEADS_WEBHOOK_PUBLIC_URL="https://leads.example",
            LLM_BACKEND="openai",
            OPENAI_API_KEY=llm.state.api_key,
            OPENAI_BASE_URL=llm.url,
        )
        monkeypatch.delenv("MAIL_ARCHIVE")
        monkeypatch.delenv("CALENDAR_ICS")
        yield {
            "url": url,
            "state": state,
            "owner_id": owner_id,
            "gmail": gmail,
            "calendar": calendar,
            "google": google,
            "llm": llm,
        }


def test_seven_steps_on_hubspot_gmail_calendar_and_the_model(vendors, tmp_path, capsys):
    state, gmail, calendar = vendors["state"], vendors["gmail"], vendors["calendar"]
    company = state.add_company({"name": "Acme Robotics", "domain": "acme-robotics.com"})
    now_ms = int(time.time() * 1000)
    gmail.seed(
        OWNER,
        "Jane Doe <jane.doe@acme-robotics.com>",
        OWNER,
        "Badge scans from the expo",
        "We collected badge scans at the expo and want them cleaned.",
        now_ms - 20 * 86_400_000,
    )
    gmail.seed(
        OWNER,
        f"Alex Morgan <{OWNER}>",
        "ops@acme-robotics.com",
        "Re: import",
        "Sure.",
        now_ms - 10 * 86_400_000,
    )
    gmail.seed(OWNER, "Sam <sam@initech.example>", OWNER, "Invoice", "Unrelated.", now_ms)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    calendar.add_busy(OWNER, start, start + timedelta(days=2))  # two days fully booked

    seeded_sent = list(gmail.sent)
    path = write_form(tmp_path, form("c-vendors"))
    code, out, err = run_agent(capsys, "run", "--form", str(path))
    assert code == 0, err

    contact = state.contact_by_email("jane.doe@acme-robotics.com")
    assert contact is not None and contact.properties["firstname"] == "Jane"
    assert contact.properties["lifecyclestage"] == "lead"
    assert state.contact_company_ids(contact.id) == {company.id}  # the existing company
    assert len(state.companies) == 1
    (task,) = state.tasks.values()
    assert task.properties["hubspot_owner_id"] == vendors["owner_id"]
    assert task.properties["hs_task_status"] == "NOT_STARTED"
    assert state.task_contacts[task.id] == {contact.id}
    assert f"follow-up task {task.id}" in out

    (draft_id, stored) = gmail.drafts[0]
    assert stored.mailbox == OWNER and str(stored.message["To"]) == "jane.doe@acme-robotics.com"
    assert gmail.sent == seeded_sent and len(gmail.drafts) == 1  # nothing sent
    (made,) = drafts(vendors["url"])
    assert made.provider_id == draft_id and made.status == "drafted"

    results = ledger.results(open_store(vendors["url"]), "c-vendors")
    history = results["mail_history"]
    assert history["count"] == 2  # Jane's message and ours to her colleague; not Initech's
    assert {m["subject"] for m in history["messages"]} == {
        "Badge scans from the expo",
        "Re: import",
    }
    (query,) = calendar.queries
    assert query["items"] == [{"id": OWNER}]
    for slot in results["free_slots"]["slots"]:
        assert datetime.fromisoformat(slot["start"]) >= start + timedelta(days=2)
    assert results["free_slots"]["timezone"] == "America/Los_Angeles"
    assert results["message"]["writer"] == "llm" and results["message"]["model"] == "gpt-4o-mini"
    facts = json.loads(
        vendors["llm"].state.completions[0].user.split("<facts>\n")[1].split("\n</facts>")[0]
    )
    assert facts["mail_history"]["count"] == 2
    assert facts["company"]["name"] == "Acme Robotics"

    # Again: nothing new anywhere.
    writes = state.write_calls()
    code, out, err = run_agent(capsys, "run", "--form", str(path))
    assert code == 0, err
    assert state.write_calls() == writes and len(gmail.drafts) == 1 and len(state.tasks) == 1
    assert audit_count(vendors["url"], "agent.draft") == 1


def test_a_hubspot_contact_that_exists_is_found_not_created_and_its_history_is_a_fact(
    vendors, tmp_path, capsys
):
    state = vendors["state"]
    existing = state.add_contact(
        {"email": "jane.doe@acme-robotics.com", "firstname": "Jane", "lifecyclestage": "customer"}
    )
    code, _out, err = run_agent(capsys, "run", "--form", str(write_form(tmp_path, form("c-known"))))
    assert code == 0, err
    assert len(state.contacts) == 1
    crm = ledger.results(open_store(vendors["url"]), "c-known")["crm"]
    assert crm["contact_id"] == existing.id and crm["contact_created"] is False
    assert crm["contact_known"]["lifecyclestage"] == "customer"
    facts = json.loads(
        vendors["llm"].state.completions[0].user.split("<facts>\n")[1].split("\n</facts>")[0]
    )
    assert facts["crm"]["contact"] == "already in the CRM"


def test_a_task_created_before_a_crash_is_found_by_its_subject_not_made_twice(
    vendors, tmp_path, capsys
):
    state = vendors["state"]
    path = write_form(tmp_path, form("c-crash"))
    assert run_agent(capsys, "run", "--form", str(path))[0] == 0
    engine = open_store(vendors["url"])
    # As if the run died after HubSpot made the task and before the ledger recorded it.
    from sqlalchemy import delete, update

    from pipeline.store.tables import agent_steps, agent_submissions

    with engine.begin() as conn:
        conn.execute(
            delete(agent_steps).where(
                agent_steps.c.submission_id == "c-crash", agent_steps.c.step == "followup"
            )
        )
        conn.execute(
            update(agent_submissions)
            .where(agent_submissions.c.submission_id == "c-crash")
            .values(status="in_progress", step="followup")
        )
    assert run_agent(capsys, "run", "--form", str(path))[0] == 0
    assert len(state.tasks) == 1
    assert ledger.results(engine, "c-crash")["followup"]["created"] is False


def test_google_refusing_the_calendar_fails_the_step_naming_the_cause(vendors, tmp_path, capsys):
    vendors["calendar"].failures.extend([403] * 10)
    code, _out, err = run_agent(capsys, "run", "--form", str(write_form(tmp_path, form("c-403"))))
    assert code == 1
    assert "step free_slots failed" in err and "403" in err
    assert vendors["gmail"].drafts == []
