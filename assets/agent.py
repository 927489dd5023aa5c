"""The `agent` group: a form submission to a personalized draft, in seven assets, one per step.

`form_submissions` takes the inbox's form events (the inbox sensor hands their ids over; a
materialization without ids takes every unprocessed one) and normalizes the prospects; each
later asset does its step for every submission ready for it (`pipeline.agent.flow`): resolve
in the CRM, mail history, free slots, the message, the draft, the follow-up task. The state
lives in the operational store (`agent_submissions`, `agent_steps`), so a failed step is
retried by the next run from where it stopped; each asset's table is that step's state for
every submission. A per-submission failure does not fail the run (it is retried, then
dead-lettered); the kill switch does.
"""

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    Config,
    MetadataValue,
    Output,
    asset,
    define_asset_job,
)
from pydantic import Field
from sqlalchemy import select

from assets.metadata import preview
from pipeline.agent import ledger
from pipeline.agent.flow import StepOutcome, run_ready, take_in
from pipeline.agent.intake import SOURCE
from pipeline.store.inbox import events_by_id, mark_processed
from pipeline.store.tables import webhook_inbox
from resources.agent import AgentResource
from resources.crm import CrmResource
from resources.email import EmailResource
from resources.enrichment import EnrichmentProvider
from resources.llm import LlmResource
from resources.ops_store import OpsStore

GROUP = "agent"
STEP_ASSETS = {
    "crm": "agent_crm_records",
    "mail_history": "agent_mail_history",
    "free_slots": "agent_free_slots",
    "message": "agent_messages",
    "draft": "agent_drafts",
    "followup": "agent_followup_tasks",
}
STEP_SCHEMA = {
    "submission_id": pl.String,
    "status": pl.String,
    "attempts": pl.Int64,
    "error": pl.String,
    "finished_at": pl.Datetime("us"),
    "duration_ms": pl.Int64,
    "result": pl.String,
}


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def step_table(engine: Any, step: str, extract: tuple[str, ...] = ()) -> pl.DataFrame:
    """Every submission's state at `step`, with a few fields of the result as columns."""
    rows = []
    for row in ledger.step_rows(engine, step):
        result = json.loads(row["result"]) if row["result"] else {}
        rows.append(
            {
                "submission_id": row["submission_id"],
                "status": row["status"],
                "attempts": row["attempts"],
                "error": row["error"],
                "finished_at": _naive_utc(row["finished_at"]),
                "duration_ms": row["duration_ms"],
                **{k: None if result.get(k) is None else str(result.get(k)) for k in extract},
                "result": row["result"],
            }
        )
    schema = {**STEP_SCHEMA, **dict.fromkeys(extract, pl.String)}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _metadata(outcomes: list[StepOutcome], table: pl.DataFrame) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for outcome in outcomes:
        by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
    problems = [f"{o.submission_id}: {o.status}: {o.detail}" for o in outcomes if o.detail]
    return {
        "this_run": MetadataValue.json(by_status),
        **{f"this_run_{k}": MetadataValue.int(v) for k, v in by_status.items()},
        "preview": preview(table.drop("result", strict=False).tail(20), rows=20),
        **(
            {"problems": MetadataValue.md("\n".join(f"- {p}" for p in problems[:20]))}
            if problems
            else {}
        ),
    }


def _services(context: AssetExecutionContext, ops_store: OpsStore, agent: AgentResource, **shared):
    return agent.services(ops_store.engine, run_id=context.run_id, **shared)


class FormSubmissionsConfig(Config):
    inbox_ids: list[int] = Field(default_factory=list)


@asset(
    group_name=GROUP,
    kinds={"polars"},
    description=(
        "Step 1, intake: HubSpot Forms API submissions from `POST /webhooks/forms` or "
        "`agent run --form FILE.json`, one row per conversionId, with the prospect normalized "
        "by the project's normalizers; `rejected` ones (no valid email) keep the reason."
    ),
)
def form_submissions(
    context: AssetExecutionContext,
    config: FormSubmissionsConfig,
    ops_store: OpsStore,
    agent: AgentResource,
) -> Output[pl.DataFrame]:
    engine = ops_store.engine
    if config.inbox_ids:
        events = [e for e in events_by_id(engine, config.inbox_ids) if e.source == SOURCE]
    else:
        t = webhook_inbox
        with engine.connect() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(t.c.id).where(
                        t.c.source == SOURCE, t.c.status.in_(("pending", "dispatched", "retry"))
                    )
                )
            ]
        events = events_by_id(engine, ids)
    services = agent.services(
        engine, crm=None, email=None, llm=None, enrichment=None, run_id=context.run_id
    )
    outcomes = take_in(services, events, agent.default_country)
    mark_processed(engine, [e.id for e in events])
    rows = [
        {
            "submission_id": s.submission_id,
            "email": s.email,
            "origin": s.origin,
            "status": s.status,
            "next_step": s.step,
            "detail": s.detail,
            "company": s.prospect.get("company"),
            "submitted_at": s.prospect.get("submitted_at"),
        }
        for s in ledger.submissions(engine)
    ]
    schema = dict.fromkeys(
        ("submission_id", "email", "origin", "status", "next_step", "detail", "company"),
        pl.String,
    ) | {"submitted_at": pl.String}
    table = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    context.log.info(f"form submissions: {len(events)} inbox event(s) taken in")
    return Output(table, metadata=_metadata(outcomes, table))


