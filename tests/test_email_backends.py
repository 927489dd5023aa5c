"""The email backends through their real clients: smtplib against an SMTP server on
loopback (aiosmtpd), google-api-python-client against a fake Gmail API (real HTTP); the
one-click unsubscribe routes of the receiver; email events stopping sequences."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import delete, select
from starlette.testclient import TestClient

from pipeline.clock import SimulatedClock
from pipeline.email.gmail import GmailBackend
from pipeline.email.smtp import SmtpBackend
from pipeline.google.auth import GoogleAuth
from pipeline.store.inbox import StoredEvent
from pipeline.store.tables import (
    email_messages,
    outreach_crm_updates,
    outreach_enrolments,
    outreach_leases,
    suppression_list,
)
from pipeline.webhooks.app import create_app
from pipeline.webhooks.config import WebhookConfig
from pipeline.webhooks.handlers import handle_email
from tests.fakes.gmail import FakeGmail
from tests.fakes.google_api import GoogleApiServer
from tests.outreach_helpers import (
    MAILBOX,
    MONDAY_10_LONDON,
    PUBLIC,
    SmtpServer,
    config,
    crm_of,
    leads,
    make_outreach,
)


class Crash(BaseException):
    pass


def _crash(_row_id: int) -> None:
    raise Crash


def _messages(engine):
    with engine.connect() as conn:
        return conn.execute(select(email_messages).order_by(email_messages.c.id)).all()


def _state(engine, email):
    with engine.connect() as conn:
        return conn.execute(
            select(outreach_enrolments.c.state).where(outreach_enrolments.c.email == email)
        ).scalar_one()


def _free_lease(engine):
    with engine.begin() as conn:
        conn.execute(delete(outreach_leases))


# --- SMTP ------------------------------------------------------------------------------------


def test_smtp_sends_each_message_once_with_the_required_headers(sqlite_store):
    frame = leads([{"email": "ann@acme.example"}, {"email": "bob@refused.example"}])
    with SmtpServer() as smtp:
        backend = SmtpBackend(sqlite_store, "127.0.0.1", smtp.port, starttls=False)
        outreach = make_outreach(sqlite_store, config(), backend=backend)
        outreach.tick(frame, crm_of(frame))
        outreach.tick()
        backend.close()
    (mail_from, rcpts, content), = smtp.sink.messages  # fmt: skip
    assert mail_from == MAILBOX and rcpts == ["ann@acme.example"]
    message = message_from_bytes(content)
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{PUBLIC}/unsubscribe/") and "<mailto:" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in message.walk()][1:] == ["text/plain", "text/html"]
    rows = {r.to_email: r for r in _messages(sqlite_store)}
    assert rows["ann@acme.example"].message_id == message["Message-ID"]
    assert "queued as Q0001" in rows["ann@acme.example"].provider_id
    # 550 at RCPT: a bounce at the door, the address suppressed.
    assert _state(sqlite_store, "bob@refused.example") == "bounced"
    with sqlite_store.connect() as conn:
        assert conn.execute(select(suppression_list.c.reason)).scalars().all() == ["hard_bounce"]


def test_smtp_crash_after_handover_leaves_the_message_in_doubt_not_resent(sqlite_store):
    frame = leads([{"email": "ann@acme.example"}])
    with SmtpServer() as smtp:
        backend = SmtpBackend(sqlite_store, "127.0.0.1", smtp.port, starttls=False)
        outreach = make_outreach(
            sqlite_store, config(), backend=backend, after_provider=_crash,
            stale_after=timedelta(0),
        )  # fmt: skip
        with pytest.raises(Crash):
            outreach.tick(frame, crm_of(frame))
        _free_lease(sqlite_store)
        again = make_outreach(sqlite_store, config(), backend=backend, stale_after=timedelta(0))
        report = again.tick()
        again.tick()
        assert report.reconciled["in_doubt"] == 1
        assert len(smtp.sink.messages) == 1  # SMTP cannot tell: never sent again blindly
        assert [r.status for r in _messages(sqlite_store)] == ["in_doubt"]
        assert _state(sqlite_store, "ann@acme.example") == "pending_approval"
        # A person who checked the Sent folder and found nothing approves a re-send.
        from pipeline.outreach import approvals

        (waiting,) = approvals.waiting(again)
        assert waiting.status == "in_doubt" and "Sent folder" in waiting.error
        approvals.approve(again, [waiting.id], "ann@ops")
        assert len(smtp.sink.messages) == 2
        assert _state(sqlite_store, "ann@acme.example") == "sent"
        backend.close()


# --- Gmail -----------------------------------------------------------------------------------


@pytest.fixture
def gmail(tmp_path):
    with GoogleApiServer() as server:
        fake = FakeGmail(server)
        auth = GoogleAuth(
            service_account_file=server.service_account_file(tmp_path),
            api_base_url=server.url,
        )
        yield fake, GmailBackend(auth)


def test_gmail_sends_raw_json_as_the_sequence_mailbox_and_threads_follow_ups(sqlite_store, gmail):
    fake, backend = gmail
    frame = leads([{"email": "ann@acme.example"}])
    clock = SimulatedClock(MONDAY_10_LONDON)
    outreach = make_outreach(sqlite_store, config(), backend=backend, clock=clock)
    outreach.tick(frame, crm_of(frame))
    clock.set(datetime(2026, 12, 10, 10, 5, tzinfo=UTC))
    outreach.tick()
    first, second = fake.sent
    assert first.mailbox == MAILBOX  # the impersonated user is the sequence's mailbox
    assert second.thread_id == first.thread_id  # the follow-up joins the first thread
    assert second.message["In-Reply-To"] == first.message_id
    sends = [r for r in fake.server.state.requests if r.path.endswith("/messages/send")]
    assert all(r.path == "/gmail/v1/users/me/messages/send" for r in sends)  # not an upload
    assert all(r.headers["content-type"].startswith("application/json") for r in sends)
    rows = _messages(sqlite_store)
    assert [r.provider_id for r in rows] == [first.id, second.id]


def test_gmail_crash_between_send_and_record_is_found_and_not_resent(sqlite_store, gmail):
    fake, backend = gmail
    frame = leads([{"email": "ann@acme.example"}])
    outreach = make_outreach(
        sqlite_store, config(), backend=backend, after_provider=_crash, stale_after=timedelta(0)
    )
    with pytest.raises(Crash):
        outreach.tick(frame, crm_of(frame))
    _free_lease(sqlite_store)
    again = make_outreach(sqlite_store, config(), backend=backend, stale_after=timedelta(0))
    report = again.tick()
    assert report.reconciled["sent"] == 1
    assert len(fake.sent) == 1
    (row,) = _messages(sqlite_store)
    assert row.status == "sent" and row.provider_id == fake.sent[0].id


def test_gmail_5xx_on_send_is_in_doubt_then_settled_by_lookup(sqlite_store, gmail):
    fake, backend = gmail
    fake.failures.append(503)
    frame = leads([{"email": "ann@acme.example"}])
    outreach = make_outreach(sqlite_store, config(), backend=backend)
    report = outreach.tick(frame, crm_of(frame))
    assert report.delivered["in_doubt"] == 1 and fake.sent == []
    assert _state(sqlite_store, "ann@acme.example") == "pending_approval"


def test_gmail_replies_and_bounces_found_in_threads_stop_the_sequence(sqlite_store, gmail):
    fake, backend = gmail
    frame = leads([{"email": "ann@acme.example"}, {"email": "gone@old.example"},
                   {"email": "cat@third.example"}])  # fmt: skip
    clock = SimulatedClock(MONDAY_10_LONDON)
    outreach = make_outreach(sqlite_store, config(), backend=backend, clock=clock)
    outreach.tick(frame, crm_of(frame))
    threads = {s.message["To"]: s.thread_id for s in fake.sent}
    later = int((clock.now() + timedelta(minutes=1)).timestamp() * 1000)
    fake.receive(MAILBOX, "Ann <ann@acme.example>", "Re: Quick question",
                 threads["ann@acme.example"], at_ms=later)  # fmt: skip
    fake.receive(MAILBOX, "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
                 "Delivery Status Notification (Failure)", threads["gone@old.example"],
                 at_ms=later)  # fmt: skip
    clock.advance(minutes=5)
    report = outreach.tick()
    assert _state(sqlite_store, "ann@acme.example") == "replied"
    assert _state(sqlite_store, "gone@old.example") == "bounced"
    assert _state(sqlite_store, "cat@third.example") == "sent"
    assert report.stopped["reply"] >= 1 and report.stopped["bounce"] >= 1


@pytest.mark.parametrize("backend_name", ["outbox", "smtp", "gmail"])
def test_draft_only_sends_nothing_on_every_backend(sqlite_store, tmp_path, backend_name):
    frame = leads([{"email": f"p{i}@x{i}.example"} for i in range(3)])
    clock = SimulatedClock(MONDAY_10_LONDON)

    def run(backend):
        outreach = make_outreach(
            sqlite_store, config(), mode="draft_only", backend=backend, clock=clock
        )
        outreach.tick(frame, crm_of(frame))
        clock.set(datetime(2026, 12, 10, 10, 5, tzinfo=UTC))
        outreach.tick()
        return outreach

    if backend_name == "smtp":
        with SmtpServer() as smtp:
            run(SmtpBackend(sqlite_store, "127.0.0.1", smtp.port, starttls=False))
        assert smtp.sink.messages == []
    elif backend_name == "gmail":
        with GoogleApiServer() as server:
            fake = FakeGmail(server)
            auth = GoogleAuth(
                service_account_file=server.service_account_file(tmp_path),
                api_base_url=server.url,
            )
            run(GmailBackend(auth))
            assert fake.sent == [] and len(fake.drafts) == 6
            assert not [r for r in server.state.requests if r.path.endswith("/send")]
    else:
        run(None)
    statuses = {r.status for r in _messages(sqlite_store)}
    assert statuses == {"drafted"}


# --- unsubscribe and email events ------------------------------------------------------------


def _receiver(engine, url):
    cfg = WebhookConfig(database_url=url, email_events_secret="s", public_base_url=PUBLIC)
    return TestClient(create_app(cfg, engine))


def test_one_click_unsubscribe_reaches_suppression_sequences_and_the_crm(store, store_url):
    frame = leads([{"email": "ann@acme.example"}])
    outreach = make_outreach(store, config())
    outreach.tick(frame, crm_of(frame))
    (row,) = _messages(store)
    url = json.loads(row.headers)["List-Unsubscribe"].split(">")[0].lstrip("<")
    path = url.removeprefix(PUBLIC)
    with _receiver(store, store_url) as client:
        page = client.get(path)
        assert page.status_code == 200 and '<form method="post"' in page.text
        assert _state(store, "ann@acme.example") == "sent"  # a GET alone changes nothing
        done = client.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "unsubscribed" in done.text
        assert client.post(path.replace("unsubscribe/", "unsubscribe/x")).status_code == 400
        tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert client.post(tampered).status_code == 400
    assert _state(store, "ann@acme.example") == "unsubscribed"
    with store.connect() as conn:
        assert conn.execute(select(suppression_list.c.email)).scalars().all() == [
            "ann@acme.example"
        ]
        assert conn.execute(select(outreach_crm_updates.c.status)).scalars().all() == ["pending"]


def test_email_events_from_the_webhook_stop_the_sequence(sqlite_store):
    frame = leads([{"email": "ann@acme.example"}])
    outreach = make_outreach(sqlite_store, config())
    outreach.tick(frame, crm_of(frame))
    event = StoredEvent(
        id=1, source="email", fingerprint="f", event_type="email.reply", object_id=None,
        status="dispatched", attempts=0, replays=0, received_at=MONDAY_10_LONDON,
        payload=json.dumps({"id": "e1", "type": "reply", "email": "Ann@Acme.example",
                            "occurred_at": "2026-12-07T11:00:00Z"}),
    )  # fmt: skip
    assert "1 sequence enrolment(s) stopped" in handle_email(sqlite_store, event)
    assert _state(sqlite_store, "ann@acme.example") == "replied"
