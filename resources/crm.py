"""Where CRM writes go: the outbox (default) or HubSpot, chosen by CRM_BACKEND; and where the
CRM is read from (`crm_records`): HubSpot itself, or an export file (CRM_IMPORT_FILE).

The resource only holds configuration; each run gets a fresh client bound to the operational
store and the run id, and the run log names the backend.
"""

from abc import ABC, abstractmethod

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.crm.client import CrmClient, OutboxCrm
from pipeline.crm.hubspot import HubSpotCrm
from pipeline.crm.source import CrmSource, ExportSource, HubSpotSource, NoSource
from pipeline.crm.survivor import CRITERIA


class CrmResource(ConfigurableResource, ABC):
    mapping_path: str | None = Field(
        default=None, description="CRM mapping YAML; default: pipeline/crm/mapping.yaml."
    )
    max_rejected_rate: float = Field(
        default=0.05, description="crm_contacts check fails above this share of rejected records."
    )
    import_file: str | None = Field(
        default=None, description="CRM_IMPORT_FILE: a HubSpot contacts export read as the CRM."
    )
    import_companies_file: str | None = Field(
        default=None, description="CRM_IMPORT_COMPANIES_FILE: the portal's companies export."
    )
    merge_survivor: list[str] = Field(
        default_factory=lambda: list(CRITERIA),
        description="CRM_MERGE_SURVIVOR: which record a merge keeps, criteria in order.",
    )

    @abstractmethod
    def client(self, engine: Engine, run_id: str) -> CrmClient: ...

    @property
    @abstractmethod
    def backend(self) -> str:
        """The backend's name, as its clients and the ledger give it."""

    def source(self, engine: Engine, run_id: str, contact_properties: list[str]) -> CrmSource:
        """The export file when one is set, else the CRM itself when it can be read."""
        from pathlib import Path

        if self.import_file:
            companies = Path(self.import_companies_file) if self.import_companies_file else None
            return ExportSource(Path(self.import_file), companies)
        return self._own_source(engine, run_id, contact_properties)

    def _own_source(self, engine: Engine, run_id: str, contact_properties: list[str]) -> CrmSource:
        return NoSource()


class OutboxCrmResource(CrmResource):
    @property
    def backend(self) -> str:
        return OutboxCrm.backend

    def client(self, engine: Engine, run_id: str) -> CrmClient:
        return OutboxCrm(engine, run_id)


class HubSpotCrmResource(CrmResource):
    access_token: str = Field(description="HubSpot private app token (HUBSPOT_ACCESS_TOKEN).")
    base_url: str | None = Field(default=None, description="HUBSPOT_BASE_URL; default HubSpot.")
    requests_per_10s: int = Field(
        default=100, description="The portal's 10-second limit (100, or 190 on Pro/Enterprise)."
    )
    daily_limit: int | None = Field(default=None, description="Daily request quota, if any.")

    @property
    def backend(self) -> str:
        return HubSpotCrm.backend

    def client(self, engine: Engine, run_id: str) -> CrmClient:
        return HubSpotCrm(
            self.access_token,
            self.base_url,
            requests_per_10s=self.requests_per_10s,
            daily_limit=self.daily_limit,
            engine=engine,
        )

    def _own_source(self, engine: Engine, run_id: str, contact_properties: list[str]) -> CrmSource:
        return HubSpotSource(self.client(engine, run_id), contact_properties)
