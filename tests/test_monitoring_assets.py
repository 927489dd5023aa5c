"""Monitoring through Dagster: the refresh job per news day (backfills, re-runs), the alert
sensor, the digest job, schedules that pause themselves after repeated failures and resume
with one command, and the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import polars as pl
import pytest
import yaml
from dagster import (
    DagsterInstance,
    Definitions,
    RunRequest,
    SkipReason,
    asset,
    build_schedule_context,
    build_sensor_context,
    load_assets_from_modules,
    materialize,
)
from sqlalchemy import select

from assets import monitoring as monitoring_assets
from assets import monitoring_notify
from pipeline.config import PROJECT_ROOT
from pipeline.monitoring import health
from pipeline.store import open_store
from pipeline.store.audit import entries
from pipeline.store.tables import email_messages
from resources.email import EmailResource
from resources.io_manager import LeadsWarehouseIOManager
from resources.llm import LlmResource
from resources.monitoring import MonitoringResource
from resources.ops_store import OpsStore
from schedules.monitoring import (
    build_schedules,
    monitoring_alerts_job,
    monitoring_digest_job,
    monitoring_refresh_job,
)
from sensors.monitoring import build_alerts_sensor, monitoring_schedule_health
from tests.fakes.news_api import NewsApiServer, NewsState
from tests.monitoring_helpers import rss


@asset(name="scored_leads")
def scored_stub() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity_id": ["e1", "e2", "e3", "e4"],
            "company": [
                "Acme Robotics LLC",
                "Acme Robotics",
                "Globex Corporation",
                "Köhler Automation AG",
            ],
            "domain": [
                "acmerobotics.com",
                "acmerobotics.com",
                "globex.com",
                "koehler-automation.de",
            ],
            "country": ["US", "US", "US", "DE"],
        }
    )


@asset(name="crm_contacts")
def crm_stub() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity_id": ["e1", "e2", "e3", "e4"],
            "crm_id": ["1", "2", "3", "4"],
            "status": ["synced"] * 4,
        }
    )


def _write_config(tmp_path, sources: list[dict]) -> dict[str, str]:
    accounts = {
        "owners": {
            "territories": [
                {"owner": "us@our.example", "countries": ["US"]},
                {"owner": "emea@our.example", "countries": ["DE"]},
            ]
        }
    }
    prefs = {
        "users": [
            {"name": "US", "email": "us@our.example", "time_zone": "America/New_York"},
            {
                "name": "Deals",
                "email": "deals@our.example",
                "frequency": "instant",
                "accounts": "all",
                "relevance_threshold": 0.8,
                "alert_max_age_hours": 100000,
            },
        ]
    }
    paths = {}
    for name, data in (
        ("accounts", accounts),
        ("sources", {"sources": sources}),
        ("notify", prefs),
    ):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        paths[name] = str(path)
    return paths


def _feeds(tmp_path):
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "wire.rss").write_text(
        rss(
            "Wire",
            [
                {
                    "title": "Acme Robotics raises $20M Series B",
                    "link": "https://wire.example/acme",
                    "pubDate": "Thu, 03 Dec 2026 14:05:00 +0000",
                },
                {
                    "title": "Globex agrees to acquire a startup",
                    "link": "https://wire.example/globex",
                    "pubDate": "Fri, 04 Dec 2026 16:45:00 +0000",
                },
                {
                    "title": "Köhler Automation appoints new CFO",
                    "link": "https://wire.example/koehler",
                    "pubDate": "Thu, 03 Dec 2026 10:00:00 +0000",
                },
            ],
        )
    )
    return folder


class Env:
    def __init__(
        self, tmp_path, sources: list[dict], admin: str | None = None, news_key: str | None = None
    ):
        paths = _write_config(tmp_path, sources)
        self.tmp_path = tmp_path
        self.store_url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
        self.engine = open_store(self.store_url)
        self.resources = {
            "io_manager": LeadsWarehouseIOManager(
                database=str(tmp_path / "wh.duckdb"), schema="leads"
            ),
            "ops_store": OpsStore(database_url=self.store_url),
            "email": EmailResource(),
            "llm": LlmResource(),
            "monitoring": MonitoringResource(
                accounts_path=paths["accounts"],
                sources_path=paths["sources"],
                preferences_path=paths["notify"],
                data_dir=str(tmp_path / "data"),
                sender="Monitoring <monitoring@our.example>",
                admin_email=admin,
                news_api_key=news_key,
                max_failures=5,
            ),
        }
        self.defs = Definitions(
            assets=[
                scored_stub,
                crm_stub,
                *load_assets_from_modules([monitoring_assets, monitoring_notify]),
            ],
            asset_checks=[
                monitoring_notify.events_schedules_running,
                monitoring_notify.digests_schedules_running,
            ],
            jobs=[monitoring_refresh_job, monitoring_alerts_job, monitoring_digest_job],
            schedules=build_schedules("0 * * * *"),
            sensors=[build_alerts_sensor(monitoring_alerts_job), monitoring_schedule_health],
            resources=self.resources,
        )
        assert materialize([scored_stub, crm_stub], resources=self.resources).success

    def run(self, job: str, instance: DagsterInstance, **kwargs):
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=instance, raise_on_error=False, **kwargs
        )


def test_the_refresh_job_collects_a_day_classifies_it_and_reruns_add_nothing(tmp_path):
    env = Env(tmp_path, [{"name": "wire", "type": "folder", "path": str(_feeds(tmp_path))}])
    with DagsterInstance.ephemeral() as instance:
        result = env.run("monitoring_refresh_job", instance, partition_key="2026-12-03")
        assert result.success
        events = result.output_for_node("classified_events")
        assert sorted(events["account_key"]) == [
            "acmerobotics.com",
            "koehler-automation.de",
        ]  # a past day: its items only
        assert set(events["category"]) == {"funding", "leadership_change"}
        assert events["relevance"].min() > 0.8
        meta = result.asset_materializations_for_node("monitoring_events")[0].metadata
        assert meta["new_events"].value == 2 and meta["live"].value is False
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {
            "sources_healthy": True,
            "every_event_classified": True,
            "monitoring_schedules_running": True,
        }
        accounts = result.output_for_node("monitored_accounts")
        assert (
            dict(accounts.select("account_key", "owner").iter_rows())["koehler-automation.de"]
            == "emea@our.example"
        )
        again = env.run("monitoring_refresh_job", instance, partition_key="2026-12-03")
        assert (
            again.asset_materializations_for_node("monitoring_events")[0]
            .metadata["new_events"]
            .value
            == 0
        )
        assert again.output_for_node("classified_events").height == 2
        assert (
            again.asset_materializations_for_node("classified_events")[0]
            .metadata["classified_now"]
            .value
            == 0
        )
        nxt = env.run("monitoring_refresh_job", instance, partition_key="2026-12-04")
        assert nxt.output_for_node("classified_events")["account_key"].to_list() == ["globex.com"]


def test_new_classified_events_trigger_instant_alerts_through_the_sensor(tmp_path):
    env = Env(tmp_path, [{"name": "wire", "type": "folder", "path": str(_feeds(tmp_path))}])
    sensor = env.defs.resolve_sensor_def("monitoring_alerts_sensor")
    with DagsterInstance.ephemeral() as instance:
        ctx = build_sensor_context(instance=instance, resources=env.resources, definitions=env.defs)
        assert isinstance(sensor(ctx), SkipReason)
        env.run("monitoring_refresh_job", instance, partition_key="2026-12-03")
        ctx = build_sensor_context(instance=instance, resources=env.resources, definitions=env.defs)
        result = sensor(ctx)
        assert [r.run_key for r in result.run_requests] == ["monitoring_alerts:2"]
        alerts = env.run("monitoring_alerts_job", instance)
        assert alerts.success
        table = alerts.output_for_node("notifications")
        assert table["user_email"].unique().to_list() == ["deals@our.example"]
        # Both stories are above 0.8: one email carries the two events.
        assert table.height == 2 and set(table["email_status"]) == {"sent"}
        assert table["email_key"].n_unique() == 1
        logs = alerts.output_for_node("email_logs")
        assert logs.select("kind", "delivery").row(0) == ("alert", "delivered")
        ctx = build_sensor_context(
            instance=instance, resources=env.resources, definitions=env.defs, cursor=result.cursor
        )
        assert sensor(ctx).__class__.__name__ == "SkipReason"


def test_the_digest_job_sends_what_is_due_at_the_given_time(tmp_path):
    from datetime import timedelta

    from pipeline.monitoring.periods import next_period

    env = Env(tmp_path, [{"name": "wire", "type": "folder", "path": str(_feeds(tmp_path))}])
    us = env.resources["monitoring"].preferences().preferences()[0]
    with DagsterInstance.ephemeral() as instance:
        env.run("monitoring_refresh_job", instance, partition_key="2026-12-04")
        # The US user's next digest (08:00 New York) holds Globex, classified just now.
        period = next_period(us, "daily", datetime.now(UTC))
        at = (period.send_at + timedelta(minutes=5)).isoformat()
        config = {"ops": {"digests": {"config": {"frequency": "daily", "at": at}}}}
        result = env.run("monitoring_digest_job", instance, run_config=config)
        assert result.success
        digests = result.output_for_node("digests")
        assert digests.select("user_email", "period", "items", "email_status").rows() == [
            ("us@our.example", period.key, 1, "sent")
        ]
        again = env.run("monitoring_digest_job", instance, run_config=config)
        assert (
            again.asset_materializations_for_node("digests")[0].metadata["already_done"].value == 1
        )
        logs = again.output_for_node("email_logs")
        assert logs.filter(pl.col("kind") == "digest").height == 1


def _failing_news(tmp_path, server) -> list[dict]:
    return [{"name": "news", "type": "newsapi", "base_url": server.url, "max_attempts": 1}]


def test_five_failed_runs_pause_the_schedule_alert_the_admin_and_one_command_resumes_it(tmp_path):
    state = NewsState()
    state.forced.extend([500] * 50)
    with NewsApiServer(state) as server:
        env = Env(
            tmp_path, _failing_news(tmp_path, server), admin="ops@our.example", news_key="news-key"
        )
        schedule = env.defs.resolve_schedule_def("monitoring_refresh")
        health_sensor = env.defs.resolve_sensor_def("monitoring_schedule_health")
        with DagsterInstance.ephemeral() as instance:
            tags = {"dagster/schedule_name": "monitoring_refresh"}
            cursor = None
            for attempt in range(1, 6):
                run = env.run(
                    "monitoring_refresh_job", instance, partition_key="2026-12-03", tags=tags
                )
                assert not run.success
                ctx = build_sensor_context(
                    instance=instance, resources=env.resources, cursor=cursor, definitions=env.defs
                )
                result = health_sensor(ctx)
                cursor = result.cursor
                state_now = health.state(env.engine, "monitoring_refresh")
                assert state_now.consecutive_failures == attempt
                assert state_now.paused is (attempt == 5)
            # The pause: why in the audit log, the admin's email, a failed check at once.
            assert "every monitoring source failed" in state_now.paused_reason
            assert any(e["action"] == "monitoring_schedule_paused" for e in entries(env.engine))
            with env.engine.connect() as conn:
                admin = conn.execute(
                    select(
                        email_messages.c.to_email, email_messages.c.status, email_messages.c.subject
                    ).where(email_messages.c.purpose == "monitoring_admin")
                ).all()
            assert [(a.to_email, a.status) for a in admin] == [("ops@our.example", "sent")]
            assert {(e.asset_key.to_user_string(), e.passed) for e in result.asset_events} == {
                ("monitoring_events", False),
                ("digests", False),
            }
            # Paused: the schedule skips, with the reason and the command.
            ctx = build_schedule_context(
                instance=instance,
                resources=env.resources,
                scheduled_execution_time=datetime(2026, 12, 3, 10, tzinfo=UTC),
            )
            skipped = schedule(ctx)
            assert (
                isinstance(skipped, SkipReason)
                and "monitoring resume monitoring_refresh" in skipped.skip_message
            )
            # A sixth failure (a manual run with the tag) does not page again.
            env.run("monitoring_refresh_job", instance, partition_key="2026-12-03", tags=tags)
            health_sensor(
                build_sensor_context(
                    instance=instance, resources=env.resources, cursor=cursor, definitions=env.defs
                )
            )
            with env.engine.connect() as conn:
                assert (
                    len(
                        conn.execute(
                            select(email_messages.c.id).where(
                                email_messages.c.purpose == "monitoring_admin"
                            )
                        ).all()
                    )
                    == 1
                )
            # One command resumes it.
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "monitoring",
                    "resume",
                    "monitoring_refresh",
                    "--by",
                    "ops@test",
                ],
                cwd=PROJECT_ROOT,
                env=_env(env),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            assert "resumed monitoring_refresh" in done.stdout
            assert health.state(env.engine, "monitoring_refresh").paused is False
            assert any(
                e["action"] == "monitoring_schedule_resumed" and e["actor"] == "ops@test"
                for e in entries(env.engine)
            )
            ctx = build_schedule_context(
                instance=instance,
                resources=env.resources,
                scheduled_execution_time=datetime(2026, 12, 3, 11, tzinfo=UTC),
            )
            request = schedule(ctx)
            assert isinstance(request, RunRequest) and request.partition_key == "2026-12-03"


def _env(env: Env, **extra: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LEADS_", "MONITORING_", "NOTIFY_", "DAGSTER_HOME"))
    }
    return {
        **keep,
        "LEADS_DATA_DIR": str(env.tmp_path / "data"),
        "LEADS_DATABASE_URL": env.store_url,
        "LEADS_PARTITION_START": "2024-01-01",
        **extra,
    }


def test_status_and_config_errors_from_the_command_line(tmp_path):
    env = Env(tmp_path, [{"name": "wire", "type": "folder", "path": str(_feeds(tmp_path))}])
    common = {"MONITORING_SOURCES": env.resources["monitoring"].sources_path}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "monitoring", "status"],
        cwd=PROJECT_ROOT,
        env=_env(env, **common),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "wire (folder): never fetched" in done.stdout
    assert "monitoring_refresh: running" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "users": [
                    {
                        "name": "X",
                        "email": "x@our.example",
                        "time_zone": "Berlin",
                        "frequency": "hourly",
                    }
                ]
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "monitoring", "status"],
        cwd=PROJECT_ROOT,
        env=_env(env, NOTIFY_PREFERENCES=str(bad), **common),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{bad}: users[0].time_zone: 'Berlin' is not an IANA time zone" in done.stderr
    assert "users[0].frequency" in done.stderr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"sources": [{"name": "a", "type": "folder", "path": "/no/such/folder"}]},
            "sources[0].path: no such folder",
        ),
        (
            {"sources": [{"name": "a", "type": "rss"}]},
            "sources[0].url: an rss source needs an http(s) url",
        ),
        ({"sources": [{"name": "a", "type": "telex"}]}, "sources[0].type"),
        (
            {"sources": [{"name": "a", "type": "newsapi", "every": "soon"}]},
            "sources[0].every: 'soon' is not a duration",
        ),
    ],
)
def test_a_bad_sources_file_names_the_key(tmp_path, data, message):
    from pipeline.monitoring.config import MonitoringConfigError, load_sources

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MonitoringConfigError, match=re.escape(message)):
        load_sources(path)
