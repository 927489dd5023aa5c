"""The `enriched_leads` asset through Dagster, and how the backend is chosen."""

from __future__ import annotations

import polars as pl
import pytest
from dagster import asset, materialize

from assets.enrich import enriched_leads
from pipeline.config import ConfigError as SettingsError
from pipeline.config import load_settings
from pipeline.definitions import enrichment_from
from pipeline.enrich import ConfigError
from resources.enrichment import OfflineEnrichment, WaterfallEnrichment
from resources.io_manager import LeadsWarehouseIOManager
from resources.ops_store import OpsStore
from tests.fakes.enrichment_vendor import VendorServer, VendorState, company_payload


@asset(name="golden_leads")
def golden_stub() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity_id": ["e1", "e2", "e3"],
            "email": ["ann@acme.com", "bob@gmail.com", None],
            "first_name": ["Ann", "Bob", "Cy"],
            "last_name": ["Lee", "Ray", "Sun"],
            "domain": ["acme.com", None, "zeta.io"],
            "phone_e164": ["+14155550100", "+442079460000", None],
            "company": [None, None, "Zeta"],
        }
    )


def resources(tmp_path, enrichment):
    return {
        "io_manager": LeadsWarehouseIOManager(database=str(tmp_path / "wh.duckdb"), schema="leads"),
        "ops_store": OpsStore(database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}"),
        "enrichment": enrichment,
    }


def test_enriched_leads_materializes_offline_with_status_and_a_passing_check(tmp_path):
    result = materialize(
        [golden_stub, enriched_leads], resources=resources(tmp_path, OfflineEnrichment())
    )
    assert result.success
    frame = result.output_for_node("enriched_leads")
    assert frame["company"].to_list() == ["Acme", None, "Zeta"]
    assert frame["is_free_email"].to_list() == [False, True, False]
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    metadata = result.asset_materializations_for_node("enriched_leads")[0].metadata
    assert metadata["leads"].value == 3


def test_enriched_leads_fails_loudly_when_a_provider_refuses_its_key(tmp_path, monkeypatch):
    state = VendorState(api_key="right-key")
    state.companies["acme.com"] = company_payload("Acme", "Software", "11-50", "US")
    config = tmp_path / "enrichment.yaml"
    with VendorServer(state) as server:
        config.write_text(
            "providers:\n  firmographics:\n    kind: company\n"
            f"    base_url: {server.url}\n    api_key_env: T_FIRMO\n"
            "    rate: {requests: 50, per_seconds: 1}\n    max_attempts: 1\n"
            "    field_map: {industry: category.industry}\n"
            "waterfall:\n  industry: [firmographics]\n"
        )
        monkeypatch.setenv("T_FIRMO", "wrong-key")
        result = materialize(
            [golden_stub, enriched_leads],
            resources=resources(tmp_path, WaterfallEnrichment(config_path=str(config))),
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "T_FIRMO" in str(failure.event_specific_data.error.message)
    assert "wrong-key" not in str(failure.event_specific_data)


def test_http_enrichment_without_keys_is_a_configuration_error(settings, monkeypatch):
    monkeypatch.delenv("EMAIL_FINDER_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="EMAIL_FINDER_API_KEY"):
        enrichment_from(settings.model_copy(update={"enrichment": "http"}))
    monkeypatch.setenv("LEADS_ENRICHMENT", "magic")
    with pytest.raises(SettingsError, match=r"LEADS_ENRICHMENT='magic'.*'offline' or 'http'"):
        load_settings()
    assert isinstance(enrichment_from(settings), OfflineEnrichment)
