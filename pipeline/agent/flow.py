"""The seven steps, each once per submission: claim, do, record, audit.

`run_step(services, step, submission)` claims the step in the ledger (another run that has it,
or a step not due yet, is skipped), hashes its inputs (the prospect and the earlier steps'
results it reads), does it, and records the result, a failure (retried with backoff, then
dead-lettered with the step named) or a wait (the LLM budget is spent). Every attempt is
written to the audit log: actor, the inputs' hash, result or error, duration. A later step
reads earlier results from the ledger, so a submission resumes where it stopped and nothing
done is done again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from pipeline.agent import ledger
from pipeline.agent.config import AgentConfig
from pipeline.agent.crm_records import resolve
from pipeline.agent.draft import DraftNotMade, make_draft
from pipeline.agent.followup import create_followup, task_for
from pipeline.agent.free_slots import BusyCalendar, NoCalendar, free_slots, pick, search_window
from pipeline.agent.ledger import STEPS, Submission
from pipeline.agent.mail_history import MailHistory
from pipeline.agent.writer import MessageRejected, Writer
from pipeline.clock import Clock, SystemClock
from pipeline.crm.client import CrmClient
from pipeline.email.mailer import Mailer
from pipeline.llm import LlmBudgetSpent
from pipeline.outreach.timezones import recipient_zone
from pipeline.store import audit
from pipeline.store.pause import SideEffectsPaused, check_not_paused
from pipeline.store.sql import sha256_hex

log = logging.getLogger("pipeline.agent")

# What each step reads from the earlier ones (its inputs, hashed for the audit log).
NEEDS: dict[str, tuple[str, ...]] = {
    "intake": (),
    "crm": (),
    "mail_history": ("crm",),
    "free_slots": (),
    "message": ("crm", "mail_history", "free_slots"),
    "draft": ("message",),
    "followup": ("crm", "free_slots", "draft"),
}


class FinalFailure(RuntimeError):
    """Retrying cannot help (a suppressed address): the step is dead-lettered at once."""


@dataclass
class AgentServices:
    """Everything the steps talk to; built per run (lazily: a step builds what it uses)."""

    engine: Engine
    config: AgentConfig
    owner_email: str
    crm_factory: Callable[[], CrmClient]
    mail_history: MailHistory
    calendar: BusyCalendar
    writer_factory: Callable[[], Writer]
    mailer_factory: Callable[[], Mailer]
    enrich: Callable[[dict[str, Any]], dict[str, Any]] = lambda _p: {}
    clock: Clock = field(default_factory=SystemClock)
    run_id: str | None = None
    actor: str = "agent"
    config_dir: Path | None = None

    @cached_property
    def crm(self) -> CrmClient:
        return self.crm_factory()

    @cached_property
    def writer(self) -> Writer:
        return self.writer_factory()

    @cached_property
    def mailer(self) -> Mailer:
        return self.mailer_factory()

    @property
    def owner_zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.slots.working_hours.default_timezone)

    def gate(self, what: str) -> None:
        check_not_paused(self.engine, what)

    def close(self) -> None:
        if "crm" in self.__dict__:
            self.crm.close()


@dataclass(frozen=True)
class StepOutcome:
    submission_id: str
    step: str
    status: str  # done | failed | dead | waiting | skipped
    detail: str | None = None


# --- the steps ---------------------------------------------------------------------------
def _crm(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    enriched = s.enrich(sub.prospect)
    return resolve(s.crm, sub.prospect, enriched, s.gate)


def _mail_history(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    rules = s.config.mail_history
    now = s.clock.now()
    domain = done["crm"].get("domain")
    items = s.mail_history.exchanged(
        s.owner_email,
        sub.prospect["email"],
        domain,
        now - timedelta(days=rules.lookback_days),
        rules.max_messages,
    )
    return {
        "source": s.mail_history.describe(),
        "count": len(items),
        "last_date": items[0].as_fact()["at"] if items else None,
        "messages": [i.as_fact() for i in items],
    }


def _free_slots(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    p = sub.prospect
    rules = s.config.slots
    zone_name, zone_source = recipient_zone(
        p.get("country"), p.get("state"), p.get("phone_e164"), rules.working_hours.default_timezone
    )
    zone = ZoneInfo(zone_name)
    base = {
        "timezone": zone_name,
        "timezone_source": zone_source,
        "length_minutes": rules.length_minutes,
        "source": s.calendar.describe(),
    }
    if isinstance(s.calendar, NoCalendar) or rules.offer == 0:
        return {**base, "times": [], "slots": [], "why_none": "no calendar to check"}
    now = s.clock.now()
    start, end, _days = search_window(rules, now)
    busy = s.calendar.busy(s.owner_email, start, end, s.owner_zone)
    chosen = pick(free_slots(rules, busy, now), rules, zone)
    return {
        **base,
        "times": [slot.text(zone) for slot in chosen],
        "slots": [{"start": c.start.isoformat(), "end": c.end.isoformat()} for c in chosen],
        "busy_intervals": len(busy),
        "why_none": None
        if chosen
        else f"no free {rules.length_minutes}-minute slot in the next "
        f"{rules.business_days_ahead} business days",
    }


def facts_of(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    """The only things the writer may use."""
    p = sub.prospect
    crm, history, slots = done["crm"], done["mail_history"], done["free_slots"]
    enriched = crm.get("enrichment") or {}
    our = s.config.company
    booking = next(iter(s.config.message.allowed_links), None)
    company = {
        k: v
        for k, v in {
            "name": p.get("company") or crm["company_properties"].get("name"),
            "domain": crm.get("domain"),
            **{k: v for k, v in enriched.items() if k not in ("company",)},
            **{
                k: v
                for k, v in crm["company_properties"].items()
                if k in ("industry", "numberofemployees", "country", "city")
            },
        }.items()
        if v not in (None, "", [])
    }
    return {
        "prospect": {
            k: p.get(k)
            for k in (
                "first_name",
                "last_name",
                "email",
                "company",
                "job_title",
                "phone_e164",
                "country",
                "state",
                "city",
                "website",
            )
            if p.get(k)
        },
        "form": {
            "page_url": p.get("page_url"),
            "submitted_at": (p.get("submitted_at") or "")[:10],
            "message": p.get("notes"),
            "other_fields": p.get("other_fields") or {},
        },
        "company": company,
        "crm": {
            "contact": "already in the CRM" if crm.get("contact_known") is not None else "new",
            "contact_history": crm.get("contact_known") or {},
            "company_history": crm.get("company_known") or {},
        },
        "mail_history": {
            "count": history["count"],
            "last_date": history["last_date"],
            "messages": history["messages"],
        },
        "slots": {
            "timezone": slots["timezone"],
            "length_minutes": slots["length_minutes"],
            "times": slots["times"],
        },
        "sender": {
            "name": s.config.owner.name,
            "title": s.config.owner.title,
            "email": s.owner_email,
        },
        "our_company": {
            "name": our.name,
            "pitch": our.pitch,
            "website": our.website,
            "booking_link": booking,
        },
    }


def _message(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    facts = facts_of(s, sub, done)
    written = s.writer.write(facts, actor=s.actor, run_id=s.run_id)
    return {**written.as_result(), "facts": facts}


def _draft(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    owner = s.config.owner
    from_header = f"{owner.name} <{s.owner_email}>"
    try:
        return make_draft(
            s.mailer, sub.submission_id, from_header=from_header, to=sub.prospect["email"],
            message=done["message"],
        )  # fmt: skip
    except DraftNotMade as exc:
        if exc.final:
            raise FinalFailure(str(exc)) from None
        raise


def _followup(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    crm = done["crm"]
    task = task_for(
        s.config,
        sub.submission_id,
        sub.prospect,
        crm["contact_id"],
        done["draft"],
        done["free_slots"],
        s.owner_email,
        s.clock.now(),
    )
    owner_id = s.config.owner.hubspot_owner_id or s.crm.owner_id(s.owner_email)
    if owner_id is None:
        raise FinalFailure(
            f"the CRM has no owner with email {s.owner_email}: set owner.hubspot_owner_id in "
            "AGENT_CONFIG (or give that user a seat)"
        )
    s.gate("CRM writes (agent: follow-up task)")
    return create_followup(s.crm, task, owner_id)


def _intake(s: AgentServices, sub: Submission, done: dict[str, dict]) -> dict[str, Any]:
    p = sub.prospect
    return {
        "email": p.get("email"),
        "name": " ".join(x for x in (p.get("first_name"), p.get("last_name")) if x) or None,
        "company": p.get("company"),
        "domain": p.get("domain"),
        "origin": sub.origin,
    }


STEP_FUNCTIONS: dict[str, Callable[[AgentServices, Submission, dict[str, dict]], dict]] = {
    "intake": _intake,
    "crm": _crm,
    "mail_history": _mail_history,
    "free_slots": _free_slots,
    "message": _message,
    "draft": _draft,
    "followup": _followup,
}


def _summary(step: str, result: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a result (not the whole message)."""
    if step == "message":
        return {k: result.get(k) for k in ("subject", "writer", "model", "rejected", "usage")}
    if step == "mail_history":
        return {"count": result.get("count"), "last_date": result.get("last_date")}
    if step == "free_slots":
        return {k: result.get(k) for k in ("timezone", "times", "why_none")}
    if step == "crm":
        return {
            k: result.get(k)
            for k in ("contact_id", "contact_created", "company_id", "company_created", "backend")
        }
    return result


