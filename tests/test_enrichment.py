"""Enrichment against local servers that answer like the vendors: the waterfall, the cache,
retries, the circuit breaker, timeouts and budgets, asserted on what the servers saw."""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from pipeline.enrich import (
    OFFLINE_CONFIG,
    ConfigError,
    EnrichmentConfig,
    enrich_leads,
    load_config,
    open_providers,
)
from tests.fakes.enrichment_vendor import (
    COMPANY_PATH,
    PERSON_PATH,
    VendorServer,
    VendorState,
    company_payload,
    person_payload,
)

KEY = "test-key"


def leads(n_domains: int = 3, per_domain: int = 2) -> pl.DataFrame:
    rows = []
    for d in range(n_domains):
        for p in range(per_domain):
            rows.append(
                {
                    "entity_id": f"e{d}-{p}",
                    "first_name": f"Ann{p}",
                    "last_name": f"Lee{d}",
                    "email": None if p == 0 else f"ann{p}@acme{d}.com",
                    "domain": f"acme{d}.com",
                    "phone_e164": "+14155550100",
                    "company": None,
                }
            )
    return pl.DataFrame(rows)


def config(url: str, **provider_overrides) -> EnrichmentConfig:
    common = {
        "base_url": url,
        "rate": {"requests": 100, "per_seconds": 1},
        "timeout_seconds": 2,
        "max_attempts": 3,
        "max_backoff_seconds": 0.05,
        "concurrency": 2,
    }
    firmographics = {
        "kind": "company",
        "api_key_env": "TEST_FIRMO_KEY",
        "field_map": {
            "company": "name",
            "industry": "category.industry",
            "employee_range": "metrics.employeesRange",
            "hq_country": "geo.countryCode",
            "technologies": "tech",
        },
        **common,
        **provider_overrides,
    }
    finder = {
        "kind": "email_finder",
        "api_key_env": "TEST_FINDER_KEY",
        "auth_scheme": "",
        "field_map": {"email": "email", "email_verification": "email_class"},
        **common,
    }
    return EnrichmentConfig.model_validate(
        {
            "providers": {"firmographics": firmographics, "email_finder": finder},
            "waterfall": {
                "email": ["email_finder"],
                "company": ["firmographics", "offline"],
                "industry": ["firmographics"],
                "employee_range": ["firmographics"],
                "hq_country": ["firmographics"],
                "technologies": ["firmographics"],
                "website": ["offline"],
            },
        }
    )


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("TEST_FIRMO_KEY", KEY)
    monkeypatch.setenv("TEST_FINDER_KEY", KEY)


@pytest.fixture
def vendor():
    state = VendorState(api_key=KEY)
    state.companies["acme0.com"] = company_payload(
        "Acme Zero Ltd", "Software", "51-200", "GB", ["aws"]
    )
    state.companies["acme1.com"] = company_payload("Acme One Inc", "Retail", "11-50", "US")
    state.people[("ann0", "lee0", "acme0.com")] = person_payload("ann.lee@acme0.com")
    with VendorServer(state) as server:
        yield server


def run(frame, cfg, store, **kw):
    providers = open_providers(cfg)
    try:
        return enrich_leads(frame, cfg, providers, store, **kw)
    finally:
        for p in providers.values():
            p.close()


def test_offline_enrichment_needs_no_network(tmp_path):
    frame = pl.DataFrame(
        {
            "email": ["x@gmail.com", "info@acme-robotics.co.uk", "a@mailinator.com", "bad@", None],
            "domain": [None, "acme-robotics.co.uk", None, None, None],
            "phone_e164": ["+442079460000", None, None, None, "+33142685300"],
        }
    )
    out, report = enrich_leads(frame, OFFLINE_CONFIG, {}, None)
    assert out["is_free_email"].to_list() == [True, False, False, False, False]
    assert out["is_disposable_email"].to_list() == [False, False, True, False, False]
    assert out["is_role_email"].to_list() == [False, True, False, False, False]
    assert out["email_deliverability"].to_list() == [
        "deliverable",
        "risky",
        "undeliverable",
        "undeliverable",
        "unknown",
    ]
    assert out["company"].to_list() == [None, "Acme Robotics", None, None, None]
    assert out["country"].to_list() == ["GB", None, None, None, "FR"]
    provenance = json.loads(out["enrichment_provenance"][1])
    assert provenance["company"]["provider"] == "offline"
    assert report.totals()["fetched"] == 0


