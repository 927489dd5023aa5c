"""The agent's pieces on their own: free slots (working hours, notice, holidays, daylight
saving, the prospect's zone), the .ics and mail archive readers, message validation, the
configuration's errors and the intake's mapping."""

from __future__ import annotations

import json
import mailbox
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from pipeline.agent.config import (
    AgentConfigError,
    Message,
    Slots,
    load_agent_config,
    parse_agent_config,
)
from pipeline.agent.free_slots import Busy, IcsCalendar, free_slots, pick, search_window
from pipeline.agent.intake import (
    fingerprint,
    parse_submission,
    prospect_of,
    submission_events,
)
from pipeline.agent.mail_history import ArchiveMailHistory
from pipeline.agent.validation import problems
from tests.agent_helpers import form

NY = ZoneInfo("America/New_York")
SLOTS = load_agent_config().slots  # 09:00-17:00 New York, Mon-Fri, US holidays, 2 h notice


def local(text: str, zone: ZoneInfo = NY) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def test_slots_are_in_working_hours_after_the_notice_and_around_busy_times():
    now = local("2026-03-09T10:10")  # a Monday, the day after clocks went forward
    busy = [Busy(local("2026-03-09T12:00"), local("2026-03-09T16:00"))]
    found = free_slots(SLOTS, busy, now)
    first_day = [s for s in found if s.start.astimezone(NY).date().isoformat() == "2026-03-09"]
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in first_day] == ["16:00", "16:30"]
    assert all(s.end - s.start == timedelta(minutes=30) for s in found)
    start, end, days = search_window(SLOTS, now)
    assert [d.isoformat() for d in days] == [
        "2026-03-09",
        "2026-03-10",
        "2026-03-11",
        "2026-03-12",
        "2026-03-13",
    ]
    assert end == local("2026-03-13T17:00") and start == now
    # Shown where the prospect is, one a day: Los Angeles sees 13:00 for 16:00 New York.
    offered = pick(found, SLOTS, ZoneInfo("America/Los_Angeles"))
    assert [s.text(ZoneInfo("America/Los_Angeles")) for s in offered] == [
        "Monday 9 March, 13:00-13:30 PDT",
        "Tuesday 10 March, 06:00-06:30 PDT",
        "Wednesday 11 March, 06:00-06:30 PDT",
    ]


def test_holidays_and_weekends_are_not_business_days():
    now = local("2026-11-25T18:00")  # Wednesday evening before Thanksgiving
    _, _, days = search_window(SLOTS, now)
    assert [d.isoformat() for d in days] == [
        "2026-11-25",
        "2026-11-27",
        "2026-11-30",
        "2026-12-01",
        "2026-12-02",
    ]
    assert free_slots(SLOTS, [], now)[0].start == local("2026-11-27T09:00")


def test_a_fully_booked_week_has_no_slot():
    now = local("2026-03-09T08:00")
    busy = [Busy(now - timedelta(days=1), now + timedelta(days=14))]
    assert free_slots(SLOTS, busy, now) == []


def test_ics_recurrences_all_day_events_floating_times_and_free_events(tmp_path):
    ics = tmp_path / "owner.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=America/New_York:20260105T090000\r\n"
        "DTEND;TZID=America/New_York:20260105T093000\r\nRRULE:FREQ=DAILY;COUNT=400\r\n"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260310\r\n"
        "DTEND;VALUE=DATE:20260311\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:c\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260311T140000\r\n"
        "DTEND:20260311T150000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20260101T000000Z\r\nTRANSP:TRANSPARENT\r\n"
        "DTSTART:20260312T100000Z\r\nDTEND:20260312T200000Z\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20260101T000000Z\r\nSTATUS:CANCELLED\r\n"
        "DTSTART:20260313T100000Z\r\nDTEND:20260313T200000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    now = local("2026-03-09T08:00")
    start, end, _ = search_window(SLOTS, now)
    busy = IcsCalendar(ics).busy("alex@ourcompany.example", start, end, NY)
    found = free_slots(SLOTS, busy, now)
    by_day: dict[str, list[str]] = {}
    for slot in found:
        moment = slot.start.astimezone(NY)
        by_day.setdefault(moment.date().isoformat(), []).append(moment.strftime("%H:%M"))
    assert "2026-03-10" not in by_day  # the all-day event
    assert by_day["2026-03-09"][0] == "10:00"  # two hours' notice
    later = [times for day, times in by_day.items() if day != "2026-03-09"]
    assert all(times[0] == "09:30" for times in later)  # the daily 09:00 meeting
    assert "14:00" not in by_day["2026-03-11"] and "14:30" not in by_day["2026-03-11"]
    assert len(by_day["2026-03-12"]) == len(by_day["2026-03-13"]) == 15  # free and cancelled


