"""Pipeline-wide settings as a resource, so runs and the UI show the values in use."""

from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field


class PipelineSettings(ConfigurableResource):
    data_dir: str = Field(description="Where the warehouse, landing zone and quarantine live.")
    default_country: str = Field(
        default="US",
        description=(
            "ISO alpha-2 country for phone numbers without one, and whose convention reads "
            "numeric dates (05/09/2026) that no value of their file decides."
        ),
    )
    excel_sheets: Literal["first", "all"] = Field(
        default="first", description="Read only the first sheet of a workbook, or all sheets."
    )
    header_aliases: str | None = Field(
        default=None, description="Extra header alias YAML, merged over the built-in table."
    )
    min_valid_email_share: float = Field(
        default=0.5, description="normalized_leads check: warn below this share of valid emails."
    )

    @property
    def landing_dir(self) -> Path:
        return Path(self.data_dir) / "landing"

    @property
    def quarantine_dir(self) -> Path:
        return Path(self.data_dir) / "quarantine"