def test_waterfall_asks_each_provider_once_per_distinct_input_and_records_provenance(
    vendor, sqlite_store
):
    out, report = run(leads(), config(vendor.url), sqlite_store)
    # 3 domains -> 3 company lookups for 6 leads; 3 leads without email -> 3 finder lookups.
    assert vendor.state.count(path=COMPANY_PATH) == 3
    assert vendor.state.count(path=PERSON_PATH) == 3
    rows = {r["entity_id"]: r for r in out.iter_rows(named=True)}
    assert rows["e0-0"]["company"] == "Acme Zero Ltd"
    assert rows["e0-0"]["industry"] == "Software"
    assert rows["e0-0"]["technologies"] == ["aws"]
    assert rows["e0-0"]["email"] == "ann.lee@acme0.com"
    assert rows["e0-0"]["email_verification"] == "verified"
    # acme2.com is unknown to the vendor (404): the offline guess fills the company.
    assert rows["e2-0"]["company"] == "Acme2" and rows["e2-0"]["industry"] is None
    provenance = json.loads(rows["e0-0"]["enrichment_provenance"])
    assert provenance["company"]["provider"] == "firmographics"
    assert provenance["email"]["provider"] == "email_finder"
    assert json.loads(rows["e2-0"]["enrichment_provenance"])["company"]["provider"] == "offline"
    assert rows["e1-1"]["email"] == "ann1@acme1.com"  # kept, not looked up
    assert set(out["enrichment_status"]) <= {"enriched", "not found"}
    assert report.providers["firmographics"].found == 2
    assert report.providers["firmographics"].not_found == 1


def test_a_company_answer_stops_the_waterfall_for_that_field(vendor, sqlite_store):
    out, _ = run(leads(1, 1), config(vendor.url), sqlite_store)
    assert out["company"][0] == "Acme Zero Ltd"  # not the offline guess "Acme0"


def test_rerun_on_unchanged_leads_makes_zero_http_calls(vendor, store):
    first, _ = run(leads(), config(vendor.url), store)
    calls = len(vendor.state.seen)
    second, report = run(leads(), config(vendor.url), store)
    assert len(vendor.state.seen) == calls
    assert report.totals()["fetched"] == 0 and report.totals()["cached"] == 6
    assert first.drop("enrichment_provenance").equals(second.drop("enrichment_provenance"))


def test_429_is_retried_after_retry_after(vendor, sqlite_store):
    vendor.state.forced.extend([429])
    vendor.state.retry_after = "1"
    started = time.monotonic()
    out, report = run(
        leads(1, 2).with_columns(pl.lit("x@acme0.com").alias("email")),
        config(vendor.url),
        sqlite_store,
    )
    assert time.monotonic() - started >= 1.0
    assert vendor.state.count(429) == 1 and vendor.state.count(200) == 1
    assert out["industry"].to_list() == ["Software", "Software"]
    assert report.http["firmographics"]["retries"] == 1


def test_server_errors_are_retried_then_succeed(vendor, sqlite_store):
    vendor.state.forced.extend([503, 502])
    frame = leads(1, 1).with_columns(pl.lit("x@acme0.com").alias("email"))
    out, _ = run(frame, config(vendor.url), sqlite_store)
    assert [s.status for s in vendor.state.seen if s.path == COMPANY_PATH] == [503, 502, 200]
    assert out["industry"][0] == "Software"


def test_circuit_breaker_stops_calling_a_failing_provider(vendor, sqlite_store):
    vendor.state.always_status = 500
    cfg = config(vendor.url, max_attempts=2, breaker={"fail_max": 2, "reset_seconds": 60})
    frame = leads(6, 1).with_columns(pl.lit("x@y.com").alias("email"))
    out, report = run(
        frame, cfg.model_copy(update={"waterfall": {"industry": ["firmographics"]}}), sqlite_store
    )
    # Two lookups x two attempts, then the circuit is open and nothing more is sent.
    assert vendor.state.count(path=COMPANY_PATH) == 4
    assert report.circuit_opened == ["firmographics"]
    assert set(out["enrichment_status"]) == {"not enriched: provider error"}
    assert report.providers["firmographics"].failed == 6


