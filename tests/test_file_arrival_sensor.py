"""The file-arrival sensor on an ephemeral instance: cursor paging, content-hash run keys."""

from __future__ import annotations

import json
import os
import time

from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context

from pipeline.landing import land_bytes
from resources.lead_source import LocalFolderLeadSource
from resources.settings import PipelineSettings
from sensors.file_arrival import build_file_arrival_sensor


def _tick(sensor, source, settings, cursor=None):
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"lead_source": source, "settings": settings},
        )
        return sensor(context)


def _setup(tmp_path):
    folder = tmp_path / "drive"
    folder.mkdir()
    source = LocalFolderLeadSource(folder=str(folder))
    settings = PipelineSettings(data_dir=str(tmp_path / "data"))
    return folder, source, settings, build_file_arrival_sensor("ingest_job")


def test_new_files_request_one_run_per_arrival_day(tmp_path):
    folder, source, settings, sensor = _setup(tmp_path)
    (folder / "a.csv").write_text("email\na@x.com\n")
    (folder / "b.csv").write_text("email\nb@x.com\n")
    old = folder / "old.csv"
    old.write_text("email\nc@x.com\n")
    os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    result = _tick(sensor, source, settings)
    days = sorted(r.partition_key for r in result.run_requests)
    assert len(days) == 2 and days[0] < days[1]
    assert all(
        isinstance(r, RunRequest) and r.run_key.startswith(r.partition_key)
        for r in result.run_requests
    )
    cursor = json.loads(result.cursor)
    assert cursor["backend"] == "folder"
    assert json.loads(cursor["position"])["file_id"] in {"a.csv", "b.csv", "old.csv"}


def test_nothing_changed_is_a_skip(tmp_path):
    folder, source, settings, sensor = _setup(tmp_path)
    (folder / "a.csv").write_text("email\na@x.com\n")
    first = _tick(sensor, source, settings)
    second = _tick(sensor, source, settings, first.cursor)
    assert isinstance(second, SkipReason)


def test_identical_reupload_is_skipped_and_new_content_is_not(tmp_path):
    folder, source, settings, sensor = _setup(tmp_path)
    path = folder / "a.csv"
    path.write_text("email\na@x.com\n")
    first = _tick(sensor, source, settings)
    land_bytes(settings.landing_dir, path.read_bytes())  # what the run it requested does
    time.sleep(0.01)
    path.write_text("email\na@x.com\n")  # same bytes again
    same = _tick(sensor, source, settings, first.cursor)
    assert same.run_requests == []
    time.sleep(0.01)
    path.write_text("email\nnew@x.com\n")
    changed = _tick(sensor, source, settings, same.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_large_backlog_is_paged_through_the_cursor(tmp_path):
    folder, source, settings, _ = _setup(tmp_path)
    sensor = build_file_arrival_sensor("ingest_job", page_size=4)
    for i in range(10):
        (folder / f"f{i}.csv").write_text(f"email\nf{i}@x.com\n")
    cursor, seen_pages = None, 0
    while True:
        result = _tick(sensor, source, settings, cursor)
        if isinstance(result, SkipReason):
            break
        seen_pages += 1
        assert int(result.run_requests[0].tags["leads/new_files"]) <= 4
        cursor = result.cursor
    assert seen_pages == 3


def test_a_cursor_in_the_first_format_is_read_as_the_folders_position(tmp_path):
    """Cursors written before each backend kept its own (change_ns, file_id) still resume."""
    folder, source, settings, sensor = _setup(tmp_path)
    (folder / "a.csv").write_text("email\na@x.com\n")
    first = _tick(sensor, source, settings)
    legacy = json.loads(first.cursor)["position"]
    assert set(json.loads(legacy)) == {"change_ns", "file_id"}
    assert isinstance(_tick(sensor, source, settings, legacy), SkipReason)


def test_a_tick_out_of_time_resumes_at_the_first_file_it_did_not_hash(tmp_path, monkeypatch):
    from sensors import file_arrival

    folder, source, settings, sensor = _setup(tmp_path)
    for i in range(3):
        (folder / f"f{i}.csv").write_text(f"email\nf{i}@x.com\n")
    monkeypatch.setattr(file_arrival, "TICK_BUDGET_SECONDS", -1.0)
    stopped = _tick(sensor, source, settings)
    assert isinstance(stopped, SkipReason)  # nothing looked at: the cursor stays
    assert "more to page through" in (stopped.skip_message or "")
    monkeypatch.setattr(file_arrival, "TICK_BUDGET_SECONDS", 20.0)
    resumed = _tick(sensor, source, settings, None)  # a skip keeps the cursor it had
    assert sum(int(r.tags["leads/new_files"]) for r in resumed.run_requests) == 3
