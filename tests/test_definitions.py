"""The composition root: lazy, one Definitions per domain, named `lead_pipeline`, checked by
`dg check defs`, with the chain from a dropped file to the CRM automated (or not)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from dagster import AssetKey, DagsterInstance

from pipeline.config import PROJECT_ROOT, load_settings
from pipeline.definitions import CODE_LOCATION, DOMAINS, build_definitions
from pipeline.definitions.runner import FailedRun

VENV_BIN = os.path.dirname(sys.executable)


def _clean_env(tmp_path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LEADS_", "CRM_", "HUBSPOT"))}
    return {
        **keep,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "LEADS_DATA_DIR": str(tmp_path / "data"),
        "LEADS_PARTITION_START": "2024-01-01",
        **extra,
    }


def test_importing_the_composition_root_creates_nothing(tmp_path):
    env = _clean_env(tmp_path)
    code = "import pipeline.definitions as d; print(type(d.defs).__name__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "LazyDefinitions"
    assert not (tmp_path / "data").exists()


def test_every_domain_contributes_and_the_merge_has_the_whole_graph(settings):
    defs = build_definitions(settings)
    assert len(DOMAINS) >= 5
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"drive_files", "normalized_leads", "golden_leads", "scored_leads"} <= keys
    assert {"crm_contacts", "webhook_events"} <= keys
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert {"ingest_job", "dedupe_job", "enrich_job", "crm_job"} <= jobs


def _condition(defs, key: str):
    return defs.resolve_asset_graph().get(AssetKey(key)).automation_condition


def test_the_chain_follows_new_leads_to_the_crm_unless_the_sync_is_manual(settings):
    defs = build_definitions(settings)
    for key in ("lead_fingerprints", "enriched_leads", "scored_leads", "crm_contacts"):
        assert _condition(defs, key) is not None, key
    manual = build_definitions(settings.model_copy(update={"crm_auto_sync": False}))
    assert _condition(manual, "crm_contacts") is None
    assert _condition(manual, "scored_leads") is not None


def test_dg_check_defs_passes_and_names_the_code_location(tmp_path):
    env = _clean_env(tmp_path)
    (tmp_path / "dagster_home").mkdir()
    done = subprocess.run(
        [os.path.join(VENV_BIN, "dg"), "check", "defs"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
    workspace = (PROJECT_ROOT / "workspace.yaml").read_text()
    assert f"location_name: {CODE_LOCATION}" in workspace


def test_partitions_start_at_the_oldest_file_unless_pinned(monkeypatch, tmp_path):
    from assets.partitions import DEFAULT_WINDOW_DAYS, default_partition_start

    folder = tmp_path / "drop"
    folder.mkdir()
    old = folder / "old.csv"
    old.write_text("Email\na@x.com\n")
    when = datetime(2026, 10, 3, 12, tzinfo=UTC).timestamp()
    os.utime(old, (when, when))
    (folder / "new.csv").write_text("Email\nb@x.com\n")
    monkeypatch.delenv("LEADS_PARTITION_START")
    monkeypatch.setenv("LEADS_SOURCE_DIR", str(folder))
    assert default_partition_start(today=date(2026, 12, 6)) == date(2026, 10, 3)
    monkeypatch.setenv("LEADS_SOURCE_DIR", str(tmp_path / "missing"))
    assert default_partition_start(today=date(2026, 12, 6)).toordinal() == (
        date(2026, 12, 6).toordinal() - DEFAULT_WINDOW_DAYS
    )
    monkeypatch.setenv("LEADS_PARTITION_START", "2025-01-01")
    assert default_partition_start() == date(2025, 1, 1)
    assert load_settings().partition_start == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        (
            (
                "pipeline.retrying.TransientError: list contacts properties: MaxRetryError: "
                "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded (Caused by "
                "NewConnectionError('Failed to establish a new connection: [Errno 111] "
                "Connection refused'))",
            ),
            [
                "talking to 127.0.0.1:9: connection refused",
                "TransientError: list contacts",
                "HUBSPOT_BASE_URL points at it",
            ],
        ),
        (
            ("CrmAuthError: list contacts properties: HubSpot refused the access token (401)",),
            ["401: the credentials were rejected", "check HUBSPOT_ACCESS_TOKEN"],
        ),
        (("ValueError: something odd",), ["failed in step crm_contacts: ValueError: something"]),
    ],
)
def test_a_failed_run_ends_in_one_paragraph_a_person_can_act_on(chain, expected):
    failure = FailedRun("crm_job", "run-1", "crm_contacts", chain)
    text = failure.paragraph(
        {"HUBSPOT_BASE_URL": "http://127.0.0.1:9"}, {"HubSpot": "HUBSPOT_ACCESS_TOKEN"}
    )
    for part in expected:
        assert part in text
    assert "\n" not in text and "Traceback" not in text
    assert "run-1" in text


def test_demo_with_an_unreachable_crm_prints_the_host_and_the_cause(tmp_path):
    source = tmp_path / "drop"
    source.mkdir()
    (source / "a.csv").write_text("Email,Name,Company\nann@acme.com,Ann Lee,Acme\n")
    (tmp_path / "dagster_home").mkdir()
    env = _clean_env(
        tmp_path,
        LEADS_SOURCE_DIR=str(source),
        CRM_BACKEND="hubspot",
        HUBSPOT_ACCESS_TOKEN="pat-na1-not-a-real-token",
        HUBSPOT_BASE_URL="http://127.0.0.1:9",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    # The CRM is read before anything is written to it (crm_records, then the sync).
    assert "crm_import_job run failed in step crm_records talking to 127.0.0.1:9" in last
    assert "connection refused" in last and "HUBSPOT_BASE_URL" in last
    assert "pat-na1-not-a-real-token" not in done.stdout + done.stderr


def test_any_command_that_crashes_ends_in_one_paragraph_and_keeps_the_traceback(tmp_path):
    """A store that refuses connections: no traceback on the terminal, the host and the
    cause in plain words, no password, and the traceback in the log file it names."""
    env = _clean_env(
        tmp_path, LEADS_DATABASE_URL="postgresql://leads:db-secret-pw@127.0.0.1:9/leads"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "webhooks", "dead-letters"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "db-secret-pw" not in done.stderr
    paragraph = done.stderr.strip().splitlines()[-1]
    assert paragraph.startswith("`python -m pipeline webhooks dead-letters` failed")
    assert "talking to 127.0.0.1:9: connection refused" in paragraph
    assert "LEADS_DATABASE_URL points at it" in paragraph
    log = next((tmp_path / "data" / "logs").glob("webhooks-dead-letters-*.log"))
    assert "Traceback" in log.read_text()
    assert log.name in paragraph


def test_a_dropped_file_sets_the_chain_in_motion_though_other_days_are_empty(settings):
    """One arrival day ingested, every other day of the window never materialized (no files
    then): the dedupe still follows (plain eager() would wait for the empty days forever)."""
    from dagster import evaluate_automation_conditions

    (settings.source_dir / "a.csv").write_text("Email,Name\nann@acme.com,Ann Lee\n")
    defs = build_definitions(settings)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    with DagsterInstance.ephemeral() as instance:
        tick = evaluate_automation_conditions(defs=defs, instance=instance)
        assert tick.get_num_requested(AssetKey("lead_fingerprints")) == 0  # nothing yet
        ingest = defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, partition_key=day
        )
        assert ingest.success
        tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.get_num_requested(AssetKey("lead_fingerprints")) == 1
