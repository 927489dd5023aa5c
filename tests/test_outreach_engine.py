"""The sequence engine on a simulated clock: config errors, time zones, windows (DST,
holidays), enrolment rules, caps and stagger, follow-ups, stop conditions, approvals,
exactly-once delivery across a crash, and the kill switch mid-tick."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from pipeline.clock import SimulatedClock
from pipeline.crm.client import OutboxCrm
from pipeline.email.outbox import OutboxBackend
from pipeline.outreach import approvals
from pipeline.outreach.calendar import calendar_for
from pipeline.outreach.config import SequenceConfigError, parse_sequences
from pipeline.outreach.engine import TickReport
from pipeline.outreach.stops import manual_stop, stop_for_email_event, unsubscribe
from pipeline.outreach.timezones import recipient_zone
from pipeline.store import pause
from pipeline.store.tables import (
    crm_contact_changes,
    crm_outbox,
    crm_sync_ledger,
    email_messages,
    email_outbox,
    outreach_enrolments,
    outreach_transitions,
    suppression_list,
)
from tests.outreach_helpers import (
    MAILBOX,
    MONDAY_10_LONDON,
    config,
    crm_of,
    leads,
    make_outreach,
    sequence,
)


def _rows(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(select(table).where(*where)).all()


def _enrolments(engine):
    return {r.email: r for r in _rows(engine, outreach_enrolments)}


def _sent(engine):
    return _rows(engine, email_messages, email_messages.c.status == "sent")


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"send_window": {"start": "9am"}}, "test.yaml: sequences[0].send_window.start: '9am'"),
        (
            {"send_window": {"default_timezone": "Mars/Olympus"}},
            "sequences[0].send_window.default_timezone: 'Mars/Olympus' is not an IANA",
        ),
        ({"holidays": ["XX"]}, "sequences[0].holidays: no holiday calendar for ['XX']"),
        (
            {"steps": [{"channel": "email", "template": {"subject": "{{ x", "text": "t"}}]},
            "sequences[0].steps[0].template.subject: template error on line 1",
        ),
        ({"steps": [{"channel": "email"}]}, "sequences[0].steps[0].template: an email step"),
        ({"send_window": {"start": "17:00", "end": "09:00"}}, "start 17:00 is not before end"),
        ({"mailbox": {"from": "not an address"}}, "sequences[0].mailbox.from: not an email"),
    ],
)
def test_a_bad_sequence_is_named_by_file_and_key(change, message):
    with pytest.raises(SequenceConfigError) as exc:
        parse_sequences({"sequences": [sequence(**change)]}, "test.yaml")
    assert message in str(exc.value)


def test_one_mailbox_has_one_daily_cap():
    other = sequence(name="other", mailbox={"from": MAILBOX, "daily_cap": 10})
    with pytest.raises(SequenceConfigError, match=r"sequences\[1\].mailbox.daily_cap"):
        parse_sequences({"sequences": [sequence(), other]}, "test.yaml")


def test_the_shipped_sequences_file_is_valid():
    from pipeline.outreach.config import load_sequences

    assert load_sequences().sequences[0].name == "new-a-b-leads"


# --- where and when --------------------------------------------------------------------------


def test_recipient_zone_from_state_then_phone_then_country_then_default():
    assert recipient_zone("US", "CO", None, "UTC") == ("America/Denver", "state")
    assert recipient_zone("CA", "BC", None, "UTC") == ("America/Vancouver", "state")
    assert recipient_zone("US", None, "+12125550150", "UTC") == ("America/New_York", "phone")
    assert recipient_zone("DE", None, None, "UTC") == ("Europe/Berlin", "country")
    # The US spans zones: without a state or phone the sender's zone is the stated default.
    assert recipient_zone("US", None, None, "America/Chicago") == ("America/Chicago", "default")


def test_windows_keep_local_time_across_daylight_saving_and_skip_holidays():
    seq = config(sequence(holidays=["US"])).sequences[0]
    ny = calendar_for(seq, "America/New_York", "US")
    # Saturday -> Monday 09:00 local.
    assert ny.next_open(datetime(2026, 3, 7, 15, tzinfo=UTC)) == datetime(
        2026, 3, 9, 13, tzinfo=UTC
    )  # 09:00 EDT (after the 8 March change)
    assert ny.next_open(datetime(2026, 3, 6, 3, tzinfo=UTC)) == datetime(
        2026, 3, 6, 14, tzinfo=UTC
    )  # 09:00 EST the Friday before
    # Thanksgiving (26 Nov 2026) is skipped, and so are business days over it.
    assert not ny.is_open_day(date(2026, 11, 26))
    assert ny.add_business_days(date(2026, 11, 25), 1) == date(2026, 11, 27)
    # A step 3 business days after a Thursday send comes on Tuesday, same local time.
    sent = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # Thu 10:30 EST
    due = ny.due_after(sent, 3)
    assert due.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") == "Tue 10:30"
    # After 17:00 local: the next open day's 09:00.
    late = datetime(2026, 12, 8, 23, tzinfo=UTC)  # Tue 18:00 EST
    assert ny.next_open(late) == datetime(2026, 12, 9, 14, tzinfo=UTC)


# --- enrolment -------------------------------------------------------------------------------


def test_enrolment_follows_the_rules_and_says_why_others_were_left_out(sqlite_store):
    frame = leads(
        [
            {"email": "a@one.example"},
            {"email": "c@two.example", "lead_grade": "C"},
            {"email": "b@three.example", "lead_grade": "B", "first_name": None},
            {"email": "s@four.example"},
            {"email": "x@five.example", "email_valid": False},
            {"email": "n@six.example"},
        ]
    )
    crm = crm_of(frame).filter(~(crm_of(frame)["id_value"] == "n@six.example"))
    with sqlite_store.begin() as conn:
        conn.execute(
            insert(suppression_list),
            {"email": "s@four.example", "reason": "unsubscribed", "source": "t",
             "added_at": MONDAY_10_LONDON},
        )  # fmt: skip
    outreach = make_outreach(sqlite_store, config())
    report = outreach.tick(frame, crm).enrolled["seq"]
    assert report.enrolled == 1
    assert report.skipped["template needs first_name"] == 1
    assert report.skipped["suppressed"] == 1
    assert report.skipped["not in the CRM"] == 1
    assert report.skipped["invalid email"] == 1
    row = _enrolments(sqlite_store)["a@one.example"]
    assert row.reason == "grade A, score 80" and row.timezone == "Europe/London"
    causes = [t.cause for t in _rows(sqlite_store, outreach_transitions)]
    assert causes[:2] == ["matched the enrol rules", "first step scheduled"]
    # A second tick enrols nobody twice and sends nothing twice.
    outreach.tick(frame, crm)
    assert len(_enrolments(sqlite_store)) == 1
    assert len(_sent(sqlite_store)) == 1


# --- windows, caps, stagger ------------------------------------------------------------------


def test_sends_happen_in_the_recipients_local_window(sqlite_store):
    frame = leads(
        [
            {"email": "ldn@a.example", "country": "GB"},
            {"email": "ny@b.example", "country": "US", "state": "NY"},
            {"email": "syd@c.example", "country": "AU", "state": "NSW"},
        ]
    )
    clock = SimulatedClock(MONDAY_10_LONDON)
    outreach = make_outreach(sqlite_store, config(), clock=clock)
    outreach.tick(frame, crm_of(frame))
    assert [r.to_email for r in _sent(sqlite_store)] == ["ldn@a.example"]
    clock.set(datetime(2026, 12, 7, 14, 5, tzinfo=UTC))  # 09:05 in New York, 01:05 in Sydney
    outreach.tick()
    assert {r.to_email for r in _sent(sqlite_store)} == {"ldn@a.example", "ny@b.example"}
    clock.set(datetime(2026, 12, 7, 22, 0, tzinfo=UTC))  # Tue 09:00 in Sydney
    outreach.tick()
    sent = {r.to_email: r.sent_at for r in _sent(sqlite_store)}
    assert set(sent) == {"ldn@a.example", "ny@b.example", "syd@c.example"}


def test_daily_cap_per_mailbox_and_stagger_between_sends(sqlite_store):
    frame = leads([{"email": f"p{i}@x{i}.example"} for i in range(10)])
    clock = SimulatedClock(MONDAY_10_LONDON)
    seq = sequence(mailbox={"from": MAILBOX, "daily_cap": 4}, stagger_seconds=60)
    outreach = make_outreach(sqlite_store, config(seq), clock=clock)
    report = outreach.tick(frame, crm_of(frame))
    times = sorted(r.sent_at for r in _sent(sqlite_store))
    assert len(times) == 4
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [60] * 3
    assert clock.now() == MONDAY_10_LONDON + timedelta(seconds=180)  # waited, never slept
    assert report.deferred["daily cap"] == 6
    clock.advance(hours=2)
    outreach.tick()
    assert len(_sent(sqlite_store)) == 4  # same day: the cap holds
    clock.set(datetime(2026, 12, 8, 10, tzinfo=UTC))
    outreach.tick()
    assert len(_sent(sqlite_store)) == 8


def test_follow_ups_wait_business_days_reply_in_thread_and_complete(sqlite_store):
    steps = [
        *sequence()["steps"],
        {"channel": "crm_task", "delay_business_days": 1},
    ]
    frame = leads([{"email": "ann@acme.example"}])
    clock = SimulatedClock(datetime(2026, 12, 10, 10, tzinfo=UTC))  # Thursday
    crm_factory = lambda: OutboxCrm(sqlite_store)  # noqa: E731
    outreach = make_outreach(
        sqlite_store, config(sequence(steps=steps)), clock=clock, crm=crm_factory
    )
    outreach.tick(frame, crm_of(frame))
    row = _enrolments(sqlite_store)["ann@acme.example"]
    assert row.state == "sent" and row.step == 1
    assert row.next_due_at.strftime("%a %H:%M") == "Tue 10:00"  # 3 business days, same time
    clock.set(datetime(2026, 12, 14, 10, tzinfo=UTC))  # Monday: not yet
    outreach.tick()
    assert len(_sent(sqlite_store)) == 1
    clock.set(datetime(2026, 12, 15, 10, 1, tzinfo=UTC))
    outreach.tick()
    first, second = sorted(_sent(sqlite_store), key=lambda r: r.id)
    assert second.in_reply_to == first.message_id  # threaded under the first message
    clock.set(datetime(2026, 12, 16, 10, 2, tzinfo=UTC))
    outreach.tick()
    row = _enrolments(sqlite_store)["ann@acme.example"]
    assert row.state == "completed"
    tasks = _rows(sqlite_store, crm_outbox, crm_outbox.c.object_type == "task")
    assert len(tasks) == 1 and "ann@acme.example" in tasks[0].payload


# --- stop conditions -------------------------------------------------------------------------


def test_every_stop_condition_ends_the_sequence_with_its_cause(store):
    frame = leads(
        [
            {"email": "reply@a.example"},
            {"email": "bounce@b.example"},
            {"email": "complaint@c.example"},
            {"email": "unsub@d.example"},
            {"email": "manual@e.example"},
            {"email": "crm@f.example", "entity_id": "Ecrm"},
            {"email": "colleague-target@g.example"},
        ]
    )
    seq = sequence(stop={"reply_from_domain": True})
    clock = SimulatedClock(datetime(2026, 12, 5, 10, tzinfo=UTC))  # Saturday: nothing goes
    outreach = make_outreach(store, config(seq), clock=clock, crm=lambda: OutboxCrm(store))
    outreach.tick(frame, crm_of(frame))
    stop_for_email_event(store, "reply", "reply@a.example")
    stop_for_email_event(store, "bounce", "bounce@b.example")
    stop_for_email_event(store, "complaint", "complaint@c.example")
    unsubscribe(store, "unsub@d.example", source="one_click:outreach")
    manual_stop(store, "manual@e.example", by="ann@ops", reason="asked by phone")
    stop_for_email_event(store, "reply", "boss@g.example")  # same company domain
    with store.begin() as conn:
        conn.execute(
            insert(crm_sync_ledger),
            {"backend": "hubspot", "entity_id": "Ecrm", "id_value": "crm@f.example",
             "crm_id": "901", "properties": "{}", "properties_hash": "h",
             "synced_at": clock.now()},
        )  # fmt: skip
        conn.execute(
            insert(crm_sync_ledger),
            {"backend": "outbox", "entity_id": "E00003", "id_value": "unsub@d.example",
             "crm_id": None, "properties": "{}", "properties_hash": "h",
             "synced_at": clock.now()},
        )  # fmt: skip
        conn.execute(
            insert(crm_contact_changes),
            {"event_fingerprint": "fp1", "crm_id": "901", "change": "property",
             "property": "lifecyclestage", "value": "opportunity", "change_source": "CRM_UI",
             "occurred_at": clock.now() + timedelta(hours=1)},
        )  # fmt: skip
    clock.set(datetime(2026, 12, 7, 10, tzinfo=UTC))
    outreach.tick()
    states = {e: (r.state) for e, r in _enrolments(store).items()}
    assert states == {
        "reply@a.example": "replied",
        "bounce@b.example": "bounced",
        "complaint@c.example": "stopped",
        "unsub@d.example": "unsubscribed",
        "manual@e.example": "stopped",
        "crm@f.example": "stopped",
        "colleague-target@g.example": "replied",
    }
    assert _sent(store) == []  # nobody stopped got anything
    causes = {r.cause for r in _rows(store, outreach_transitions)}
    assert {"reply", "bounce", "complaint", "unsubscribe", "manual stop"} <= causes
    assert {"crm lifecycle change", "reply from the domain"} <= causes
    # The unsubscribe reached the CRM (an update of the contact in the CRM outbox).
    updates = _rows(store, crm_outbox, crm_outbox.c.operation == "update")
    assert [json.loads(u.payload) for u in updates] == [{"outreach_opted_out": "true"}]


def test_an_address_suppressed_by_another_road_stops_only_its_enrolment_at_the_next_tick(
    sqlite_store,
):
    frame = leads([{"email": "opt@out.example"}, {"email": "ann@keep.example"}])
    clock = SimulatedClock(datetime(2026, 12, 5, 10, tzinfo=UTC))  # Saturday: nothing goes
    outreach = make_outreach(sqlite_store, config(), clock=clock)
    outreach.tick(frame, crm_of(frame))
    with sqlite_store.begin() as conn:
        conn.execute(
            insert(suppression_list),
            {"email": "opt@out.example", "reason": "hard_bounce", "source": "hubspot_webhook",
             "added_at": clock.now()},
        )  # fmt: skip
    report = outreach.tick()
    assert report.stopped["suppressed"] == 1
    rows = _enrolments(sqlite_store)
    assert rows["opt@out.example"].state == "bounced"
    assert rows["ann@keep.example"].state == "scheduled"
    causes = {r.cause for r in _rows(sqlite_store, outreach_transitions)}
    assert "suppressed: hard bounce" in causes


def test_the_suppression_list_is_read_before_every_send(sqlite_store):
    frame = leads([{"email": "late@a.example"}, {"email": "fine@b.example"}])
    seq = sequence(stagger_seconds=30)
    clock = SimulatedClock(MONDAY_10_LONDON)
    outreach = make_outreach(sqlite_store, config(seq), clock=clock)
    outreach.tick(frame, crm_of(frame))  # both sent
    clock.set(datetime(2026, 12, 10, 10, 5, tzinfo=UTC))  # follow-ups due
    outreach.plan_due(TickReport(clock.now(), "auto"))
    # Suppressed after the follow-up was planned (rendered, reserved), before it went.
    with sqlite_store.begin() as conn:
        conn.execute(
            insert(suppression_list),
            {"email": "late@a.example", "reason": "complaint", "source": "test",
             "added_at": clock.now()},
        )  # fmt: skip
    outreach.deliver_approved(TickReport(clock.now(), "auto"))
    late = sorted((r.idempotency_key, r.status) for r in _rows(
        sqlite_store, email_messages, email_messages.c.to_email == "late@a.example"))  # fmt: skip
    assert [status for _, status in late] == ["sent", "suppressed"]
    fine = _rows(sqlite_store, email_messages, email_messages.c.to_email == "fine@b.example")
    assert [r.status for r in fine] == ["sent", "sent"]


def test_a_mailbox_past_its_bounce_rate_is_paused_with_an_alert(sqlite_store, caplog):
    frame = leads([{"email": f"b{i}@x{i}.example"} for i in range(10)])
    seq = sequence(bounce_pause={"max_rate": 0.2, "min_sent": 5})
    clock = SimulatedClock(MONDAY_10_LONDON)
    outreach = make_outreach(sqlite_store, config(seq), clock=clock)
    outreach.tick(frame, crm_of(frame))
    for i in range(3):
        stop_for_email_event(sqlite_store, "bounce", f"b{i}@x{i}.example", at=clock.now())
    clock.advance(hours=1)
    report = outreach.tick()
    assert report.paused_mailboxes == [MAILBOX]
    assert "ALERT outreach mailbox" in caplog.text
    states = {
        r.state
        for e, r in _enrolments(sqlite_store).items()
        if not e.startswith(("b0", "b1", "b2"))
    }
    assert states == {"paused"}
    clock.set(datetime(2026, 12, 10, 10, tzinfo=UTC))
    outreach.tick()
    assert len(_sent(sqlite_store)) == 10  # nothing more while paused
    outreach.resume_mailbox(MAILBOX, by="ann@ops")
    outreach.tick()
    assert len(_sent(sqlite_store)) == 17


# --- modes, approvals ------------------------------------------------------------------------


def test_approval_mode_waits_for_a_person_and_records_who(sqlite_store):
    frame = leads([{"email": f"p{i}@x{i}.example"} for i in range(3)])
    outreach = make_outreach(sqlite_store, config(), mode="approval")
    outreach.tick(frame, crm_of(frame))
    assert _sent(sqlite_store) == []
    waiting = approvals.waiting(outreach)
    assert [w.subject for w in waiting] == ["Quick question, Ann"] * 3
    assert waiting[0].reason == "grade A, score 80"
    assert {r.state for r in _enrolments(sqlite_store).values()} == {"pending_approval"}
    changed, report = approvals.approve(outreach, [waiting[0].id], "ann@ops")
    assert changed == [waiting[0].id] and report.delivered["sent"] == 1
    approvals.deny(outreach, [waiting[1].id], "bob@ops", reason="wrong person")
    approvals.deny(outreach, [waiting[2].id], "bob@ops", skip_step=True)
    states = {r.email: (r.state, r.step) for r in _enrolments(sqlite_store).values()}
    assert states["p0@x0.example"] == ("sent", 1)
    assert states["p1@x1.example"] == ("stopped", 0)
    assert states["p2@x2.example"] == ("scheduled", 1)
    from pipeline.store.audit import entries

    actions = {(e["action"], e["actor"]) for e in entries(sqlite_store)}
    assert {("outreach.approve", "ann@ops"), ("outreach.deny", "bob@ops")} <= actions


def test_draft_only_on_the_outbox_drafts_and_sends_nothing(sqlite_store):
    frame = leads([{"email": f"p{i}@x{i}.example"} for i in range(3)])
    clock = SimulatedClock(MONDAY_10_LONDON)
    outreach = make_outreach(sqlite_store, config(), mode="draft_only", clock=clock)
    outreach.tick(frame, crm_of(frame))
    clock.set(datetime(2026, 12, 10, 10, tzinfo=UTC))
    outreach.tick()
    kinds = [r.kind for r in _rows(sqlite_store, email_outbox)]
    assert kinds == ["draft"] * 6
    assert _sent(sqlite_store) == []


# --- exactly once ----------------------------------------------------------------------------


class Crash(BaseException):
    """A process dying between the provider's answer and the record."""


