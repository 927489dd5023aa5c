"""Step 7, the follow-up task: one task in the CRM for the owner, linked to the contact, due
a few business days later in the owner's working hours, found again by its key (or subject
on HubSpot) so a re-run makes none twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.agent.config import AgentConfig
from pipeline.agent.free_slots import owner_calendar
from pipeline.crm.client import CrmClient, FollowUpTask


def task_for(
    config: AgentConfig,
    submission_id: str,
    prospect: dict[str, Any],
    contact_id: str,
    draft: dict[str, Any],
    slots: dict[str, Any],
    owner_email: str,
    now: datetime,
) -> FollowUpTask:
    calendar = owner_calendar(config.slots)
    local = now.astimezone(calendar.zone)
    due_day = calendar.add_business_days(local.date(), config.followup.due_business_days)
    due_at = calendar.next_open(
        datetime.combine(due_day, calendar.start, tzinfo=calendar.zone).astimezone(now.tzinfo)
    )
    who = " ".join(p for p in (prospect.get("first_name"), prospect.get("last_name")) if p)
    who = who or prospect["email"]
    company = f" ({prospect['company']})" if prospect.get("company") else ""
    offered = "\n".join(f"- {t}" for t in slots.get("times") or []) or "- (no times offered)"
    body = (
        f"{who}{company} filled in a web form. A draft reply is waiting in your mailbox: "
        f'"{draft["subject"]}" (written by: {draft.get("writer")}). Review it, edit it and '
        f"send it yourself, or queue it for approval.\n\nTimes offered ({slots.get('timezone')}):\n"
        f"{offered}\n\nForm submission: {submission_id}"
    )
    return FollowUpTask(
        key=f"agent-followup:{submission_id}",
        contact_id=contact_id,
        email=prospect["email"],
        subject=f"Follow up: {who}{company}, web form {submission_id[:12]}",
        body=body,
        due_at=due_at,
        owner_email=owner_email,
        priority=config.followup.priority,
    )


def create_followup(client: CrmClient, task: FollowUpTask, owner_id: str | None) -> dict[str, Any]:
    task = FollowUpTask(**{**task.__dict__, "owner_id": owner_id})
    existing = client.find_task(task)
    task_id = existing or client.create_task(task)
    return {
        "task_id": task_id,
        "created": existing is None,
        "owner": owner_id or task.owner_email,
        "due_at": task.due_at.isoformat(),
        "subject": task.subject,
        "contact_id": task.contact_id,
    }