def test_an_unreadable_calendar_names_the_variable(tmp_path):
    from pipeline.agent.free_slots import CalendarError

    with pytest.raises(CalendarError, match=r"CALENDAR_ICS=.*no such file"):
        IcsCalendar(tmp_path / "nope.ics").busy(
            "x@y.z", local("2026-01-01T00:00"), local("2026-01-02T00:00"), NY
        )


def _message(sender: str, to: str, subject: str, date: str, body: str = "Hello.") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Date"] = sender, to, subject, date
    message.set_content(body)
    return message


US = "alex@us.example"
MESSAGES = [
    _message("Jane <jane@acme.example>", US, "One", "Mon, 02 Nov 2026 10:00:00 +0000"),
    _message(US, "bob@acme.example", "Two", "Tue, 03 Nov 2026 10:00:00 +0000"),
    _message("sam@other.example", US, "Three", "Wed, 04 Nov 2026 10:00:00 +0000"),
    _message("jane@acme.example", US, "Old", "Mon, 01 Jan 2024 10:00:00 +0000"),
]


@pytest.mark.parametrize("kind", ["eml", "mbox"])
def test_the_mail_archive_finds_the_address_and_the_company_domain(tmp_path, kind):
    if kind == "eml":
        path = tmp_path / "mail"
        (path / "2026").mkdir(parents=True)
        for i, message in enumerate(MESSAGES):
            (path / "2026" / f"{i}.eml").write_bytes(message.as_bytes())
    else:
        path = tmp_path / "archive.mbox"
        box = mailbox.mbox(path)
        for message in MESSAGES:
            box.add(message)
        box.close()
    history = ArchiveMailHistory(path)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    items = history.exchanged("alex@us.example", "jane@acme.example", "acme.example", since, 5)
    assert [(i.subject, i.direction) for i in items] == [("Two", "from_us"), ("One", "from_them")]
    only_her = history.exchanged("alex@us.example", "jane@acme.example", None, since, 5)
    assert [i.subject for i in only_her] == ["One"]
    assert only_her[0].snippet == "Hello."


FACTS = {
    "prospect": {"first_name": "Jane", "company": "Acme Robotics", "email": "jane@acme.example"},
    "slots": {"times": ["Tuesday 10 March, 10:00-10:30 PDT"], "length_minutes": 30},
    "sender": {"name": "Alex Morgan", "title": "Account Executive"},
    "our_company": {
        "name": "Northwind Leads",
        "pitch": "We clean lead files and keep HubSpot in sync.",
        "website": "https://ourcompany.example",
        "booking_link": "https://ourcompany.example/book",
    },
}
GOOD = (
    "Hi Jane,\n\nThank you for getting in touch about Acme Robotics. We clean lead files and "
    "keep HubSpot in sync. Would Tuesday 10 March, 10:00-10:30 PDT work for a 30-minute "
    "call? You can also book at https://ourcompany.example/book.\n\nLooking forward to it.\n"
    "Best regards,\nAlex Morgan\nAccount Executive\nNorthwind Leads"
)


