"""The file-arrival sensor on the Drive backend (ephemeral instance, fake Drive on loopback):
run keys from content identities, the change-feed cursor, push notifications waking it,
polling without them, and a tick that stops early or crashes."""

from __future__ import annotations

import json

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context

from pipeline.drive.api import DriveAccessError
from pipeline.store import open_store
from pipeline.store.inbox import InboxEvent, accept_events
from resources.settings import PipelineSettings
from sensors.file_arrival import build_file_arrival_sensor
from tests.drive_fixtures import csv_bytes, drive_world, xlsx_bytes
from tests.fakes.drive_server import at_day

SENSOR = build_file_arrival_sensor("ingest_job")


_INSTANCE: list[DagsterInstance] = []


@pytest.fixture(scope="module", autouse=True)
def _instance():
    """One ephemeral instance for the module's ticks (the sensor keeps its state in the
    cursor, not in the instance)."""
    with DagsterInstance.ephemeral() as instance:
        _INSTANCE.append(instance)
        yield
        _INSTANCE.clear()


def _tick(source, w, cursor=None):
    settings = PipelineSettings(data_dir=str(w.tmp / "data"))
    context = build_sensor_context(
        instance=_INSTANCE[0],
        cursor=cursor,
        resources={"lead_source": source, "settings": settings},
    )
    return SENSOR(context)


def _land_requested(source, w) -> None:
    """What the requested runs do: land every lead file of the folder."""
    for file in source.list_files(None, None):
        source.land(file, w.landing)


def test_first_tick_requests_a_run_per_arrival_day_and_later_ticks_only_new_content(tmp_path):
    with drive_world(tmp_path) as w:
        a = w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder, at=at_day("2026-11-01"))
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), w.folder, at=at_day("2026-11-02"))
        w.drive.sheet(
            "Fair", xlsx_bytes({"Leads": ["c@acme.com"]}), w.folder, at=at_day("2026-11-02")
        )
        source = w.resource()
        first = _tick(source, w)
        assert [(r.partition_key, r.tags["leads/new_files"]) for r in first.run_requests] == [
            ("2026-11-01", "1"),
            ("2026-11-02", "2"),
        ]
        assert all(r.tags["leads/source"] == "drive" for r in first.run_requests)
        assert json.loads(first.cursor)["backend"] == "drive"
        assert w.drive.calls["files.get_media"] == 0  # the sensor never downloads
        again = _tick(source, w)  # a tick evaluated twice asks for the same runs
        assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]

        _land_requested(source, w)
        gets, lists = w.drive.calls["files.get"], w.drive.calls["changes.list"]
        quiet = _tick(w.resource(), w, first.cursor)  # a new resource, as in the daemon
        assert quiet.run_requests == [] and "0 with new content" in quiet.skip_reason.skip_message
        assert "1 API call(s)" in quiet.skip_reason.skip_message
        assert w.drive.calls["files.get"] == gets  # the watched folders come from the cursor
        assert w.drive.calls["changes.list"] == lists + 1

        w.drive.rename(a, "a-renamed.csv")  # metadata only
        renamed = _tick(source, w, quiet.cursor)
        assert renamed.run_requests == []
        w.drive.update(a, csv_bytes("a@acme.com", "a2@acme.com"), at=at_day("2026-11-03"))
        edited = _tick(source, w, renamed.cursor)
        [request] = edited.run_requests
        assert request.partition_key == "2026-11-03"
        assert request.run_key not in {r.run_key for r in first.run_requests}


def test_a_push_notification_wakes_the_sensor_between_polls(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder)
        source = w.resource(poll_seconds=3600)
        first = _tick(source, w)
        assert len(first.run_requests) == 1
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), w.folder)
        calls = w.drive.calls["changes.list"]
        waiting = _tick(source, w, first.cursor)
        assert isinstance(waiting, SkipReason) and "next poll in" in waiting.skip_message
        assert w.drive.calls["changes.list"] == calls  # no API call between polls

        notification = InboxEvent("drive", "drive-ch1-7", "drive.change", json.dumps({"n": 7}))
        accept_events(open_store(w.store_url), [notification])
        woken = _tick(source, w, first.cursor)
        assert len(woken.run_requests) == 1
        assert json.loads(woken.cursor)["wake_mark"] == 1
        after = _tick(source, w, woken.cursor)
        assert isinstance(after, SkipReason)  # the same notification does not wake it twice


def test_a_spent_quota_ends_the_tick_cleanly_and_the_next_tick_resumes(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder)
        source = w.resource()
        first = _tick(source, w)
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), w.folder)
        w.drive.fail("changes.list", 403, "dailyLimitExceeded")
        spent = _tick(source, w, first.cursor)
        assert spent.run_requests == []
        assert "daily Drive quota is spent" in spent.skip_reason.skip_message
        assert json.loads(spent.cursor)["position"] == json.loads(first.cursor)["position"]
        resumed = _tick(source, w, spent.cursor)
        assert [r.tags["leads/new_files"] for r in resumed.run_requests] == ["1"]


def test_a_crashed_tick_is_read_again_from_the_cursor_with_the_same_run_keys(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder, at=at_day("2026-11-01"))
        source = w.resource()
        first = _tick(source, w)
        _land_requested(source, w)
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), w.folder, at=at_day("2026-11-04"))
        w.drive.fail("changes.list", 403, "insufficientFilePermissions")
        with pytest.raises(DriveAccessError, match="share the folder with leads@proj"):
            _tick(source, w, first.cursor)  # the tick fails loudly; the cursor is not moved
        resumed = _tick(source, w, first.cursor)
        clean = _tick(w.resource(), w, first.cursor)
        assert [r.partition_key for r in resumed.run_requests] == ["2026-11-04"]
        assert [r.run_key for r in resumed.run_requests] == [r.run_key for r in clean.run_requests]


def test_a_folder_cursor_left_behind_starts_the_drive_afresh(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder)
        folder_cursor = json.dumps({"change_ns": 123, "file_id": "x.csv"})
        result = _tick(w.resource(), w, folder_cursor)
        assert len(result.run_requests) == 1
