"""Settings are validated in one place: a bad value names the variable, the value and what
is expected, and secrets are never echoed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.config import PROJECT_ROOT, ConfigError, load_settings


def test_a_bad_number_names_the_variable_the_value_and_what_is_expected(monkeypatch):
    monkeypatch.setenv("LEADS_WEBHOOK_MAX_ATTEMPTS", "five")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    message = str(exc.value)
    assert "LEADS_WEBHOOK_MAX_ATTEMPTS='five'" in message
    assert "valid integer" in message


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("LEADS_DEFAULT_COUNTRY", "Germany")
    monkeypatch.setenv("CRM_MAX_REJECTED_RATE", "5%")
    monkeypatch.setenv("LEADS_EXCEL_SHEETS", "some")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    message = str(exc.value)
    assert "LEADS_DEFAULT_COUNTRY='Germany': expected an ISO 3166 alpha-2" in message
    assert "CRM_MAX_REJECTED_RATE='5%'" in message
    assert "LEADS_EXCEL_SHEETS='some'" in message and "'leads', 'first' or 'all'" in message


def test_secret_values_are_never_echoed(monkeypatch):
    monkeypatch.setenv("LEADS_DATABASE_URL", "postgresql://u:hunter2@db/leads")
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("LEADS_WEBHOOK_MAX_BODY_BYTES", "-1")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "LEADS_WEBHOOK_MAX_BODY_BYTES='-1'" in str(exc.value)
    settings = load_settings(webhook_max_body_bytes=10)
    assert "hunter2" not in repr(settings) and "s3cr3t" not in repr(settings)


def test_values_are_read_and_normalized(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADS_DEFAULT_COUNTRY", "de")
    monkeypatch.setenv("CRM_BACKEND", " HubSpot ")
    monkeypatch.setenv("LEADS_MAX_UNCOMPRESSED_BYTES", "50MB")
    monkeypatch.setenv("DRIVE_CHANNEL_IDS", "a, b,,c")
    monkeypatch.setenv("HUBSPOT_ACCEPT_LEGACY_SIGNATURES", "yes")
    monkeypatch.setenv("LEADS_ICP", "")  # empty means the default
    settings = load_settings()
    assert settings.default_country == "DE"
    assert settings.crm_backend == "hubspot"
    assert int(settings.max_uncompressed_bytes) == 50_000_000
    assert settings.drive_channel_ids == frozenset({"a", "b", "c"})
    assert settings.hubspot_accept_legacy_signatures is True
    assert settings.icp is None


def test_a_missing_file_setting_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADS_HEADER_ALIASES", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"LEADS_HEADER_ALIASES=.*no such file"):
        load_settings()


def test_the_command_line_ends_a_bad_configuration_with_one_plain_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "LEADS_WEBHOOK_MAX_ATTEMPTS": "five", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "summary"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "LEADS_WEBHOOK_MAX_ATTEMPTS='five'" in done.stderr
