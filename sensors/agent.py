"""Retries for the prospecting agent: a step that failed (or waited for the LLM budget) is
due again at its `next_attempt_at`; this sensor requests an agent run then. Run keys carry the
submissions, steps and attempt counts, so one due retry starts one run."""

from __future__ import annotations

import hashlib
from typing import Any

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from pipeline.agent.ledger import due_retries
from resources.ops_store import OpsStore


def build_agent_retry_sensor(agent_job: Any, minimum_interval_seconds: int = 60):
    @sensor(
        name="agent_retry_sensor",
        job=agent_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Requests a prospecting agent run when a failed step (or one waiting for the LLM "
            "budget) is due another attempt."
        ),
    )
    def agent_retry_sensor(
        context: SensorEvaluationContext, ops_store: OpsStore
    ) -> SensorResult | SkipReason:
        due = due_retries(ops_store.engine)
        if not due:
            return SkipReason("agent: no step is due a retry")
        digest = hashlib.sha256(
            "\n".join(f"{sid}:{step}:{attempts}" for sid, step, attempts in due).encode()
        ).hexdigest()[:24]
        context.log.info(f"agent: {len(due)} step(s) due a retry")
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key=f"agent-retry:{digest}",
                    tags={"leads/trigger": "agent_retry", "leads/steps": str(len(due))},
                )
            ]
        )

    return agent_retry_sensor
