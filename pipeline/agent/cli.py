"""`python -m pipeline agent run --form FILE.json | status | dead-letters | replay`.

`run` puts the file's submission(s) in the webhook inbox (the same fingerprint as the webhook,
so a submission that also arrived by webhook is one submission), runs the agent's job through
Dagster until every step that can run has run, and exits 0 when a draft exists for each
submission (also for one drafted before), 1 naming the step that failed otherwise, 2 for a
file that is not a submission.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pipeline.config import load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser(
        "agent", help="the prospecting agent: form submission -> CRM, history, slots, draft, task"
    )
    cmds = top.add_subparsers(dest="agent_command", required=True)
    run = cmds.add_parser(
        "run", help="run the whole flow for form submission file(s) (Forms API objects)"
    )
    run.add_argument("--form", type=Path, action="append", required=True, metavar="FILE.json")
    run.set_defaults(func=run_agent)
    status = cmds.add_parser("status", help="submissions and where each stands")
    status.add_argument("ids", nargs="*", metavar="SUBMISSION_ID")
    status.set_defaults(func=run_status)
    cmds.add_parser("dead-letters", help="steps that failed for good, and why").set_defaults(
        func=run_dead_letters
    )
    replay = cmds.add_parser("replay", help="put dead-lettered steps back in line")
    replay.add_argument("--id", action="append", dest="ids", metavar="SUBMISSION_ID")
    replay.set_defaults(func=run_replay)


def _engine():  # type: ignore[no-untyped-def]
    from pipeline.store import open_store

    return open_store(load_settings().store_url)


def read_forms(paths: list[Path]) -> list[tuple[dict, object]]:
    """(object, parsed submission) per submission in the files; raises ValueError naming the
    file and field."""
    from pipeline.agent.intake import MalformedSubmission, parse_submission

    found = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path}: no such file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
        items = data if isinstance(data, list) else [data]
        for index, item in enumerate(items):
            where = f"{path}" + (f" [{index}]" if isinstance(data, list) else "")
            try:
                found.append((item, parse_submission(item, where)))
            except MalformedSubmission as exc:
                raise ValueError(str(exc)) from None
    return found


def inbox_ids_for(engine, forms: list[tuple[dict, object]]) -> list[int]:  # type: ignore[no-untyped-def]
    """Accept the submissions into the inbox (a duplicate keeps its first row) and return
    their inbox ids."""
    from dataclasses import replace

    from sqlalchemy import select

    from pipeline.agent.intake import inbox_event
    from pipeline.store.inbox import accept_events
    from pipeline.store.tables import webhook_inbox

    events = [replace(inbox_event(sub, data), event_type="form.file") for data, sub in forms]  # type: ignore[arg-type]
    accept_events(engine, events)
    with engine.connect() as conn:
        rows = conn.execute(
            select(webhook_inbox.c.id).where(
                webhook_inbox.c.fingerprint.in_([e.fingerprint for e in events])
            )
        )
        return sorted(r.id for r in rows)


def outcome_lines(engine, submission_ids: list[str]) -> tuple[list[str], bool]:  # type: ignore[no-untyped-def]
    """One paragraph per submission, and whether every one has a draft."""
    from pipeline.agent import ledger

    lines: list[str] = []
    all_drafted = True
    for sid in submission_ids:
        sub = ledger.get(engine, sid)
        results = ledger.results(engine, sid)
        steps = {r["step"]: r for r in ledger.step_rows(engine) if r["submission_id"] == sid}
        if sub is None:
            lines.append(f"submission {sid}: not taken in (see the run's log)")
            all_drafted = False
            continue
        if "draft" in results:
            draft = results["draft"]
            message = results.get("message", {})
            line = (
                f"submission {sid}: draft for {draft['to']}: {draft['subject']!r} "
                f"(written by {message.get('writer')}; {draft.get('provider_id')})"
            )
            if "followup" in results:
                line += f"; follow-up task {results['followup']['task_id']}"
            elif sub.step == "followup":
                row = steps.get("followup") or {}
                line += f"; the follow-up task is not made yet ({row.get('error') or 'pending'})"
            lines.append(line)
            continue
        all_drafted = False
        if sub.status == "rejected":
            lines.append(f"submission {sid}: step intake failed: {sub.detail}")
            continue
        row = steps.get(sub.step or "") or {}
        state = row.get("status") or "not run"
        why = row.get("error") or sub.detail or "it did not run"
        if state == "failed":
            when = row.get("next_attempt_at")
            state = f"failed (attempt {row.get('attempts')}; tried again from {when:%H:%M} UTC)"
        elif state == "dead":
            state = "dead-lettered (`agent replay` puts it back in line)"
        lines.append(f"submission {sid}: step {sub.step} {state}: {why}")
    return lines, all_drafted


def run_agent(args: argparse.Namespace) -> int:
    try:
        forms = read_forms(args.form)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from dagster import DagsterInstance

    from pipeline.agent import ledger
    from pipeline.definitions import build_definitions
    from pipeline.definitions.runner import QUIET, failed_run

    settings = load_settings()
    engine = _engine()
    ids = inbox_ids_for(engine, forms)
    submission_ids = list(dict.fromkeys(sub.conversion_id for _, sub in forms))  # type: ignore[attr-defined]
    ledger.retry_now(engine, submission_ids)  # a person asked: failed steps go now
    definitions = build_definitions(settings)
    if os.environ.get("DAGSTER_HOME"):
        instance = DagsterInstance.get()
    else:
        print(
            "note: DAGSTER_HOME is not set: the run is not recorded where the UI reads it",
            file=sys.stderr,
        )
        instance = DagsterInstance.ephemeral()
    with instance:
        result = definitions.resolve_job_def("agent_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={**QUIET, "ops": {"form_submissions": {"config": {"inbox_ids": ids}}}},
        )
    if not result.success:
        print(failed_run("agent_job", result).paragraph(), file=sys.stderr)
    lines, all_drafted = outcome_lines(engine, submission_ids)
    for line in lines:
        print(line, file=sys.stdout if all_drafted else sys.stderr)
    return 0 if all_drafted else 1


def run_status(args: argparse.Namespace) -> int:
    from pipeline.agent import ledger

    engine = _engine()
    subs = ledger.submissions(engine, args.ids or None)
    if not subs:
        print("no form submissions")
        return 0
    for sub in subs:
        where = f"next step {sub.step}" if sub.step else "all steps done"
        detail = f": {sub.detail}" if sub.detail else ""
        print(f"{sub.submission_id}  {sub.email or '-'}  {sub.status} ({where}){detail}")
    return 0


def run_dead_letters(args: argparse.Namespace) -> int:
    from pipeline.agent import ledger

    letters = ledger.dead_letters(_engine())
    if not letters:
        print("no dead-lettered steps")
        return 0
    for d in letters:
        print(
            f"{d['submission_id']}  step {d['step']}  after {d['attempts']} attempt(s), "
            f"{d['dead_at']:%Y-%m-%d %H:%M}: {d['error']}"
        )
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from pipeline.agent import ledger

    replayed = ledger.replay(_engine(), args.ids)
    print(
        f"replayed {len(replayed)} submission(s): {', '.join(replayed)}"
        if replayed
        else "nothing to replay"
    )
    return 0
