"""LEADS_SOURCE=drive through Dagster: the configuration, the demo runner, ingest and dedupe of
Drive files (uploads and a Sheet), the inbox sensor leaving notifications to the file-arrival
sensor, and the channel renewal schedule and asset."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context, build_sensor_context
from sqlalchemy import select

from pipeline.config import ConfigError, load_settings
from pipeline.definitions import build_definitions, lead_source_from
from pipeline.definitions.runner import arrival_days, run_demo
from pipeline.drive import channels
from pipeline.store import open_store
from pipeline.store.inbox import InboxEvent, accept_events, events_by_id
from pipeline.store.tables import webhook_inbox
from pipeline.summary import summarize
from tests.drive_fixtures import drive_world, xlsx_bytes
from tests.fakes.drive_server import at_day


def _table(settings, name: str) -> pl.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.sql(f"select * from leads.{name}").pl()


def test_drive_without_folders_or_credentials_is_an_error_naming_the_variable(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("LEADS_SOURCE", "drive")
    with pytest.raises(ConfigError, match="LEADS_SOURCE=drive needs DRIVE_FOLDER_IDS"):
        load_settings()
    monkeypatch.setenv(
        "DRIVE_FOLDER_IDS", "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp?usp=sharing"
    )
    with pytest.raises(
        ConfigError, match=r"needs GOOGLE_APPLICATION_CREDENTIALS .* or DRIVE_OAUTH"
    ):
        load_settings()
    token = tmp_path / "token.json"
    token.write_text("{}")
    monkeypatch.setenv("DRIVE_OAUTH_TOKEN_FILE", str(token))
    settings = load_settings()
    assert settings.drive_folder_ids == ("1AbCdEfGhIjKlMnOp",)
    monkeypatch.setenv("DRIVE_FOLDER_IDS", "1AbCdEfGhIjKlMnOp, not a folder id!")
    with pytest.raises(ConfigError, match=r"DRIVE_FOLDER_IDS=.*is not a Drive folder id"):
        load_settings()


def test_ingest_and_dedupe_through_dagster_on_the_drive_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    with drive_world(tmp_path) as w:
        sub = w.drive.folder("Fairs", w.folder)
        w.drive.upload(
            "crm_export.csv",
            b"First Name,Last Name,Email,Company\nJane,Doe,Jane.Doe@Acme.com,Acme Inc\n"
            b",,,Lonely Corp\n",
            w.folder,
            at=at_day("2026-11-01"),
        )
        w.drive.sheet(
            "Berlin fair",
            xlsx_bytes({"Leads": ["jane.doe@acme.com", "ann@beta.io"], "Notes": ["x@y.z"]}),
            sub,
            at=at_day("2026-11-01", 15),
        )
        w.drive.upload("flyer.pdf", b"%PDF-1.4", w.folder, at=at_day("2026-11-01"))
        settings = w.settings()
        assert lead_source_from(settings).describe().startswith("Google Drive folders")
        assert arrival_days(settings) == ["2026-11-01"]

        defs = build_definitions(settings)
        assert run_demo(settings, defs) is None  # what `make demo` runs
        summary = summarize(settings.warehouse_path)
        assert summary.files_read == 2
        assert summary.rows_rejected == {"no_identity": 1}
        golden = _table(settings, "golden_leads")
        assert (
            golden.filter(pl.col("email_canonical") == "jane.doe@acme.com")["record_count"].item()
            == 2
        )
        files = _table(settings, "drive_files").sort("name")
        assert files["name"].to_list() == ["Berlin fair.xlsx", "crm_export.csv"]
        with DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(AssetKey("drive_files"))
            metadata = event.asset_materialization.metadata
            assert metadata["ignored_files"].value == 1
            served = w.drive.bytes_served
            # Again: nothing is downloaded twice.
            result = defs.resolve_job_def("ingest_job").execute_in_process(
                instance=instance, partition_key="2026-11-01"
            )
            assert result.success and w.drive.bytes_served == served
            again = instance.get_latest_materialization_event(AssetKey("drive_files"))
            assert again.asset_materialization.metadata["bytes_fetched"].value == 0


def test_with_the_drive_source_notifications_wake_the_file_arrival_sensor(tmp_path):
    with drive_world(tmp_path) as w:
        settings = w.settings()
        defs = build_definitions(settings)
        sensor = defs.resolve_sensor_def("webhook_inbox_sensor")
        store = open_store(w.store_url)
        accept_events(store, [InboxEvent("drive", "drive-c-1", "drive.change", "{}")])
        with DagsterInstance.ephemeral() as instance:
            context = build_sensor_context(
                instance=instance, resources={"ops_store": defs.resources["ops_store"]}
            )
            result = sensor(context)
        assert result.run_requests == [] and result.cursor == "1"
        [event] = events_by_id(store, [1])
        assert event.status == "dispatched"
        with store.connect() as conn:
            run_key = conn.scalar(select(webhook_inbox.c.run_key))
        assert run_key == "file_arrival_sensor"
        assert defs.resolve_sensor_def("file_arrival_sensor").minimum_interval_seconds == 15


def test_the_renewal_schedule_and_asset_replace_a_channel_about_to_expire(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIVE_CHANNEL_TOKEN", "channel-token-1")  # read as an EnvVar
    with drive_world(tmp_path) as w:
        settings = w.settings(drive_channel_token="channel-token-1")
        defs = build_definitions(settings)
        store = open_store(w.store_url)
        schedule = defs.resolve_schedule_def("drive_channel_renewal")
        resources = {
            "ops_store": defs.resources["ops_store"],
            "drive_channel_settings": defs.resources["drive_channel_settings"],
        }
        with DagsterInstance.ephemeral() as instance:
            context = build_schedule_context(instance=instance, resources=resources)
            assert schedule.evaluate_tick(context).skip_message.startswith("no Drive channel")
            api = lead_source_from(settings).drive().api
            old = channels.open_channel(
                api, store, "https://leads.example.com/webhooks/drive", "channel-token-1", "t", 1
            )
            context = build_schedule_context(instance=instance, resources=resources)
            [request] = schedule.evaluate_tick(context).run_requests
            assert request.run_key == f"renew:{old.channel_id}"
            job = defs.resolve_job_def("drive_channels_job")
            assert job.execute_in_process(instance=instance).success
        [new] = channels.open_channels(store)
        assert new.channel_id != old.channel_id
        assert [c.id for c in w.drive.open_channels()] == [new.channel_id]
        assert w.drive.channels[new.channel_id].token == "channel-token-1"
