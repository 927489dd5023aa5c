"""The `drive` group: the push channels that wake the file-arrival sensor on Drive changes."""

from datetime import timedelta

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipeline.drive.channels import all_channels, renew_due
from resources.drive_channels import DriveChannelSettings
from resources.lead_source import DriveLeadSource, LeadSource
from resources.ops_store import OpsStore

GROUP = "drive"


@asset(
    group_name=GROUP,
    kinds={"googledrive"},
    description=(
        "Drive push channels (`python -m pipeline drive watch`): materializing replaces each "
        "channel that expires soon (a new one opens, then the old one stops; the kill switch "
        "is checked before each) and lists them all."
    ),
)
def drive_watch_channels(
    context: AssetExecutionContext,
    lead_source: LeadSource,
    ops_store: OpsStore,
    drive_channel_settings: DriveChannelSettings,
) -> MaterializeResult:
    if not isinstance(lead_source, DriveLeadSource):
        raise TypeError(f"Drive channels need LEADS_SOURCE=drive, not {lead_source.describe()}")
    engine = ops_store.engine
    settings = drive_channel_settings
    renewals = renew_due(
        lead_source.drive().api,
        engine,
        settings.channel_token or "",
        f"run {context.run_id}",
        within=timedelta(hours=settings.renew_within_hours),
        hours=settings.hours,
    )
    for r in renewals:
        context.log.info(
            f"renewed {r.old.channel_id} -> {r.new.channel_id} (old channel {r.old_outcome}; "
            f"new one expires {r.new.expires_at:%Y-%m-%d %H:%M} UTC)"
        )
    channels = all_channels(engine)
    lines = ["| channel | address | expires (UTC) | state |", "|---|---|---|---|"]
    for c in channels[-50:]:
        state = (
            f"stopped ({'renewed' if c.replaced_by else 'unwatched'})"
            if c.stopped_at
            else "expired"
            if c.expired
            else "open"
        )
        lines.append(f"| {c.channel_id} | {c.address} | {c.expires_at:%Y-%m-%d %H:%M} | {state} |")
    open_now = [c for c in channels if c.stopped_at is None and not c.expired]
    return MaterializeResult(
        metadata={
            "renewed": len(renewals),
            "open_channels": len(open_now),
            "channels": MetadataValue.md("\n".join(lines) if channels else "_none yet_"),
        }
    )
