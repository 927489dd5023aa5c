"""The agent's part of `make demo`: two sample form submissions (data/sample_agent/forms)
through the local backends, and a printout of the drafts and tasks they made."""

from __future__ import annotations

import textwrap

from pipeline.config import PROJECT_ROOT, Settings

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample_agent"


def demo_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """The sample mail archive and calendar where none is configured (local backends)."""
    update: dict[str, object] = {}
    notes = []
    if settings.mail_history_backend == "local" and settings.mail_archive is None:
        update["mail_archive"] = SAMPLE_DIR / "mail"
        notes.append(f"MAIL_ARCHIVE unset: the demo reads {SAMPLE_DIR / 'mail'}")
    if settings.calendar_backend == "ics" and settings.calendar_ics is None:
        update["calendar_ics"] = SAMPLE_DIR / "busy.ics"
        notes.append(f"CALENDAR_ICS unset: the demo reads {SAMPLE_DIR / 'busy.ics'}")
    return (settings.model_copy(update=update) if update else settings), notes


def sample_forms() -> list[tuple[dict, object]]:
    from pipeline.agent.cli import read_forms

    return read_forms(sorted((SAMPLE_DIR / "forms").glob("*.json")))


def queue_samples(settings: Settings) -> list[str]:
    """Put the sample submissions in the inbox (once; a re-run finds them there)."""
    from pipeline.agent.cli import inbox_ids_for
    from pipeline.store import open_store

    forms = sample_forms()
    inbox_ids_for(open_store(settings.store_url), forms)
    return [sub.conversion_id for _, sub in forms]  # type: ignore[attr-defined]


def demo_text(settings: Settings, submission_ids: list[str]) -> str:
    from pipeline.agent import ledger
    from pipeline.store import open_store

    engine = open_store(settings.store_url)
    out = ["Prospecting agent (drafts only: nothing was sent):"]
    for sid in submission_ids:
        sub = ledger.get(engine, sid)
        results = ledger.results(engine, sid)
        if sub is None or "draft" not in results:
            where = sub.detail if sub else "not taken in"
            out.append(f"\n  {sid}: no draft ({where})")
            continue
        draft, message = results["draft"], results["message"]
        out.append(
            f"\n  Draft to {draft['to']} ({draft['provider_id']}, written by "
            f"{message['writer']})\n  Subject: {draft['subject']}\n"
            + textwrap.indent(message["body"], "    | ", lambda _line: True)
        )
        task = results.get("followup")
        if task:
            out.append(
                f"  CRM task {task['task_id']} for {task['owner']}, due {task['due_at'][:16]}: "
                f"{task['subject']}"
            )
        crm = results["crm"]
        made = [w for w, new in (("contact", crm["contact_created"]),
                                 ("company", crm["company_created"])) if new]  # fmt: skip
        out.append(
            f"  CRM: contact {crm['contact_id']}, company {crm['company_id']}"
            + (f" ({' and '.join(made)} created)" if made else "")
        )
    out.append(
        "\n  `python -m pipeline agent status` lists submissions; `agent run --form FILE.json` "
        "runs one."
    )
    return "\n".join(out)


__all__ = ["demo_settings", "demo_text", "queue_samples"]
