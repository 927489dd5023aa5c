"""Where the outreach sequences are defined (SEQUENCES_CONFIG)."""

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.outreach.config import SequencesFile, load_sequences


class SequencesResource(ConfigurableResource):
    path: str | None = Field(
        default=None, description="SEQUENCES_CONFIG; default pipeline/outreach/sequences.yaml."
    )

    def load(self) -> SequencesFile:
        return load_sequences(self.path)
