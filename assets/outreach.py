"""The `outreach` group: `sequence_state`, one row per enrolment, and each tick's work.

Materializing it is a sequence tick (the `sequence_tick` schedule does so every 15 minutes):
new matching leads are enrolled, stop conditions applied, due steps drafted, queued for
approval or sent (EMAIL_SEND_MODE), then the store's state is snapshotted with its history.
"""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
    Output,
    asset,
)
from sqlalchemy import func, select

from assets.metadata import counts, preview
from pipeline.clock import SystemClock
from pipeline.outreach.engine import Outreach, TickBusy
from pipeline.outreach.snapshot import recent_transitions, sequence_snapshot
from pipeline.store.tables import email_messages, outreach_mailboxes
from resources.crm import CrmResource
from resources.email import EmailResource
from resources.ops_store import OpsStore
from resources.outreach import SequencesResource

CHECKS = [
    AssetCheckSpec(
        "mailboxes_not_paused",
        asset="sequence_state",
        description="No sending mailbox is paused (a bounce rate over its limit pauses one).",
    ),
    AssetCheckSpec(
        "no_delivery_in_doubt",
        asset="sequence_state",
        description="No message is in doubt (a crash between sending and recording it).",
    ),
]


@asset(
    group_name="outreach",
    kinds={"email", "polars"},
    check_specs=CHECKS,
    description=(
        "Outreach sequence enrolments: state (enrolled, scheduled, pending approval, sent, "
        "replied, bounced, unsubscribed, completed, paused, stopped), the next step's due "
        "time and every transition with its cause (`history`). Each materialization is a "
        "sequence tick."
    ),
)
def sequence_state(
    context: AssetExecutionContext,
    scored_leads: pl.DataFrame,
    crm_contacts: pl.DataFrame,
    ops_store: OpsStore,
    email: EmailResource,
    sequences: SequencesResource,
    crm: CrmResource,
):
    engine = ops_store.engine
    config = sequences.load()
    context.log.info(email.describe())
    mailer = email.mailer(engine)
    outreach = Outreach(
        engine,
        config,
        mailer,
        email.links(engine),
        mode=email.send_mode,
        clock=SystemClock(),
        crm=lambda: crm.client(engine, context.run_id),
        progress=context.log.info,
    )
    metadata: dict = {}
    try:
        report = outreach.tick(scored_leads, crm_contacts)
        metadata = {
            "enrolled": MetadataValue.int(sum(r.enrolled for r in report.enrolled.values())),
            "not_enrolled": MetadataValue.json(
                {k: dict(r.skipped) for k, r in report.enrolled.items()}
            ),
            "planned": MetadataValue.int(report.planned),
            "delivered": MetadataValue.json(dict(report.delivered)),
            "stopped": MetadataValue.json(dict(report.stopped)),
            "deferred": MetadataValue.json(dict(report.deferred)),
            "send_mode": report.mode,
        }
    except TickBusy as exc:
        context.log.warning(str(exc))
    finally:
        mailer.backend.close()
    snapshot = sequence_snapshot(engine)
    with engine.connect() as conn:
        paused = conn.execute(
            select(outreach_mailboxes.c.address, outreach_mailboxes.c.paused_reason).where(
                outreach_mailboxes.c.paused.is_(True)
            )
        ).all()
        in_doubt = conn.execute(
            select(func.count()).where(email_messages.c.status == "in_doubt")
        ).scalar_one()
    yield Output(
        snapshot,
        metadata={
            **metadata,
            "by_state": counts(snapshot, "state"),
            "by_mailbox": counts(snapshot, "mailbox"),
            "recent_transitions": preview(recent_transitions(engine), rows=20),
        },
    )
    yield AssetCheckResult(
        check_name="mailboxes_not_paused",
        passed=not paused,
        severity=AssetCheckSeverity.WARN,
        metadata={"paused": MetadataValue.json({a: r for a, r in paused})},
    )
    yield AssetCheckResult(
        check_name="no_delivery_in_doubt",
        passed=in_doubt == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "in_doubt": in_doubt,
            "what_to_do": "python -m pipeline outreach approvals (approve re-sends, deny skips)",
        },
    )