def test_a_crash_between_send_and_record_is_not_sent_again(sqlite_store):
    frame = leads([{"email": "once@a.example"}])
    clock = SimulatedClock(MONDAY_10_LONDON)

    def crash(_row_id: int) -> None:
        raise Crash

    outreach = make_outreach(
        sqlite_store, config(), clock=clock, after_provider=crash, stale_after=timedelta(0)
    )
    with pytest.raises(Crash):
        outreach.tick(frame, crm_of(frame))
    (row,) = _rows(sqlite_store, email_messages)
    assert row.status == "sending"
    from sqlalchemy import delete

    from pipeline.store.tables import outreach_leases

    with sqlite_store.begin() as conn:  # the dead process's lease
        conn.execute(delete(outreach_leases))
    again = make_outreach(sqlite_store, config(), clock=clock, stale_after=timedelta(0))
    report = again.tick()
    assert report.reconciled["sent"] == 1
    assert [r.kind for r in _rows(sqlite_store, email_outbox)] == ["sent"]  # once
    (row,) = _rows(sqlite_store, email_messages)
    assert row.status == "sent" and row.provider_id.startswith("outbox:")
    assert _enrolments(sqlite_store)["once@a.example"].step == 1


def test_the_kill_switch_stops_a_tick_between_two_sends(sqlite_store):
    frame = leads([{"email": f"p{i}@x{i}.example"} for i in range(5)])
    sent: list[int] = []

    def pause_after_first(row_id: int) -> None:
        sent.append(row_id)
        if len(sent) == 1:
            pause.pause(sqlite_store, "ops@test", "bad list")

    outreach = make_outreach(sqlite_store, config(), after_provider=pause_after_first)
    with pytest.raises(pause.SideEffectsPaused, match="email sends stopped"):
        outreach.tick(frame, crm_of(frame))
    assert len(_rows(sqlite_store, email_outbox)) == 1
    assert {r.status for r in _rows(sqlite_store, email_messages)} <= {"sent", "approved"}


def test_outbox_backend_keeps_whole_messages(sqlite_store):
    frame = leads([{"email": "ann@acme.example"}])
    outreach = make_outreach(sqlite_store, config(), backend=OutboxBackend(sqlite_store))
    outreach.tick(frame, crm_of(frame))
    (stored,) = _rows(sqlite_store, email_outbox)
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in stored.raw
    assert "Content-Type: text/plain" in stored.raw and "Content-Type: text/html" in stored.raw