def test_a_message_from_the_facts_passes():
    assert problems("Acme Robotics and Northwind Leads", GOOD, FACTS, Message()) == []


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("x" * 120, GOOD, "the subject has 120 characters"),
        ("Hi", "Hi Jane, thanks.", "the body has 3 words"),
        (
            "Acme",
            "Hallo Jane, vielen Dank für Ihre Nachricht über Acme Robotics. Wir bereinigen "
            "Listen und halten HubSpot aktuell. Passt Ihnen Tuesday 10 March um 10:00? Mit "
            "freundlichen Grüßen, Alex Morgan von Northwind Leads, wir freuen uns sehr auf "
            "das Gespräch mit Ihnen und Ihrem Team.",
            "is in 'de'",
        ),
        ("Acme", GOOD + "\nSee https://evil.example/offer", "links not in the facts"),
        ("Acme", GOOD + "\nWrite to ceo@globex.example", "email addresses not in the facts"),
        ("Acme", GOOD + "\nIt is only $499 a month.", "prices are not facts here: $499"),
        ("Acme", GOOD + "\nWe cut duplicates by 87 percent.", "numbers not in the facts: 87"),
        ("Acme", GOOD + "\nOur customer Initech loves it.", "names not in the facts: Initech"),
        ("Acme", GOOD + "\nGlobex uses it too.", "names not in the facts: Globex"),
    ],
)
def test_messages_breaking_a_rule_are_refused_with_the_reason(subject, body, expected):
    found = problems(subject, body, FACTS, Message())
    assert any(expected in p for p in found), found


def test_allowed_terms_and_links_widen_what_may_be_said():
    rules = Message(allowed_terms=["Salesforce"], allowed_links=["https://docs.partner.example"])
    body = GOOD + "\nWe also sync Salesforce: https://docs.partner.example/sync"
    assert problems("Acme", body, FACTS, rules) == []


def test_configuration_errors_name_the_file_and_the_key(tmp_path):
    with pytest.raises(AgentConfigError, match=r"agent.yaml: slots.working_hours.start: '9am'"):
        parse_agent_config(
            {
                "owner": {"name": "A"},
                "company": {"name": "B"},
                "slots": {"working_hours": {"start": "9am"}},
            },
            "agent.yaml",
        )
    with pytest.raises(AgentConfigError, match=r"x.yaml: owner.email: not an email address"):
        parse_agent_config(
            {"owner": {"name": "A", "email": "nope"}, "company": {"name": "B"}}, "x.yaml"
        )
    template = tmp_path / "t.j2"
    template.write_text("Hello {{ p.first_name }}")
    with pytest.raises(AgentConfigError, match=r"message.template: needs \{% block subject %\}"):
        parse_agent_config(
            {
                "owner": {"name": "A"},
                "company": {"name": "B"},
                "message": {"template": str(template)},
            },
            "y.yaml",
        )
    with pytest.raises(AgentConfigError, match="no such file"):
        load_agent_config(tmp_path / "missing.yaml")
    assert isinstance(Slots().working_hours.start.hour, int)


def test_intake_maps_form_fields_with_the_ingest_aliases_and_keeps_the_rest():
    data = form(
        "c-1",
        email=" Jane.Doe@ACME-Robotics.com ",
        message="Call me",
        how_did_you_hear=["Expo", "Blog"],  # type: ignore[arg-type]
        jobtitle="vp, sales",
    )
    prospect = prospect_of(parse_submission(data, "x"))
    assert prospect["email"] == "jane.doe@acme-robotics.com"
    assert prospect["notes"] == "Call me" and prospect["domain"] == "acme-robotics.com"
    assert prospect["other_fields"] == {"how_did_you_hear": "Expo;Blog"}
    assert prospect["seniority"] == "vp"
    (event,) = submission_events(json.dumps(data).encode())
    assert event.fingerprint == fingerprint("c-1") and event.source == "forms"
