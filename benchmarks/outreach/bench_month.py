"""50,000 enrolments ticked through a simulated month (a tick every 15 minutes).

The real engine, store (SQLite file, WAL, synchronous=FULL) and outbox backend, on a
simulated clock: stagger waits advance the clock instead of sleeping. Along the way 5 % of
the enrolments get a reply, bounce, complaint or unsubscribe at a random moment. At the end
it checks what must never happen: a mailbox over its cap on any of its days, a step sent
twice, a message after its enrolment stopped, a send outside the recipient's window.

    flock /work/helpers/bench.lock .venv/bin/python benchmarks/outreach/bench_month.py \
        [--enrolments 50000] [--mailboxes 25] [--cap 100] [--days 30] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.clock import SimulatedClock  # noqa: E402
from pipeline.email.mailer import Mailer, utc  # noqa: E402
from pipeline.email.outbox import OutboxBackend  # noqa: E402
from pipeline.email.unsubscribe import UnsubscribeLinks, signing_key  # noqa: E402
from pipeline.outreach.calendar import calendar_for, sender_day  # noqa: E402
from pipeline.outreach.config import parse_sequences  # noqa: E402
from pipeline.outreach.engine import Outreach  # noqa: E402
from pipeline.outreach.stops import stop_for_email_event  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from pipeline.store.tables import email_messages, outreach_enrolments, outreach_transitions  # noqa: E402

PLACES = [("GB", None, None), ("US", "NY", None), ("US", "CA", None), ("US", None, "+13035550100"),
          ("DE", None, None), ("FR", None, None), ("AU", "NSW", None), ("IN", None, None),
          ("US", None, None)]  # fmt: skip
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday; the month has Thanksgiving


def sequences(mailboxes: int, cap: int) -> dict:
    steps = [
        {"channel": "email", "delay_business_days": 0,
         "template": {"subject": "Quick question, {{ first_name }}",
                      "text": "Hi {{ first_name }}, {{ unsubscribe_url }}"}},
        {"channel": "email", "delay_business_days": 3,
         "template": {"subject": "Re: Quick question", "text": "Following up."}},
        {"channel": "email", "delay_business_days": 4,
         "template": {"subject": "Re: Quick question", "text": "Last note."}},
    ]  # fmt: skip
    return {
        "sequences": [
            {
                "name": f"seq{i}",
                "enrol": {"grades": [chr(ord("A") + i % 26) + str(i)], "require_crm": False},
                "mailbox": {"from": f"Rep {i} <rep{i}@ourcompany.example>", "daily_cap": cap},
                "send_window": {"start": "09:00", "end": "17:00",
                                "default_timezone": "America/New_York"},
                "holidays": ["US"],
                "stagger_seconds": 45,
                "bounce_pause": {"max_rate": 0.5, "min_sent": 50},
                "steps": steps,
            }
            for i in range(mailboxes)
        ]
    }  # fmt: skip


def leads(n: int, mailboxes: int, rng: random.Random) -> pl.DataFrame:
    places = [rng.choice(PLACES) for _ in range(n)]
    return pl.DataFrame(
        {
            "entity_id": [f"E{i:06d}" for i in range(n)],
            "email": [f"p{i}@c{i % 9000}.example" for i in range(n)],
            "email_valid": [True] * n,
            "first_name": [f"Name{i}" for i in range(n)],
            "country": [p[0] for p in places],
            "state": [p[1] for p in places],
            "phone_e164": [p[2] for p in places],
            "lead_grade": [chr(ord("A") + (i % mailboxes) % 26) + str(i % mailboxes) for i in range(n)],
            "lead_score": [80] * n,
        }
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrolments", type=int, default=50_000)
    parser.add_argument("--mailboxes", type=int, default=25)
    parser.add_argument("--cap", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--stop-share", type=float, default=0.05)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(17)
    folder = Path(tempfile.mkdtemp(prefix="bench_outreach_"))
    engine = open_store(f"sqlite:///{folder / 'ops.sqlite'}")
    cfg = parse_sequences(sequences(args.mailboxes, args.cap), "bench")
    clock = SimulatedClock(START)
    mailer = Mailer(engine, OutboxBackend(engine), sending_allowed=True, clock=clock)
    links = UnsubscribeLinks(signing_key(engine, None), "https://leads.example.test")
    outreach = Outreach(engine, cfg, mailer, links, mode="auto", clock=clock, progress=lambda m: None)

    frame = leads(args.enrolments, args.mailboxes, rng)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outreach.tick(frame, None)
    enrol_s = time.perf_counter() - wall0
    print(f"enrolled {args.enrolments:,} in {enrol_s:.2f} s (first tick)", flush=True)

    emails = frame["email"].to_list()
    stops = {e: START + timedelta(minutes=rng.randrange(args.days * 24 * 60))
             for e in rng.sample(emails, int(len(emails) * args.stop_share))}  # fmt: skip
    kinds = dict(zip(stops, rng.choices(["reply", "bounce", "complaint", "unsubscribe"], k=len(stops)),
                     strict=True))  # fmt: skip
    pending = sorted(stops.items(), key=lambda kv: kv[1])
    tick_times, busy_ticks = [], []
    ticks = args.days * 96
    for n in range(1, ticks):
        at = START + timedelta(minutes=15 * n)
        while pending and pending[0][1] <= at:
            email, when = pending.pop(0)
            # Never in the simulated past: a tick's stagger may have moved the clock beyond
            # `when`, and a stop dated before sends the engine made without knowing of it
            # would count as "sent after stop".
            stop_for_email_event(engine, kinds[email], email, at=max(when, clock.now()))
        clock.set(max(at, clock.now()))
        started = time.perf_counter()
        report = outreach.tick()
        took = time.perf_counter() - started
        tick_times.append(took)
        if report.delivered:
            busy_ticks.append(took)
        if n % 96 == 0:
            print(f"day {n // 96}: median tick {statistics.median(tick_times[-96:]) * 1000:.1f} ms, "
                  f"max {max(tick_times[-96:]):.2f} s", flush=True)  # fmt: skip
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0

    # --- the invariants ----------------------------------------------------------------
    with engine.connect() as conn:
        sent = conn.execute(
            select(email_messages.c.mailbox, email_messages.c.to_email, email_messages.c.idempotency_key,
                   email_messages.c.sent_at, email_messages.c.ref).where(email_messages.c.status == "sent")
        ).all()  # fmt: skip
        people = {r.id: r for r in conn.execute(select(outreach_enrolments)).all()}
        states = Counter(r.state for r in people.values())
        stop_times = dict(conn.execute(
            select(outreach_transitions.c.enrolment_id, outreach_transitions.c.at).where(
                outreach_transitions.c.to_state.in_(("replied", "bounced", "unsubscribed", "stopped")))
        ).all())  # fmt: skip
    per_day: Counter = Counter()
    by_mailbox = {s.mailbox.address: s for s in cfg.sequences}
    keys = Counter(r.idempotency_key for r in sent)
    after_stop = outside_window = 0
    for r in sent:
        at = utc(r.sent_at)
        day = sender_day(by_mailbox[r.mailbox], at)[0]
        per_day[(r.mailbox, day)] += 1
        enrolment = people[int(r.ref.split(":")[1])]
        stopped = stop_times.get(enrolment.id)
        if stopped is not None and at > utc(stopped):
            after_stop += 1
        cal = calendar_for(by_mailbox[r.mailbox], enrolment.timezone, enrolment.country)
        if not cal.is_open(at):
            outside_window += 1
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "enrolments": args.enrolments,
        "mailboxes": args.mailboxes,
        "cap": args.cap,
        "days": args.days,
        "ticks": len(tick_times) + 1,
        "first_tick_enrol_s": round(enrol_s, 2),
        "tick_median_ms": round(statistics.median(tick_times) * 1000, 1),
        "tick_median_busy_ms": round(statistics.median(busy_ticks) * 1000, 1) if busy_ticks else None,
        "tick_p95_ms": round(statistics.quantiles(tick_times, n=20)[-1] * 1000, 1),
        "tick_max_s": round(max(tick_times), 2),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "sent": len(sent),
        "max_per_mailbox_day": max(per_day.values()) if per_day else 0,
        "days_over_cap": sum(1 for v in per_day.values() if v > args.cap),
        "steps_sent_twice": sum(1 for v in keys.values() if v > 1),
        "stops_injected": len(stops),
        "sent_after_stop": after_stop,
        "sent_outside_window": outside_window,
        "states": dict(states),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(result) + "\n")
    ok = not (result["days_over_cap"] or result["steps_sent_twice"] or after_stop or outside_window)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