def next_midnight_utc(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), clock_time(0), UTC)


def run_step(s: AgentServices, step: str, sub: Submission) -> StepOutcome:
    sid = sub.submission_id
    attempt = ledger.claim(s.engine, sid, step, s.run_id)
    if attempt is None:
        return StepOutcome(sid, step, "skipped", "another run has it, or it is not due")
    done = ledger.results(s.engine, sid)
    inputs = {"prospect": sub.prospect, **{k: done.get(k) for k in NEEDS[step]}}
    payload = json.dumps(inputs, sort_keys=True, default=str)
    inputs_sha = sha256_hex(payload)
    started = time.perf_counter()

    def record(status: str, details: dict[str, Any]) -> None:
        audit.record(
            s.engine,
            actor=s.actor,
            action=f"agent.{step}",
            subject=sid,
            run_id=s.run_id,
            payload=payload,
            details={
                "status": status,
                "attempt": attempt,
                "duration_ms": int((time.perf_counter() - started) * 1000),
                **details,
            },
        )

    try:
        result = STEP_FUNCTIONS[step](s, sub, done)
    except SideEffectsPaused as exc:
        ledger.release(s.engine, sid, step, str(exc))
        record("paused", {"error": str(exc)})
        raise
    except LlmBudgetSpent as exc:
        until = next_midnight_utc(s.clock.now())
        ledger.wait(s.engine, sid, step, str(exc), until)
        record("waiting", {"error": str(exc), "until": until.isoformat()})
        return StepOutcome(sid, step, "waiting", str(exc))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        final = isinstance(exc, FinalFailure)
        retries = s.config.retries
        status = ledger.fail(
            s.engine,
            sid,
            step,
            error,
            max_attempts=1 if final else retries.max_attempts,
            backoff=timedelta(minutes=retries.backoff_minutes),
            inputs_sha256=inputs_sha,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        record(status, {"error": error})
        log.warning("agent: submission %s step %s %s: %s", sid, step, status, error)
        return StepOutcome(sid, step, status, error)
    duration = int((time.perf_counter() - started) * 1000)
    ledger.finish(s.engine, sid, step, result, inputs_sha, duration)
    record("done", {"result": _summary(step, result)})
    return StepOutcome(sid, step, "done")


def take_in(s: AgentServices, events: list[Any], default_country: str = "US") -> list[StepOutcome]:
    """Inbox events of source `forms` -> submissions (step 1). A submission seen before is
    left alone; one the agent cannot act on (no valid email) is kept as `rejected` with the
    reason, and never retried. Returns the intake outcomes."""
    from pipeline.agent.intake import (
        MalformedSubmission,
        SubmissionRejected,
        parse_submission,
        prospect_of,
    )
    from pipeline.store.inbox import record_failure

    outcomes = []
    for event in events:
        data = json.loads(event.payload)
        try:
            form = parse_submission(data, f"inbox id {event.id}")
        except MalformedSubmission as exc:
            # Not a submission at all (the receiver checks, so a row put in by other means):
            # dead-lettered in the inbox at once, where `webhooks dead-letters` shows it.
            record_failure(s.engine, event.id, f"EventRejected: {exc}", max_attempts=1)
            outcomes.append(StepOutcome(event.object_id or "?", "intake", "rejected", str(exc)))
            continue
        rejected = None
        prospect = None
        try:
            prospect = prospect_of(form, default_country)
        except SubmissionRejected as exc:
            rejected = str(exc)
        origin = "file" if event.event_type.endswith(".file") else "webhook"
        new = ledger.record_submission(
            s.engine,
            submission_id=form.conversion_id,
            data=data,
            origin=origin,
            inbox_id=event.id,
            form_id=form.form_id,
            portal_id=None if form.portal_id is None else str(form.portal_id),
            page_url=form.page_url,
            submitted_at=form.submitted,
            email=prospect["email"] if prospect else None,
            prospect=prospect,
            rejected=rejected,
        )
        if rejected:
            if new:
                audit.record(
                    s.engine,
                    actor=s.actor,
                    action="agent.intake",
                    subject=form.conversion_id,
                    run_id=s.run_id,
                    payload=event.payload,
                    details={"status": "rejected", "error": rejected},
                )
            outcomes.append(StepOutcome(form.conversion_id, "intake", "rejected", rejected))
            continue
        sub = ledger.get(s.engine, form.conversion_id)
        assert sub is not None
        if sub.step == "intake":
            outcomes.append(run_step(s, "intake", sub))
        else:
            outcomes.append(StepOutcome(sub.submission_id, "intake", "skipped", "seen before"))
    return outcomes


def run_ready(s: AgentServices, step: str) -> list[StepOutcome]:
    """Do `step` for every submission that is ready for it."""
    return [run_step(s, step, sub) for sub in ledger.ready(s.engine, step, s.clock.now())]


def run_all(s: AgentServices) -> list[StepOutcome]:
    """Every step after intake, in order, for whatever is ready (the Dagster assets do the
    same, one asset per step)."""
    outcomes: list[StepOutcome] = []
    for step in STEPS[1:]:
        outcomes += run_ready(s, step)
    return outcomes


__all__ = [
    "STEPS",
    "AgentServices",
    "FinalFailure",
    "MessageRejected",
    "StepOutcome",
    "facts_of",
    "run_all",
    "run_ready",
    "run_step",
    "take_in",
]
