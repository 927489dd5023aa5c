"""Where CRM writes go: the outbox (default) or HubSpot, chosen by CRM_BACKEND.

The resource only holds configuration; each run gets a fresh client bound to the operational
store and the run id, and the run log names the backend.
"""

from abc import ABC, abstractmethod

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.crm.client import CrmClient, OutboxCrm
from pipeline.crm.hubspot import HubSpotCrm


class CrmResource(ConfigurableResource, ABC):
    mapping_path: str | None = Field(
        default=None, description="CRM mapping YAML; default: pipeline/crm/mapping.yaml."
    )
    max_rejected_rate: float = Field(
        default=0.05, description="crm_contacts check fails above this share of rejected records."
    )

    @abstractmethod
    def client(self, engine: Engine, run_id: str) -> CrmClient: ...


class OutboxCrmResource(CrmResource):
    def client(self, engine: Engine, run_id: str) -> CrmClient:
        return OutboxCrm(engine, run_id)


class HubSpotCrmResource(CrmResource):
    access_token: str = Field(description="HubSpot private app token (HUBSPOT_ACCESS_TOKEN).")
    base_url: str | None = Field(default=None, description="HUBSPOT_BASE_URL; default HubSpot.")
    requests_per_10s: int = Field(
        default=100, description="The portal's 10-second limit (100, or 190 on Pro/Enterprise)."
    )
    daily_limit: int | None = Field(default=None, description="Daily request quota, if any.")

    def client(self, engine: Engine, run_id: str) -> CrmClient:
        return HubSpotCrm(
            self.access_token,
            self.base_url,
            requests_per_10s=self.requests_per_10s,
            daily_limit=self.daily_limit,
            engine=engine,
        )
