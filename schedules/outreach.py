"""`sequence_tick`: every 15 minutes, materialize `sequence_state` (enrol, stop, send)."""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

outreach_tick_job = define_asset_job(
    "outreach_tick_job",
    selection=AssetSelection.assets("sequence_state"),
    description="One sequence tick: enrol new leads, apply stops, draft or send what is due.",
)

# On by default: in the default EMAIL_SEND_MODE=draft_only a tick only writes drafts.
sequence_tick = ScheduleDefinition(
    name="sequence_tick",
    cron_schedule="*/15 * * * *",
    job=outreach_tick_job,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Advances outreach sequences: every 15 minutes (see `python -m pipeline "
    "outreach tick` for the same from a terminal).",
)
