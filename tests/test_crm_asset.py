"""`crm_contacts` through Dagster, the backend choice, and CRM changes arriving by webhook."""

from __future__ import annotations

import json

import polars as pl
import pytest
from dagster import asset, materialize

from assets.crm import crm_contacts
from pipeline.config import ConfigError, load_settings
from pipeline.crm.changes import suppressed
from pipeline.definitions import crm_from
from pipeline.store.inbox import InboxEvent, accept_events, events_by_id
from resources.crm import HubSpotCrmResource, OutboxCrmResource
from resources.io_manager import LeadsWarehouseIOManager
from resources.ops_store import OpsStore
from resources.warehouse import Warehouse
from tests.crm_fixtures import NO_MERGES, scored
from tests.fakes.hubspot_server import HubSpotServer, HubSpotState
from tests.test_crm_hubspot import CUSTOM
from tests.test_webhook_inbox_sensor import process


@asset(name="scored_leads")
def scored_stub() -> pl.DataFrame:
    return scored(12)


@asset(name="entity_events")
def events_stub() -> pl.DataFrame:
    return NO_MERGES


def run(tmp_path, crm):
    return materialize(
        [scored_stub, events_stub, crm_contacts],
        resources={
            "io_manager": LeadsWarehouseIOManager(
                database=str(tmp_path / "wh.duckdb"), schema="leads"
            ),
            "ops_store": OpsStore(database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}"),
            "crm": crm,
            "warehouse": Warehouse(database=str(tmp_path / "wh.duckdb")),
        },
        raise_on_error=False,
    )


def test_crm_contacts_on_the_outbox_reports_what_it_planned(tmp_path):
    result = run(tmp_path, OutboxCrmResource())
    assert result.success
    ledger = result.output_for_node("crm_contacts")
    assert ledger.height == 12 and set(ledger["status"]) == {"synced"}
    metadata = result.asset_materializations_for_node("crm_contacts")[0].metadata
    assert metadata["sent"].value == 12 and metadata["backend"].value == "outbox"
    # The fixture's free-text industry ("Software") reaches HubSpot's options by an alias.
    assert metadata["industry_mapping"].value == {"alias": 12}
    assert metadata["industry_unmapped"].value == {}
    assert metadata["associations"].value == 12
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    again = run(tmp_path, OutboxCrmResource())
    assert again.asset_materializations_for_node("crm_contacts")[0].metadata["sent"].value == 0


def test_the_rejected_rate_check_fails_above_the_limit(tmp_path):
    state = HubSpotState(extra_properties={"contacts": CUSTOM})
    state.poison_emails = {f"person{i}@company{i % 3}.com" for i in range(3)}
    with HubSpotServer(state) as server:
        crm = HubSpotCrmResource(
            access_token=state.access_token, base_url=server.url, max_rejected_rate=0.1
        )
        result = run(tmp_path, crm)
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["rejected"].value == 3
    assert len(state.contacts) == 9


def test_hubspot_without_a_token_is_a_configuration_error(settings, monkeypatch):
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    with pytest.raises(ValueError, match="HUBSPOT_ACCESS_TOKEN"):
        crm_from(settings.model_copy(update={"crm_backend": "hubspot"}))
    monkeypatch.setenv("CRM_BACKEND", "salesforce")
    with pytest.raises(ConfigError, match=r"CRM_BACKEND='salesforce'.*'outbox' or 'hubspot'"):
        load_settings()
    monkeypatch.setenv("CRM_BACKEND", "hubspot")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-secret")
    assert isinstance(crm_from(load_settings(data_dir=settings.data_dir)), HubSpotCrmResource)
    assert isinstance(crm_from(settings), OutboxCrmResource)


def test_email_unsubscribes_and_hard_bounces_reach_the_suppression_list(store, store_url):
    events = [
        ("e1", "unsubscribe", "Ann@X.com", {}),
        ("e2", "bounce", "bob@x.com", {"bounce_type": "hard"}),
        ("e3", "bounce", "cy@x.com", {"bounce_type": "soft"}),
        ("e4", "reply", "dee@x.com", {}),
    ]
    accept_events(
        store,
        [
            InboxEvent(
                "email",
                f"fp-{eid}",
                f"email.{kind}",
                json.dumps(
                    {"id": eid, "type": kind, "email": email, "occurred_at": "2026-11-29", **extra}
                ),
            )
            for eid, kind, email, extra in events
        ],
    )
    process(store_url, [1, 2, 3, 4])
    assert suppressed(store) == {"ann@x.com": "unsubscribed", "bob@x.com": "hard_bounce"}
    assert {e.status for e in events_by_id(store, [1, 2, 3, 4])} == {"processed"}
