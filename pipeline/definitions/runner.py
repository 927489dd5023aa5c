"""Running the code location's jobs from the terminal (`make demo`, `python -m pipeline demo`).

Runs go to the persistent instance (DAGSTER_HOME), so they show up in the UI afterwards. A
failed run ends with one plain paragraph (what failed, where, why, what to do); the
traceback stays in the run's event log in the Dagster UI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from assets.partitions import arrival_partition_key
from pipeline.config import Settings
from pipeline.definitions.backends import lead_source_from
from pipeline.definitions.crm import crm_import_job, crm_job
from pipeline.definitions.dedupe import dedupe_job
from pipeline.definitions.enrich import enrich_job
from pipeline.definitions.ingest import ingest_job
from pipeline.definitions.marts import marts_job
from pipeline.failures import Failure

# The terminal shows nothing of Dagster's own logging: the summary and, on failure, one
# paragraph. Everything is in the run's event log (`make dev`).
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

# Dagster's own wrappers around the error a step raised: they say nothing a person can use.
_DAGSTER_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


@dataclass(frozen=True)
class FailedRun:
    job: str
    run_id: str
    step: str | None
    errors: tuple[str, ...]  # the error and its causes, outermost first

    def paragraph(
        self,
        url_settings: dict[str, str | None] | None = None,
        credentials: dict[str, str] | None = None,
    ) -> str:
        """What failed, where, why and what to do (see pipeline.failures)."""
        return Failure(
            what=f"The {self.job} run failed" + (f" in step {self.step}" if self.step else ""),
            errors=self.errors,
            traceback_at=f"the run's log in the Dagster UI (`make dev`, run {self.run_id})",
        ).paragraph(url_settings, credentials)


def failed_run(job: str, result: ExecuteInProcessResult) -> FailedRun:
    """The first step failure of a run, with its error's cause chain."""
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.event_specific_data
        error = getattr(data, "error", None)
        chain: list[str] = []
        while error is not None:
            if error.cls_name not in _DAGSTER_WRAPPERS:
                chain.append(error.message.strip())
            error = error.cause or error.context
        return FailedRun(job, result.run_id, event.step_key, tuple(chain) or ("unknown error",))
    return FailedRun(job, result.run_id, None, ("the run failed before any step ran",))


def _execute(
    definitions: Definitions, job_name: str, instance: DagsterInstance, **kwargs
) -> FailedRun | None:
    run_config = {**QUIET, **kwargs.pop("run_config", {})}  # a job's own config beside QUIET
    result = definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config, **kwargs
    )
    return None if result.success else failed_run(job_name, result)


def _crm_source(settings: Settings) -> str:
    if settings.crm_import_file is not None:
        return f"export file {settings.crm_import_file.name}"
    if settings.crm_backend == "hubspot":
        return "HubSpot"
    return "none configured"


def arrival_days(settings: Settings) -> list[str]:
    """Every arrival day the source's files fall on."""
    files = lead_source_from(settings).list_files(None, None)
    return sorted({arrival_partition_key(f.arrived_at) for f in files})


def files_to_crm_steps(settings: Settings) -> list[tuple[str, str, dict]]:
    """The lead path: ingest every arrival day in the source, read the CRM's contacts,
    dedupe, enrich and score, sync to the CRM (what `benchmarks/crm/bench_e2e.py` times)."""
    steps: list[tuple[str, str, dict]] = [
        (
            ingest_job.name,
            f"materializing ingest assets for arrival day {day}",
            {"partition_key": day},
        )
        for day in arrival_days(settings)
    ]
    return [
        *steps,
        (
            crm_import_job.name,
            "reading the CRM's contacts (" + _crm_source(settings) + ")",
            {},
        ),
        (dedupe_job.name, "resolving duplicates into entities (leads and CRM contacts)", {}),
        (enrich_job.name, "enriching and scoring the golden leads", {}),
        (crm_job.name, f"syncing contacts to the CRM ({settings.crm_backend})", {}),
    ]


def run_demo(settings: Settings, definitions: Definitions) -> FailedRun | None:
    """The lead path (files to the CRM), then the SQL marts, outreach drafts, the agent's
    samples and the monitoring days, on the persistent instance; the first failure stops
    the chain."""
    steps = files_to_crm_steps(settings)
    steps.append((marts_job.name, "building the SQL marts (dbt_like_sql/)", {}))
    if settings.email_send_mode == "draft_only":
        steps.append(
            (
                "outreach_tick_job",
                "enrolling leads into the outreach sequences and drafting what is due "
                "(EMAIL_SEND_MODE=draft_only: nothing is sent)",
                {},
            )
        )
    else:
        print(
            f"outreach: skipped in the demo (EMAIL_SEND_MODE={settings.email_send_mode}; the "
            "demo only ever drafts)"
        )
    from pipeline.agent.demo import queue_samples

    queue_samples(settings)
    steps.append(
        (
            "agent_job",
            "the prospecting agent: two sample form submissions to drafts and CRM tasks "
            "(data/sample_agent/forms; drafts only, never sent)",
            {},
        )
    )
    steps += monitoring_steps()
    return run_steps(definitions, steps)


def monitoring_steps() -> list[tuple[str, str, dict]]:
    """Collect and classify the news in the feed folders, day by day, then today."""
    from datetime import UTC, datetime

    from assets.news_days import folder_item_days, news_day_key

    days = [news_day_key(d) for d in folder_item_days()]
    today = news_day_key(datetime.now(UTC))
    return [
        (
            "monitoring_refresh_job",
            f"monitoring the accounts' news for {day}" + (" (today)" if day == today else ""),
            {"partition_key": day},
        )
        for day in sorted({*days, today})
    ]


def run_steps(definitions: Definitions, steps: Iterable[tuple[str, str, dict]]) -> FailedRun | None:
    with DagsterInstance.get() as instance:
        for job_name, what, kwargs in steps:
            print(f"{what} ...", flush=True)
            failure = _execute(definitions, job_name, instance, **kwargs)
            if failure is not None:
                return failure
    return None
