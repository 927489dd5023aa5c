"""`python -m pipeline outreach approvals | approve | deny | tick | status | stop | ...`."""

from __future__ import annotations

import argparse
import os
import sys

from pipeline.config import load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("outreach", help="outreach sequences: approvals, ticks, status, stops")
    cmds = top.add_subparsers(dest="outreach_command", required=True)
    cmds.add_parser(
        "approvals", help="list messages waiting for approval (and any whose delivery is in doubt)"
    ).set_defaults(func=run_approvals)
    ap = cmds.add_parser("approve", help="approve messages: sent when the window is open")
    ap.add_argument("ids", nargs="*", type=int, metavar="ID")
    ap.add_argument("--all-due", action="store_true", help="every message whose time has come")
    ap.add_argument("--by", help="who approves (default: user@host)")
    ap.set_defaults(func=run_approve)
    dn = cmds.add_parser("deny", help="deny messages: the enrolment stops (or skips the step)")
    dn.add_argument("ids", nargs="+", type=int, metavar="ID")
    dn.add_argument("--skip-step", action="store_true", help="go on with the next step instead")
    dn.add_argument("--reason", default="", help="why, for the audit log")
    dn.add_argument("--by", help="who denies (default: user@host)")
    dn.set_defaults(func=run_deny)
    cmds.add_parser(
        "tick", help="one sequence tick now, through Dagster (what the schedule does)"
    ).set_defaults(func=run_tick)
    cmds.add_parser("status", help="enrolments per state and mailbox").set_defaults(func=run_status)
    st = cmds.add_parser("stop", help="stop every sequence for an address (a manual stop)")
    st.add_argument("email")
    st.add_argument("--reason", default=None)
    st.add_argument("--by", help="who (default: user@host)")
    st.set_defaults(func=run_stop)
    for name, what in (
        ("pause-mailbox", "pause a sending mailbox"),
        ("resume-mailbox", "resume a paused mailbox (its enrolments go on)"),
    ):
        mb = cmds.add_parser(name, help=what)
        mb.add_argument("address")
        mb.add_argument("--reason", default="paused by hand")
        mb.add_argument("--by", help="who (default: user@host)")
        mb.set_defaults(func=run_mailbox)


def _who(args: argparse.Namespace) -> str:
    from pipeline.operations_cli import who

    return getattr(args, "by", None) or who()


def _outreach():  # type: ignore[no-untyped-def]
    from pipeline.clock import SystemClock
    from pipeline.email.setup import EmailSettings
    from pipeline.outreach.config import load_sequences
    from pipeline.outreach.engine import Outreach
    from pipeline.store import open_store

    settings = load_settings()
    email = EmailSettings.from_settings(settings)
    engine = open_store(settings.store_url)
    return Outreach(
        engine,
        load_sequences(settings.sequences_config),
        email.mailer(engine),
        email.links(engine),
        mode=email.send_mode,
        clock=SystemClock(),
        actor="outreach_cli",
        progress=lambda m: print(m, file=sys.stderr),
    )


def run_approvals(args: argparse.Namespace) -> int:
    from pipeline.outreach.approvals import waiting

    outreach = _outreach()
    items = waiting(outreach)
    for w in items:
        due = f"{w.due:%Y-%m-%d %H:%M} UTC" if w.due else "now"
        flag = "IN DOUBT " if w.status == "in_doubt" else ""
        print(f"{w.id:>6}  {flag}{w.recipient}  {w.sequence} step {w.step}  due {due}")
        print(f"        subject: {w.subject}")
        print(f"        why: {w.reason}")
        if w.error:
            print(f"        in doubt: {w.error} (approve re-sends; deny --skip-step if it went)")
    mode = outreach.mode
    print(f"{len(items)} message(s) waiting; EMAIL_SEND_MODE={mode}")
    return 0