def _step_asset(step: str, upstream: str, description: str, extract: tuple[str, ...] = ()):
    name = STEP_ASSETS[step]

    @asset(name=name, group_name=GROUP, deps=[upstream], kinds={"polars"}, description=description)
    def _step(
        context: AssetExecutionContext,
        ops_store: OpsStore,
        agent: AgentResource,
        crm: CrmResource,
        email: EmailResource,
        llm: LlmResource,
        enrichment: EnrichmentProvider,
    ) -> Output[pl.DataFrame]:
        services = _services(
            context, ops_store, agent, crm=crm, email=email, llm=llm, enrichment=enrichment
        )
        try:
            outcomes = run_ready(services, step)
        finally:
            services.close()
        table = step_table(ops_store.engine, step, extract)
        done = sum(o.status == "done" for o in outcomes)
        context.log.info(f"{name}: {done} of {len(outcomes)} ready submission(s) done")
        return Output(table, metadata=_metadata(outcomes, table))

    return _step


agent_crm_records = _step_asset(
    "crm",
    "form_submissions",
    "Step 2: the contact by email and the company by domain in the CRM (outbox or HubSpot), "
    "created when missing, with their ids and what the CRM already knew.",
    ("contact_id", "contact_created", "company_id", "company_created"),
)
agent_mail_history = _step_asset(
    "mail_history",
    "agent_crm_records",
    "Step 3: the last messages exchanged with the address and the company's domain (the "
    "owner's Gmail, or MAIL_ARCHIVE).",
    ("count", "last_date"),
)
agent_free_slots = _step_asset(
    "free_slots",
    "agent_mail_history",
    "Step 4: the next free slots in the owner's working hours (Google Calendar freebusy or "
    "CALENDAR_ICS), in the prospect's time zone.",
    ("timezone", "times", "why_none"),
)
agent_messages = _step_asset(
    "message",
    "agent_free_slots",
    "Step 5: the message, written from the gathered facts only (LLM or template), validated "
    "for length, language, links, prices and invented facts.",
    ("subject", "writer", "model", "rejected"),
)
DRAFT_CHECKS = [
    AssetCheckSpec(
        "no_dead_lettered_submissions",
        asset="agent_drafts",
        description="No form submission is dead-lettered (`agent dead-letters` lists them).",
    )
]


@asset(
    group_name=GROUP,
    deps=["agent_messages"],
    kinds={"email", "polars"},
    check_specs=DRAFT_CHECKS,
    description=(
        "Step 6: the draft, through the email interface: always a draft, never sent (a person "
        "reviews and sends it)."
    ),
)
def agent_drafts(
    context: AssetExecutionContext,
    ops_store: OpsStore,
    agent: AgentResource,
    crm: CrmResource,
    email: EmailResource,
    llm: LlmResource,
    enrichment: EnrichmentProvider,
):
    services = _services(
        context, ops_store, agent, crm=crm, email=email, llm=llm, enrichment=enrichment
    )
    try:
        outcomes = run_ready(services, "draft")
    finally:
        services.close()
    table = step_table(ops_store.engine, "draft", ("to", "subject", "writer", "provider_id"))
    yield Output(table, metadata=_metadata(outcomes, table))
    dead = ledger.dead_letters(ops_store.engine)
    yield AssetCheckResult(
        check_name="no_dead_lettered_submissions",
        passed=not dead,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "dead_lettered": MetadataValue.int(len(dead)),
            "steps": MetadataValue.md(
                "\n".join(f"- {d['submission_id']}: {d['step']}: {d['error'][:200]}" for d in dead)
                or "_none_"
            ),
        },
    )


agent_followup_tasks = _step_asset(
    "followup",
    "agent_drafts",
    "Step 7: a follow-up task in the CRM for the owner, linked to the contact.",
    ("task_id", "owner", "due_at", "subject"),
)

agent_job = define_asset_job(
    "agent_job",
    selection=AssetSelection.groups(GROUP),
    description="A form submission to a draft and a follow-up task (every step that is ready).",
)
