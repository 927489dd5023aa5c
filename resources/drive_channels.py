"""How Drive push channels are kept open: the token they carry and their lifetime."""

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.drive.channels import DEFAULT_HOURS, RENEW_WITHIN


class DriveChannelSettings(ConfigurableResource):
    channel_token: str | None = Field(
        default=None,
        description="DRIVE_CHANNEL_TOKEN: carried by every notification; the receiver checks it.",
    )
    hours: float = Field(default=DEFAULT_HOURS, description="Lifetime asked for a new channel.")
    renew_within_hours: float = Field(
        default=RENEW_WITHIN.total_seconds() / 3600,
        description="Channels expiring sooner than this are replaced.",
    )