def run_approve(args: argparse.Namespace) -> int:
    from pipeline.outreach.approvals import approve

    if not args.ids and not args.all_due:
        print("name message ids, or --all-due", file=sys.stderr)
        return 2
    outreach = _outreach()
    if outreach.mode == "draft_only":
        print(
            "EMAIL_SEND_MODE=draft_only: approved messages are held until a person turns "
            "sending on (EMAIL_SEND_MODE=approval)",
            file=sys.stderr,
        )
    changed, report = approve(outreach, args.ids, _who(args), all_due=args.all_due)
    print(f"approved {len(changed)} message(s); delivered now: {dict(report.delivered) or 0}")
    if report.deferred:
        print(f"waiting for their window or the daily cap: {dict(+report.deferred)}")
    missing = sorted(set(args.ids) - set(changed))
    if missing:
        print(f"not waiting for approval (nothing done): {', '.join(map(str, missing))}")
    return 0


def run_deny(args: argparse.Namespace) -> int:
    from pipeline.outreach.approvals import deny

    changed = deny(_outreach(), args.ids, _who(args), skip_step=args.skip_step, reason=args.reason)
    what = "skipped the step of" if args.skip_step else "stopped the enrolment of"
    print(f"denied {len(changed)} message(s) and {what} each")
    missing = sorted(set(args.ids) - set(changed))
    if missing:
        print(f"not waiting for approval (nothing done): {', '.join(map(str, missing))}")
    return 0


def run_tick(args: argparse.Namespace) -> int:
    if not os.environ.get("DAGSTER_HOME"):
        print(
            "DAGSTER_HOME is not set: export it as `make dev` does, so the tick is recorded "
            "where the UI reads it",
            file=sys.stderr,
        )
        return 2
    from pipeline.definitions import build_definitions
    from pipeline.definitions.runner import run_steps

    settings = load_settings()
    failure = run_steps(
        build_definitions(settings), [("outreach_tick_job", "running one sequence tick", {})]
    )
    if failure is not None:
        print(failure.paragraph(), file=sys.stderr)
        return 1
    return run_status(args)


def run_status(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from pipeline.store.tables import email_messages, outreach_enrolments, outreach_mailboxes

    outreach = _outreach()
    t, m = outreach_enrolments, email_messages
    with outreach.engine.connect() as conn:
        states = conn.execute(
            select(t.c.mailbox, t.c.state, func.count()).group_by(t.c.mailbox, t.c.state)
        ).all()
        messages = conn.execute(
            select(m.c.status, func.count()).where(m.c.purpose == "outreach").group_by(m.c.status)
        ).all()
        paused = conn.execute(
            select(outreach_mailboxes).where(outreach_mailboxes.c.paused.is_(True))
        ).all()
    print(outreach.mailer.backend.describe())
    print(f"EMAIL_SEND_MODE={outreach.mode}")
    by_mailbox: dict[str, dict[str, int]] = {}
    for mailbox, state, n in states:
        by_mailbox.setdefault(mailbox, {})[state] = n
    for mailbox, counts in sorted(by_mailbox.items()):
        total = sum(counts.values())
        parts = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
        print(f"{mailbox}: {total} enrolments ({parts})")
    if not by_mailbox:
        print("no enrolments yet")
    print("messages: " + (", ".join(f"{s} {n}" for s, n in sorted(messages)) or "none"))
    for p in paused:
        print(f"PAUSED {p.address}: {p.paused_reason} (by {p.changed_by})")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from pipeline.outreach.stops import manual_stop

    n = manual_stop(_outreach().engine, args.email, by=_who(args), reason=args.reason)
    print(f"stopped {n} enrolment(s) of {args.email.lower()}")
    return 0


def run_mailbox(args: argparse.Namespace) -> int:
    outreach = _outreach()
    address = args.address.strip().lower()
    if args.outreach_command == "pause-mailbox":
        n = outreach.pause_mailbox(address, args.reason, by=_who(args))
        print(f"paused {address}: {n} enrolment(s) wait")
    else:
        n = outreach.resume_mailbox(address, by=_who(args))
        print(f"resumed {address}: {n} enrolment(s) go on")
    return 0
