"""Pipeline-wide settings as a resource, so runs and the UI show the values in use."""

from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.file_intake import IntakeLimits


class PipelineSettings(ConfigurableResource):
    data_dir: str = Field(description="Where the warehouse, landing zone and quarantine live.")
    default_country: str = Field(
        default="US",
        description=(
            "ISO alpha-2 country for phone numbers without one, and whose convention reads "
            "numeric dates (05/09/2026) that no value of their file decides."
        ),
    )
    excel_sheets: Literal["leads", "first", "all"] = Field(
        default="leads",
        description="Workbook sheets to read: every sheet whose header maps to lead fields "
        "(leads), the first sheet only, or all sheets.",
    )
    max_file_bytes: int = Field(
        default=256 * 2**20, description="Larger files are quarantined, not read."
    )
    max_uncompressed_bytes: int = Field(
        default=2**30, description="Bound on what an archive may decompress to (zip bombs)."
    )
    max_field_chars: int = Field(
        default=32_767, description="A longer value quarantines its file, naming the row."
    )
    header_aliases: str | None = Field(
        default=None, description="Extra header alias YAML, merged over the built-in table."
    )
    min_valid_email_share: float = Field(
        default=0.5, description="normalized_leads check: warn below this share of valid emails."
    )

    @property
    def intake_limits(self) -> IntakeLimits:
        return IntakeLimits(
            max_file_bytes=self.max_file_bytes,
            max_uncompressed_bytes=self.max_uncompressed_bytes,
            max_field_chars=self.max_field_chars,
        )

    @property
    def landing_dir(self) -> Path:
        return Path(self.data_dir) / "landing"

    @property
    def quarantine_dir(self) -> Path:
        return Path(self.data_dir) / "quarantine"
