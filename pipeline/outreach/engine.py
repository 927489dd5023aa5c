"""The sequence engine: one tick advances every enrolment that is due.

A tick, under a lease so two never overlap (the schedule, `outreach tick`, an approval):

1. enrol new matching leads (when the leads are given: the `sequence_state` asset);
2. settle deliveries a crashed run left in flight (`Mailer.reconcile`), and advance the
   enrolments whose message was delivered but not yet recorded on the enrolment;
3. find replies (Gmail: the mailboxes' recent threads) and apply the stop conditions: the
   suppression list, CRM lifecycle changes;
4. pause a mailbox whose bounce rate over the last 24 h passed its limit (an alert);
5. push unsubscribes to the CRM;
6. plan the due steps, oldest first, up to each mailbox's remaining daily cap: CRM tasks
   are created at once; emails are rendered and reserved (`awaiting_approval` under
   EMAIL_SEND_MODE=approval, else approved);
7. deliver approved messages whose recipient's send window is open now, per mailbox within
   the cap and `stagger_seconds` apart, for at most `tick.max_seconds`.

Time comes from an injected clock, so a month of ticks runs in seconds in the tests and
the benchmark; in production the stagger is real waiting between sends.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update

from pipeline.clock import Clock
from pipeline.crm.client import CrmClient, CrmTask
from pipeline.email.mailer import Mailer, Outcome, last_sent, sent_counts, utc
from pipeline.email.message import OutgoingEmail, new_message_id
from pipeline.email.unsubscribe import UnsubscribeLinks
from pipeline.outreach.calendar import calendar_for, sender_day
from pipeline.outreach.config import Sequence, SequencesFile
from pipeline.outreach.enrol import EnrolReport, enrol
from pipeline.outreach.states import (
    ACTIVE,
    RUNNING,
    enrolment_ref,
    message_key,
    transition,
)
from pipeline.outreach.stops import (
    MAILER_DAEMONS,
    stop_for_crm_changes,
    stop_for_email_event,
    stop_suppressed,
    unsubscribe,
)
from pipeline.outreach.templates import render
from pipeline.store import audit
from pipeline.store.pause import check_not_paused
from pipeline.store.sql import dialect_insert
from pipeline.store.tables import (
    crm_sync_ledger,
    email_messages,
    outreach_crm_updates,
    outreach_enrolments,
    outreach_leases,
    outreach_mailboxes,
    outreach_transitions,
)

log = logging.getLogger("pipeline.outreach")

MODES = ("draft_only", "approval", "auto")
LEASE = "sequence_tick"
FIRST_POLL_LOOKBACK = timedelta(days=3)

# A delivery outcome that moves its enrolment: (state, cause, whether the next step is off).
_OUTCOME_MOVES = {
    "bounced": ("bounced", "recipient refused", True),
    "failed": ("stopped", "delivery failed", True),
    "in_doubt": ("pending_approval", "delivery in doubt", False),
}


class TickBusy(RuntimeError):
    """Another tick holds the lease."""


@dataclass
class TickReport:
    started_at: datetime
    mode: str
    enrolled: dict[str, EnrolReport] = field(default_factory=dict)
    reconciled: Counter = field(default_factory=Counter)
    stopped: Counter = field(default_factory=Counter)
    paused_mailboxes: list[str] = field(default_factory=list)
    crm_updates: int = 0
    crm_tasks: int = 0
    planned: int = 0
    awaiting_approval: int = 0
    delivered: Counter = field(default_factory=Counter)
    deferred: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        enrolled = sum(r.enrolled for r in self.enrolled.values())
        parts = [
            f"mode {self.mode}",
            f"{enrolled} enrolled",
            f"{self.planned} planned",
            f"delivered {dict(self.delivered) or 0}",
        ]
        if self.awaiting_approval:
            parts.append(f"{self.awaiting_approval} awaiting approval")
        if self.stopped:
            parts.append(f"stopped {dict(self.stopped)}")
        if self.deferred:
            parts.append(f"deferred {dict(self.deferred)}")
        if self.paused_mailboxes:
            parts.append(f"PAUSED mailboxes {self.paused_mailboxes}")
        if self.crm_tasks:
            parts.append(f"{self.crm_tasks} CRM tasks")
        if self.crm_updates:
            parts.append(f"{self.crm_updates} CRM opt-outs")
        return "; ".join(parts)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Outreach:
    """Sequences + the mailer + the unsubscribe links, under one clock."""

    def __init__(
        self,
        engine: Engine,
        config: SequencesFile,
        mailer: Mailer,
        links: UnsubscribeLinks,
        *,
        mode: str,
        clock: Clock,
        crm: Callable[[], CrmClient] | None = None,
        actor: str = "sequence_tick",
        progress: Callable[[str], None] = log.info,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"EMAIL_SEND_MODE must be one of {MODES}, not {mode!r}")
        self.engine = engine
        self.config = config
        self.sequences = {s.name: s for s in config.sequences}
        self.mailer = mailer
        self.links = links
        self.mode = mode
        self.clock = clock
        self.crm = crm
        self.actor = actor
        self.progress = progress
        self.by_mailbox: dict[str, Sequence] = {}
        for seq in config.sequences:
            self.by_mailbox.setdefault(seq.mailbox.address, seq)
        # Each (sequence, step)'s channel, joined onto the due rows (one join, not a lookup
        # per row).
        self._step_channels = pl.DataFrame(
            [
                (name, i, step.channel)
                for name, seq in self.sequences.items()
                for i, step in enumerate(seq.steps)
            ],
            schema={"sequence": pl.String, "step": pl.Int64, "channel": pl.String},
            orient="row",
        )
        # Sequences with CRM-task steps: their due rows are read whatever the email caps.
        self._task_sequences = sorted(
            set(self._step_channels.filter(pl.col("channel") == "crm_task")["sequence"])
        )

    # --- the lease -------------------------------------------------------------------------
    @contextmanager
    def lease(self, seconds: int | None = None) -> Iterator[None]:
        holder = _holder()
        now = self.clock.now()
        expires = now + timedelta(seconds=(seconds or self.config.tick.max_seconds) + 300)
        with self.engine.begin() as conn:
            statement = dialect_insert(conn, outreach_leases).values(
                name=LEASE, holder=holder, expires_at=expires
            )
            taken = conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"holder": holder, "expires_at": expires},
                    where=(outreach_leases.c.expires_at < now)
                    | (outreach_leases.c.holder == holder),
                )
            ).rowcount
        if not taken:
            raise TickBusy("another sequence tick is running (outreach_leases); try again soon")
        try:
            yield
        finally:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(outreach_leases).where(
                        outreach_leases.c.name == LEASE, outreach_leases.c.holder == holder
                    )
                )

    # --- the tick --------------------------------------------------------------------------
    def tick(
        self, leads: pl.DataFrame | None = None, crm_contacts: pl.DataFrame | None = None
    ) -> TickReport:
        report = TickReport(self.clock.now(), self.mode)
        with self.lease():
            now = self.clock.now()
            if leads is not None:
                for seq in self.config.sequences:
                    report.enrolled[seq.name] = enrol(
                        self.engine, seq, leads, crm_contacts, now, actor=self.actor
                    )
            for outcome in self.mailer.reconcile(purpose="outreach"):
                report.reconciled[outcome.status] += 1
            self._settle_in_doubt(now)
            self.advance_delivered()
            self.poll_replies(report)
            report.stopped["suppressed"] += stop_suppressed(self.engine, now, self.actor)
            rules = {
                s.name: (s.stop.crm_lifecycle, [x.lower() for x in s.stop.crm_lifecycle_stages])
                for s in self.config.sequences
            }
            report.stopped["crm"] += stop_for_crm_changes(self.engine, rules, now)
            report.paused_mailboxes = self.check_bounce_rates()
            report.crm_updates = self.push_crm_updates()
            self.plan_due(report)
            self.deliver_approved(report)
        report.stopped = +report.stopped
        self.progress(f"sequence tick: {report.summary()}")
        return report

    # --- planning --------------------------------------------------------------------------
    def _paused_mailboxes(self, conn: Connection) -> set[str]:
        return {
            a
            for (a,) in conn.execute(
                select(outreach_mailboxes.c.address).where(outreach_mailboxes.c.paused.is_(True))
            )
        }

    def _remaining_caps(self, now: datetime) -> dict[str, int]:
        remaining = {}
        for mailbox, seq in self.by_mailbox.items():
            start, end = sender_day(seq, now)
            used = sent_counts(self.engine, [mailbox], start, end).get(mailbox, 0)
            remaining[mailbox] = max(0, seq.mailbox.daily_cap - used)
        return remaining

    def plan_due(self, report: TickReport) -> None:
        now = self.clock.now()
        t = outreach_enrolments
        caps = self._remaining_caps(now)
        with self.engine.connect() as conn:
            paused = self._paused_mailboxes(conn)
            waiting = dict(
                conn.execute(
                    select(email_messages.c.mailbox, func.count())
                    .where(
                        email_messages.c.purpose == "outreach",
                        email_messages.c.status.in_(("approved", "awaiting_approval")),
                    )
                    .group_by(email_messages.c.mailbox)
                ).all()
            )
            room = {m: max(0, caps[m] - waiting.get(m, 0)) for m in caps}
            # Read the due rows that can move this tick: those of mailboxes with room left
            # today, and of sequences with CRM-task steps (no cap). Most due rows of a busy
            # month wait for tomorrow's cap: they are only counted.
            open_mailboxes = [m for m, n in room.items() if n > 0 and m not in paused]
            due_now = and_(t.c.state.in_(RUNNING), t.c.next_due_at <= now)
            rows = conn.execute(
                select(
                    t.c.id,
                    t.c.sequence,
                    t.c.mailbox,
                    t.c.state,
                    t.c.step,
                    t.c.next_due_at,
                ).where(
                    due_now,
                    or_(t.c.mailbox.in_(open_mailboxes), t.c.sequence.in_(self._task_sequences)),
                )
            ).all()
            report.deferred["daily cap"] += conn.execute(
                select(func.count()).where(
                    due_now,
                    t.c.sequence.in_(list(self.sequences)),
                    t.c.sequence.not_in(self._task_sequences),
                    t.c.mailbox.not_in([*open_mailboxes, *paused]),
                )
            ).scalar_one()
        if not rows:
            return
        due = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={
                "id": pl.Int64,
                "sequence": pl.String,
                "mailbox": pl.String,
                "state": pl.String,
                "step": pl.Int64,
                "next_due_at": pl.Datetime("us"),
            },
            orient="row",
        ).filter(
            pl.col("sequence").is_in(list(self.sequences)) & ~pl.col("mailbox").is_in(list(paused))
        )
        due = due.join(self._step_channels, on=["sequence", "step"], how="left").with_columns(
            pl.col("channel").fill_null("email")
        )
        tasks = due.filter(pl.col("channel") == "crm_task")
        if not tasks.is_empty():
            self._crm_tasks(tasks, report)
        # Emails: oldest due first, up to what each mailbox can still send today.
        capacity = pl.DataFrame(
            {"mailbox": list(room), "capacity": list(room.values())},
            schema={"mailbox": pl.String, "capacity": pl.Int64},
        )
        emails = (
            due.filter(pl.col("channel") == "email")
            .sort("next_due_at", "id")
            .join(capacity, on="mailbox", how="left")
            .with_columns(pl.int_range(pl.len()).over("mailbox").alias("rank"))
        )
        chosen = emails.filter(pl.col("rank") < pl.col("capacity").fill_null(0))
        report.deferred["daily cap"] += emails.height - chosen.height
        if not chosen.is_empty():
            self._reserve_emails(chosen["id"].to_list(), report)

    def _crm_tasks(self, tasks: pl.DataFrame, report: TickReport) -> None:
        if self.crm is None:
            report.deferred["crm task: no CRM"] += tasks.height
            return
        now = self.clock.now()
        check_not_paused(self.engine, "CRM tasks")
        t = outreach_enrolments
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.id.in_(tasks["id"].to_list()))).all()
        client = self.crm()
        try:
            ledger = self._crm_ids(client.backend, [r.email for r in rows])
            planned = []
            for row in rows:
                seq = self.sequences[row.sequence]
                step = seq.steps[row.step]
                context = {**json.loads(row.context), "step_number": row.step + 1}
                planned.append(
                    (
                        row,
                        CrmTask(
                            key=f"outreach:{row.id}:{row.step}",
                            email=row.email,
                            contact_id=ledger.get(row.email),
                            subject=render(step.task.subject, context),
                            body=render(step.task.body, context),
                        ),
                    )
                )
            try:
                client.create_tasks([task for _, task in planned])
            except NotImplementedError as exc:
                log.warning(
                    "outreach: %s; %d enrolment(s) wait at a crm_task step", exc, len(planned)
                )
                report.deferred["crm task: backend cannot create tasks"] += len(planned)
                return
        finally:
            client.close()
        with self.engine.begin() as conn:
            for row, _ in planned:
                self._advance(conn, row, now, cause="crm task created", intent="task")
        report.crm_tasks += len(planned)

    def _message_for(self, row: Any, seq: Sequence, context: dict[str, Any]) -> OutgoingEmail:
        step = seq.steps[row.step]
        assert step.template is not None
        key = message_key(row.id, row.step)
        headers = self.links.headers(
            row.email, key, "outreach", seq.mailbox.address, seq.mailbox.unsubscribe_mailto
        )
        token_url = headers["List-Unsubscribe"].split(">")[0].lstrip("<")
        full = {**context, "unsubscribe_url": token_url, "step_number": row.step + 1}
        threaded = row.step > 0 and not step.new_thread and row.thread_message_id
        return OutgoingEmail(
            from_header=seq.mailbox.from_,
            to=row.email,
            subject=render(step.template.subject, full).strip(),
            text=render(step.template.text, full),
            html=render(step.template.html, full, html=True) if step.template.html else None,
            message_id=new_message_id(seq.mailbox.address),
            in_reply_to=row.thread_message_id if threaded else None,
            thread_hint=row.provider_thread_id if threaded else None,
            headers=headers,
        )

    def _reserve_emails(self, ids: list[int], report: TickReport) -> None:
        now = self.clock.now()
        t = outreach_enrolments
        intent = "draft" if self.mode == "draft_only" else "send"
        status = "awaiting_approval" if self.mode == "approval" else "approved"
        for start in range(0, len(ids), 500):
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(t).where(t.c.id.in_(ids[start : start + 500]), t.c.state.in_(RUNNING))
                ).all()
                for row in rows:
                    seq = self.sequences[row.sequence]
                    email = self._message_for(row, seq, json.loads(row.context))
                    reserved = self.mailer.reserve(
                        conn,
                        key=message_key(row.id, row.step),
                        purpose="outreach",
                        intent=intent,
                        email=email,
                        status=status,
                        not_before=utc(row.next_due_at),
                        ref=enrolment_ref(row.id),
                    )
                    if reserved is None:  # planned before (a crashed tick): the row stands
                        conn.execute(update(t).where(t.c.id == row.id).values(next_due_at=None))
                        continue
                    report.planned += 1
                    if self.mode == "approval":
                        report.awaiting_approval += 1
                        transition(
                            conn,
                            [(row.id, row.state)],
                            "pending_approval",
                            cause="awaiting approval",
                            actor=self.actor,
                            at=now,
                            step=row.step,
                            details={"message": reserved, "subject": email.subject},
                            values={"next_due_at": None},
                        )
                    else:
                        conn.execute(update(t).where(t.c.id == row.id).values(next_due_at=None))

    # --- delivery --------------------------------------------------------------------------
    def _guard(self, conn: Connection, message: Any) -> str | None:
        if message.purpose != "outreach" or not (message.ref or "").startswith("enrolment:"):
            return None
        t = outreach_enrolments
        row = conn.execute(
            select(t.c.state, t.c.mailbox).where(t.c.id == int(message.ref.split(":")[1]))
        ).first()
        if row is None or row.state not in ACTIVE or row.state == "paused":
            return f"the enrolment is {row.state if row else 'gone'}"
        paused = conn.execute(
            select(outreach_mailboxes.c.paused).where(outreach_mailboxes.c.address == row.mailbox)
        ).scalar()
        return "the mailbox is paused" if paused else None

    def _enrolments(self, conn: Connection, ids: list[int], *columns: Any) -> list[Any]:
        t = outreach_enrolments
        rows: list[Any] = []
        for start in range(0, len(ids), 900):
            rows += conn.execute(
                select(*(columns or (t,))).where(t.c.id.in_(ids[start : start + 900]))
            ).all()
        return rows

    def _candidates(self) -> pl.DataFrame:
        m, t = email_messages, outreach_enrolments
        with self.engine.connect() as conn:
            paused = self._paused_mailboxes(conn)
            messages = conn.execute(
                select(m.c.id, m.c.mailbox, m.c.intent, m.c.not_before, m.c.ref)
                .where(m.c.purpose == "outreach", m.c.status == "approved")
                .order_by(m.c.not_before, m.c.id)
            ).all()
            enrolment_ids = sorted({int(r.ref.split(":")[1]) for r in messages if r.ref})
            enrolments = self._enrolments(
                conn, enrolment_ids, t.c.id, t.c.sequence, t.c.timezone, t.c.country, t.c.state
            )
        frame = pl.DataFrame(
            [(r.id, r.mailbox, r.intent, utc(r.not_before), int(r.ref.split(":")[1]))
             for r in messages if r.ref],
            schema={
                "id": pl.Int64,
                "mailbox": pl.String,
                "intent": pl.String,
                "not_before": pl.Datetime("us", "UTC"),
                "enrolment_id": pl.Int64,
            },
            orient="row",
        )  # fmt: skip
        people = pl.DataFrame(
            [tuple(r) for r in enrolments],
            schema={
                "enrolment_id": pl.Int64,
                "sequence": pl.String,
                "timezone": pl.String,
                "country": pl.String,
                "state": pl.String,
            },
            orient="row",
        )
        return frame.join(people, on="enrolment_id", how="inner").filter(
            ~pl.col("mailbox").is_in(list(paused))
            & pl.col("state").is_in([s for s in ACTIVE if s != "paused"])
            & pl.col("sequence").is_in(list(self.sequences))
        )

    def deliver_approved(self, report: TickReport) -> None:
        """Deliver approved messages whose window is open, within caps and stagger."""
        now = self.clock.now()
        frame = self._candidates()
        if frame.is_empty():
            return
        # The window, once per distinct (sequence, zone, country).
        places = frame.select("sequence", "timezone", "country").unique()
        open_now = {
            (s, z, c): calendar_for(self.sequences[s], z, c).is_open(now)
            for s, z, c in places.iter_rows()
        }
        frame = frame.with_columns(
            pl.struct("sequence", "timezone", "country")
            .map_elements(
                lambda p: open_now[(p["sequence"], p["timezone"], p["country"])], pl.Boolean
            )
            .alias("open")
        )
        report.deferred["window closed"] += frame.filter(~pl.col("open")).height
        frame = frame.filter(pl.col("open"))
        if frame.is_empty():
            return
        caps = self._remaining_caps(now)
        previous = last_sent(self.engine, list(caps))
        budget = now + timedelta(seconds=self.config.tick.max_seconds)
        slots: list[tuple[datetime, int, str]] = []
        for (mailbox,), group in frame.group_by("mailbox", maintain_order=True):
            seq = self.by_mailbox.get(mailbox)
            if seq is None:
                continue
            remaining = caps.get(mailbox, 0)
            report.deferred["daily cap"] += max(0, group.height - remaining)
            drafts = group.filter(pl.col("intent") == "draft")
            sends = group.filter(pl.col("intent") == "send")
            # Drafts leave nothing: no stagger between them, only the cap.
            for row_id in drafts["id"].to_list()[:remaining]:
                slots.append((now, row_id, mailbox))
            remaining -= min(remaining, drafts.height)
            stagger = timedelta(seconds=seq.stagger_seconds)
            first = max(now, (previous.get(mailbox) or now - stagger) + stagger)
            for i, row_id in enumerate(sends["id"].to_list()[:remaining]):
                at = first + i * stagger
                if at > budget:
                    report.deferred["tick budget"] += 1
                    continue
                slots.append((at, row_id, mailbox))
        slots.sort()
        for at, row_id, _ in slots:
            wait = (at - self.clock.now()).total_seconds()
            if wait > 0:
                self.clock.sleep(wait)
            outcome = self.mailer.deliver(row_id, guard=self._guard)
            report.delivered[outcome.status] += 1
            self._after_delivery(outcome)

    def _after_delivery(self, outcome: Outcome) -> None:
        now = self.clock.now()
        m, t = email_messages, outreach_enrolments
        with self.engine.begin() as conn:
            message = conn.execute(select(m).where(m.c.id == outcome.row_id)).one()
            if not (message.ref or "").startswith("enrolment:"):
                return
            row = conn.execute(select(t).where(t.c.id == int(message.ref.split(":")[1]))).one()
            if outcome.status in ("sent", "drafted"):
                self._advance(conn, row, utc(message.sent_at) or now, cause=None, message=message)
            elif outcome.status in _OUTCOME_MOVES:
                to_state, cause, clears_due = _OUTCOME_MOVES[outcome.status]
                transition(
                    conn,
                    [(row.id, row.state)],
                    to_state,
                    cause=cause,
                    actor=self.actor,
                    at=now,
                    step=row.step,
                    details={"error": outcome.error},
                    values={"next_due_at": None} if clears_due else None,
                )
        if outcome.status == "bounced":
            from pipeline.crm.changes import suppress

            suppress(self.engine, row.email, "hard_bounce", "smtp")

    def _advance(
        self,
        conn: Connection,
        row: Any,
        done_at: datetime,
        *,
        cause: str | None,
        message: Any = None,
        intent: str | None = None,
    ) -> None:
        """The enrolment's current step is done: schedule the next one, or complete."""
        seq = self.sequences.get(row.sequence)
        if seq is None or row.state not in ACTIVE:
            return
        intent = intent or (message.intent if message is not None else "send")
        done = "drafted" if intent == "draft" else "sent" if intent == "send" else "done"
        cause = cause or f"step {row.step + 1} {done}"
        values: dict[str, Any] = {"step": row.step + 1, "last_message_at": done_at}
        if message is not None and (row.thread_message_id is None or row.step == 0):
            values["thread_message_id"] = message.message_id
            values["provider_thread_id"] = message.provider_thread_id
        details = {"message": message.id, "provider_id": message.provider_id} if message else None
        if row.step + 1 >= len(seq.steps):
            values["next_due_at"] = None
            transition(
                conn,
                [(row.id, row.state)],
                "completed",
                cause=cause,
                actor=self.actor,
                at=self.clock.now(),
                step=row.step,
                details=details,
                values=values,
            )
            return
        calendar = calendar_for(seq, row.timezone, row.country)
        values["next_due_at"] = calendar.due_after(
            done_at, seq.steps[row.step + 1].delay_business_days
        )
        to_state = "sent" if intent == "send" else ("scheduled" if row.step == 0 else row.state)
        if to_state == "pending_approval":
            to_state = "sent"
        transition(
            conn,
            [(row.id, row.state)],
            to_state,
            cause=cause,
            actor=self.actor,
            at=self.clock.now(),
            step=row.step,
            details=details,
            values=values,
        )

    def advance_delivered(self) -> int:
        """Enrolments whose current step's message was delivered but not yet recorded on the
        enrolment (a crash between the two, or a delivery settled by `reconcile`). Only
        enrolments with a planned message (no next due time) can be behind."""
        m, t = email_messages, outreach_enrolments
        with self.engine.connect() as conn:
            planned = conn.execute(
                select(t.c.id, t.c.step).where(
                    t.c.state.in_(("scheduled", "sent", "pending_approval")),
                    t.c.next_due_at.is_(None),
                )
            ).all()
            keys = [message_key(r.id, r.step) for r in planned]
            behind = []
            for start in range(0, len(keys), 900):
                behind += conn.execute(
                    select(m.c.id).where(
                        m.c.idempotency_key.in_(keys[start : start + 900]),
                        m.c.status.in_(("sent", "drafted")),
                    )
                ).all()
        for (row_id,) in behind:
            self._after_delivery(Outcome(row_id, "sent"))
        return len(behind)

    def _settle_in_doubt(self, now: datetime) -> None:
        """Enrolments whose message a reconcile left in doubt wait for a person."""
        m = email_messages
        with self.engine.begin() as conn:
            refs = conn.execute(
                select(m.c.ref).where(m.c.purpose == "outreach", m.c.status == "in_doubt")
            ).all()
            ids = [int(r.split(":")[1]) for (r,) in refs if r]
            t = outreach_enrolments
            for row in self._enrolments(conn, ids, t.c.id, t.c.state, t.c.step):
                if row.state not in RUNNING:
                    continue
                transition(
                    conn,
                    [(row.id, row.state)],
                    "pending_approval",
                    cause="delivery in doubt",
                    actor=self.actor,
                    at=now,
                    step=row.step,
                )

    # --- replies, bounces, CRM -------------------------------------------------------------
    def poll_replies(self, report: TickReport) -> None:
        inbound = getattr(self.mailer.backend, "inbound", None)
        if inbound is None:
            return
        now = self.clock.now()
        for mailbox in self.by_mailbox:
            with self.engine.connect() as conn:
                polled = conn.execute(
                    select(outreach_mailboxes.c.polled_at).where(
                        outreach_mailboxes.c.address == mailbox
                    )
                ).scalar()
            since = utc(polled) or now - FIRST_POLL_LOOKBACK
            for message in inbound(mailbox, since):
                kind = "reply"
                if message.sender.startswith(MAILER_DAEMONS):
                    kind = "bounce"
                elif message.subject.lower().startswith("unsubscribe"):
                    kind = "unsubscribe"
                report.stopped[kind] += self._apply_inbound(kind, message)
            self._mailbox_row(mailbox, polled_at=now)

    def _apply_inbound(self, kind: str, message: Any) -> int:
        t = outreach_enrolments
        with self.engine.connect() as conn:
            in_thread = conn.execute(
                select(t.c.email).where(
                    t.c.provider_thread_id == message.thread_id, t.c.state.in_(ACTIVE)
                )
            ).all()
        if kind == "unsubscribe":
            return unsubscribe(self.engine, message.sender, source="gmail", at=message.received_at)
        stopped = stop_for_email_event(
            self.engine,
            kind,
            message.sender,
            at=message.received_at,
            message_id=message.in_reply_to,
            actor="gmail",
        )
        for (address,) in in_thread:  # a colleague answering in the thread, a bounce notice
            if kind == "bounce":
                from pipeline.crm.changes import suppress

                suppress(self.engine, address, "hard_bounce", "gmail")
            stopped += stop_for_email_event(
                self.engine, "bounce" if kind == "bounce" else "reply", address,
                at=message.received_at, actor="gmail",
            )  # fmt: skip
        return stopped

    def _mailbox_row(self, address: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            statement = dialect_insert(conn, outreach_mailboxes).values(address=address, **values)
            conn.execute(statement.on_conflict_do_update(index_elements=["address"], set_=values))

    def check_bounce_rates(self) -> list[str]:
        """Pause each mailbox whose bounces over the window passed its limit (an alert)."""
        now = self.clock.now()
        paused = []
        m, t, tr = email_messages, outreach_enrolments, outreach_transitions
        # One grouped count per window length (sequences usually share one), not two queries
        # per mailbox every tick.
        windows: dict[int, list[str]] = {}
        for mailbox, seq in self.by_mailbox.items():
            windows.setdefault(seq.bounce_pause.window_hours, []).append(mailbox)
        sent_by: dict[str, int] = {}
        bounced_by: dict[str, int] = {}
        with self.engine.connect() as conn:
            already = self._paused_mailboxes(conn)
            for hours, mailboxes in windows.items():
                since = now - timedelta(hours=hours)
                sent_by.update(
                    conn.execute(
                        select(m.c.mailbox, func.count())
                        .where(
                            m.c.mailbox.in_(mailboxes), m.c.status == "sent", m.c.sent_at >= since
                        )
                        .group_by(m.c.mailbox)
                    ).all()
                )
                bounced_by.update(
                    conn.execute(
                        select(t.c.mailbox, func.count(func.distinct(tr.c.enrolment_id)))
                        .join(t, t.c.id == tr.c.enrolment_id)
                        .where(
                            t.c.mailbox.in_(mailboxes),
                            tr.c.to_state == "bounced",
                            tr.c.at >= since,
                        )
                        .group_by(t.c.mailbox)
                    ).all()
                )
        for mailbox, seq in self.by_mailbox.items():
            rule = seq.bounce_pause
            if mailbox in already:
                continue
            sent, bounced = sent_by.get(mailbox, 0), bounced_by.get(mailbox, 0)
            if sent == 0 or sent < rule.min_sent or bounced / sent <= rule.max_rate:
                continue
            reason = (
                f"bounce rate {bounced / sent:.1%} ({bounced} of {sent}) over "
                f"{rule.window_hours} h passed {rule.max_rate:.1%}"
            )
            self.pause_mailbox(mailbox, reason, by=self.actor)
            log.warning("ALERT outreach mailbox %s paused: %s", mailbox, reason)
            paused.append(mailbox)
        return paused

    def pause_mailbox(self, mailbox: str, reason: str, by: str) -> int:
        now = self.clock.now()
        self._mailbox_row(mailbox, paused=True, paused_reason=reason, changed_by=by, changed_at=now)
        t = outreach_enrolments
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.state).where(t.c.mailbox == mailbox, t.c.state.in_(RUNNING))
            ).all()
            moved = transition(
                conn,
                [tuple(r) for r in rows],
                "paused",
                cause="mailbox paused",
                actor=by,
                at=now,
                details={"reason": reason},
            )
            audit.record(
                conn,
                actor=by,
                action="outreach.pause_mailbox",
                subject=mailbox,
                details={"reason": reason, "enrolments": len(moved)},
            )
        return len(moved)

    def resume_mailbox(self, mailbox: str, by: str) -> int:
        now = self.clock.now()
        self._mailbox_row(mailbox, paused=False, paused_reason=None, changed_by=by, changed_at=now)
        t = outreach_enrolments
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.step).where(t.c.mailbox == mailbox, t.c.state == "paused")
            ).all()
            moved = 0
            for step_zero in (True, False):
                moved += len(
                    transition(
                        conn,
                        [(r.id, "paused") for r in rows if (r.step == 0) == step_zero],
                        "scheduled" if step_zero else "sent",
                        cause="mailbox resumed",
                        actor=by,
                        at=now,
                    )
                )
            audit.record(conn, actor=by, action="outreach.resume_mailbox", subject=mailbox)
        return moved

    def _crm_ids(self, backend: str, emails: list[str]) -> dict[str, str]:
        ledger = crm_sync_ledger
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ledger.c.id_value, ledger.c.crm_id, ledger.c.entity_id).where(
                    ledger.c.backend == backend,
                    func.lower(ledger.c.id_value).in_([e.lower() for e in emails]),
                    ledger.c.status == "synced",
                )
            ).all()
        return {r.id_value.lower(): r.crm_id or f"entity:{r.entity_id}" for r in rows}

    def push_crm_updates(self) -> int:
        """Send pending unsubscribes to the CRM as property updates on the contact."""
        if self.crm is None:
            return 0
        u = outreach_crm_updates
        with self.engine.connect() as conn:
            pending = conn.execute(select(u).where(u.c.status == "pending")).all()
        if not pending:
            return 0
        check_not_paused(self.engine, "CRM opt-out updates")
        client = self.crm()
        try:
            ids = self._crm_ids(client.backend, [p.email for p in pending])
            inputs = [(ids[p.email], p.email, dict(self.config.crm.unsubscribe_properties))
                      for p in pending if p.email in ids]  # fmt: skip
            if inputs:
                client.update_contacts(inputs)
        finally:
            client.close()
        now = self.clock.now()
        with self.engine.begin() as conn:
            for p in pending:
                found = p.email in ids
                conn.execute(
                    update(u)
                    .where(u.c.id == p.id)
                    .values(
                        status="done" if found else "not_in_crm",
                        done_at=now,
                        detail=f"{client.backend}: {ids[p.email]}" if found else None,
                    )
                )
        return len(inputs)