def test_a_refused_key_stops_the_provider_and_is_reported(vendor, sqlite_store, monkeypatch):
    monkeypatch.setenv("TEST_FIRMO_KEY", "wrong-key")
    frame = leads(4, 1).with_columns(pl.lit("x@y.com").alias("email"))
    cfg = config(vendor.url)
    _, report = run(
        frame, cfg.model_copy(update={"waterfall": {"industry": ["firmographics"]}}), sqlite_store
    )
    assert vendor.state.count(401) <= cfg.providers["firmographics"].concurrency
    assert report.auth_failures and "TEST_FIRMO_KEY" in report.auth_failures[0]
    assert "wrong-key" not in report.auth_failures[0]


def test_slow_responses_time_out_and_are_retried(vendor, sqlite_store):
    vendor.state.latency = 0.6
    cfg = config(vendor.url, timeout_seconds=0.2, max_attempts=2)
    frame = leads(1, 1).with_columns(pl.lit("x@y.com").alias("email"))
    out, report = run(
        frame, cfg.model_copy(update={"waterfall": {"industry": ["firmographics"]}}), sqlite_store
    )
    time.sleep(0.7)  # let the server finish the abandoned requests before counting
    assert vendor.state.count(path=COMPANY_PATH) == 2
    assert report.http["firmographics"]["timeouts"] == 2
    assert out["enrichment_status"][0] == "not enriched: provider error"


def test_budget_per_run_and_per_day(vendor, store):
    cfg = config(vendor.url, budget={"per_run": 2, "per_day": 3})
    cfg = cfg.model_copy(update={"waterfall": {"industry": ["firmographics"]}})
    frame = leads(5, 1).with_columns(pl.lit("x@y.com").alias("email"))
    out, report = run(frame, cfg, store)
    assert vendor.state.count(path=COMPANY_PATH) == 2
    assert report.providers["firmographics"].skipped_budget == 3
    assert (out["enrichment_status"] == "not enriched: budget").sum() == 3
    # The next run has 1 lookup left today (2 cached answers are free).
    _, report = run(frame, cfg, store)
    assert vendor.state.count(path=COMPANY_PATH) == 3
    assert report.providers["firmographics"].cached == 2
    assert report.providers["firmographics"].skipped_budget == 2


def test_an_unexpected_answer_shape_is_a_clear_error(vendor, sqlite_store):
    vendor.state.bad_shape = True
    frame = leads(1, 1).with_columns(pl.lit("x@y.com").alias("email"))
    cfg = config(vendor.url).model_copy(update={"waterfall": {"industry": ["firmographics"]}})
    _, report = run(frame, cfg, sqlite_store)
    assert report.providers["firmographics"].errors == {"ResponseShapeError": 1}
    assert vendor.state.count(path=COMPANY_PATH) == 1  # not retried


def test_the_limiter_keeps_to_the_rate_with_no_429(vendor, sqlite_store):
    vendor.state.rate_per_second = 5
    cfg = config(vendor.url, rate={"requests": 5, "per_seconds": 1}, concurrency=4)
    cfg = cfg.model_copy(update={"waterfall": {"industry": ["firmographics"]}})
    frame = leads(12, 1).with_columns(pl.lit("x@y.com").alias("email"))
    started = time.monotonic()
    run(frame, cfg, sqlite_store)
    assert vendor.state.count(429) == 0
    assert vendor.state.count(path=COMPANY_PATH) == 12
    assert time.monotonic() - started >= 2.0


def test_config_errors_name_the_key(tmp_path, monkeypatch):
    bad = tmp_path / "e.yaml"
    bad.write_text("waterfall:\n  industry: [nobody]\n")
    with pytest.raises(ConfigError, match=r"e.yaml: waterfall.industry: unknown provider 'nobody'"):
        load_config(bad)
    bad.write_text(
        "providers:\n  p:\n    kind: company\n    base_url: http://x\n    api_key_env: K\n"
        "    rate: {requests: 1, per_seconds: 1}\n    field_map: {email: e}\nwaterfall: {}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"providers.p: field_map has fields a company provider cannot answer: \['email'\]",
    ):
        load_config(bad)
    monkeypatch.delenv("FIRMOGRAPHICS_API_KEY", raising=False)
    monkeypatch.delenv("EMAIL_FINDER_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$EMAIL_FINDER_API_KEY"):
        open_providers(load_config())
