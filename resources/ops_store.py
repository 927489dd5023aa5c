"""The operational store as a Dagster resource (the URL comes from LEADS_DATABASE_URL)."""

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.store import open_store


class OpsStore(ConfigurableResource):
    database_url: str = Field(
        description="SQLAlchemy URL of the operational store (sqlite:/// or postgresql://)."
    )
    max_attempts: int = Field(
        default=5, description="Failed processing attempts before an event is dead-lettered."
    )

    @property
    def engine(self) -> Engine:
        return open_store(self.database_url)
