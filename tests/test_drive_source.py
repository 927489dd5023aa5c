"""The Drive lead source against a fake Drive on loopback, through the real
google-api-python-client: first sync, the change feed, Sheets, shared drives, errors, retries
and resuming from the cursor."""

from __future__ import annotations

import json
import time

import pytest

from pipeline.drive import api as drive_api
from pipeline.drive.api import DriveAccessError, DriveNotFound
from pipeline.drive.tree import removed_items
from pipeline.landing import LandingSink
from pipeline.sources import FileUnavailable
from tests.drive_fixtures import csv_bytes, drive_world, xlsx_bytes
from tests.fakes.drive_server import at_day


def _names(page) -> list[str]:
    return sorted(f.name for f in page.files)


def _land_all(source, page, landing) -> int:
    """What the requested runs do: land every candidate; returns the bytes fetched."""
    return sum(source.land(f, landing).fetched_bytes for f in page.files)


def test_first_sync_lists_subfolders_and_ignores_what_is_not_a_lead_file(tmp_path):
    with drive_world(tmp_path) as w:
        sub = w.drive.folder("2026 fairs", w.folder)
        deeper = w.drive.folder("berlin", sub)
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder, at=at_day("2026-11-01"))
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), deeper, at=at_day("2026-11-02"))
        w.drive.upload("notes.txt.gz", b"\x1f\x8b", sub)  # a lead file by extension
        w.drive.upload("photo.png", b"\x89PNG", w.folder)
        w.drive.doc("minutes", w.folder)
        other = w.drive.folder("not watched", shared=True)
        w.drive.upload("elsewhere.csv", csv_bytes("x@y.com"), other)

        source = w.source()
        listing = source.listing()
        assert [f.name for f in listing.files][:2] == ["a.csv", "b.csv"]
        assert sorted(f.name for f in listing.files) == ["a.csv", "b.csv", "notes.txt.gz"]
        assert listing.ignored == {
            "unsupported type image/png": 1,
            "Google document (not a Sheet)": 1,
        }
        day = source.listing(at_day("2026-11-02", 0), at_day("2026-11-03", 0))
        assert [f.name for f in day.files] == ["b.csv"]

        page = source.read_changes(None, 100)
        assert _names(page) == ["a.csv", "b.csv", "notes.txt.gz"]
        assert not page.more and json.loads(page.cursor)["phase"] == "changes"
        assert page.ignored["unsupported type image/png"] == 1
        # Shared drives are asked for on every call that lists or reads.
        lists = [r for r in w.google.state.requests if r.path == "/drive/v3/files"]
        assert all(r.query["supportsAllDrives"] == ["true"] for r in lists)
        assert all(r.query["includeItemsFromAllDrives"] == ["true"] for r in lists)


def test_the_change_feed_reports_new_modified_renamed_trashed_moved_and_deleted(tmp_path):
    with drive_world(tmp_path) as w:
        archive = w.drive.folder("Archive", shared=True)  # visible, but not watched
        kept = w.drive.upload("kept.csv", csv_bytes("k@acme.com"), w.folder)
        edited = w.drive.upload("edited.csv", csv_bytes("e@acme.com"), w.folder)
        renamed = w.drive.upload("renamed.csv", csv_bytes("r@acme.com"), w.folder)
        trashed = w.drive.upload("trashed.csv", csv_bytes("t@acme.com"), w.folder)
        moved = w.drive.upload("moved.csv", csv_bytes("m@acme.com"), w.folder)
        deleted = w.drive.upload("deleted.csv", csv_bytes("d@acme.com"), w.folder)
        source = w.source()
        first = source.read_changes(None, 100)
        assert len(first.files) == 6
        _land_all(source, first, w.landing)

        w.drive.upload("new.csv", csv_bytes("n@acme.com"), w.folder)
        w.drive.update(edited, csv_bytes("e@acme.com", "e2@acme.com"))
        w.drive.rename(renamed, "renamed-2026.csv")
        w.drive.trash(trashed)
        w.drive.move(moved, archive)
        w.drive.delete(deleted)
        w.drive.upload("unrelated.csv", csv_bytes("u@y.com"), archive)

        page = source.read_changes(first.cursor, 100)
        assert _names(page) == ["edited.csv", "new.csv", "renamed-2026.csv"]
        new_content = [f.name for f in page.files if source.landed_sha256(f, w.landing) is None]
        assert sorted(new_content) == ["edited.csv", "new.csv"]  # a rename is not new content
        assert sorted(page.removed) == ["deleted.csv", "moved.csv", "trashed.csv"]
        assert page.ignored == {"outside the watched folders": 1}
        why = {r["name"]: r["removed_reason"] for r in removed_items(w.source().engine)}
        assert why == {
            "trashed.csv": "trashed",
            "moved.csv": "moved out of the watched folders",
            "deleted.csv": "deleted, or no longer shared with the account",
        }
        assert kept not in {f.file_id for f in page.files}
        # Nothing changed since: one call, nothing to look at.
        calls = w.drive.calls["changes.list"]
        quiet = source.read_changes(page.cursor, 100)
        assert quiet.files == [] and quiet.removed == [] and not quiet.more
        assert w.drive.calls["changes.list"] == calls + 1 and quiet.api_calls == 1
        # Removed files are not listed for a day's run either.
        assert "trashed.csv" not in {f.name for f in source.listing().files}


def test_a_folder_moved_in_brings_its_files_and_one_moved_out_takes_them(tmp_path):
    with drive_world(tmp_path) as w:
        outside = w.drive.folder("Inbox", shared=True)
        batch = w.drive.folder("batch 7", outside)
        w.drive.upload("b7.csv", csv_bytes("b7@acme.com"), batch)
        sub = w.drive.folder("sub", w.folder)
        w.drive.upload("s.csv", csv_bytes("s@acme.com"), sub)
        source = w.source()
        first = source.read_changes(None, 100)
        assert _names(first) == ["s.csv"]

        w.drive.move(batch, w.folder)  # the folder changes; its file does not
        page = source.read_changes(first.cursor, 100)
        assert _names(page) == ["b7.csv"]

        w.drive.move(sub, outside)
        gone = source.read_changes(page.cursor, 100)
        assert sorted(gone.removed) == ["s.csv", "sub"]
        w.drive.update(
            next(i.id for i in w.drive.items.values() if i.name == "s.csv"), b"x,y\n1,2\n"
        )
        later = source.read_changes(gone.cursor, 100)
        assert later.files == [] and later.ignored == {"outside the watched folders": 1}


def test_sheets_are_exported_as_xlsx_and_hashed_on_landing(tmp_path):
    with drive_world(tmp_path) as w:
        book = xlsx_bytes({"Leads": ["ann@acme.com"], "More": ["bob@beta.io"]})
        sheet = w.drive.sheet("Trade show", book, w.folder)
        source = w.source()
        page = source.read_changes(None, 10)
        [file] = page.files
        assert file.name == "Trade show.xlsx"
        assert file.content_key == f"drive-sheet:{sheet}:1"
        landed = source.land(file, w.landing)
        assert landed.path.read_bytes() == book and landed.fetched_bytes == len(book)
        assert w.drive.calls["files.export"] == 1 and w.drive.calls["files.get_media"] == 0
        assert source.land(file, w.landing).fetched_bytes == 0  # same version: not again

        w.drive.edit_sheet(sheet, xlsx_bytes({"Leads": ["ann@acme.com", "cy@acme.com"]}))
        [edited] = source.read_changes(page.cursor, 10).files
        assert source.landed_sha256(edited, w.landing) is None
        assert source.land(edited, w.landing).sha256 != landed.sha256

        w.drive.export_limit = 10
        w.drive.edit_sheet(sheet, book + b"more")
        [big] = source.read_changes(None, 10, None).files
        with pytest.raises(FileUnavailable, match="exportSizeLimitExceeded"):
            source.land(big, w.landing)


def test_identical_bytes_uploaded_again_are_never_downloaded_again(tmp_path):
    with drive_world(tmp_path) as w:
        data = csv_bytes("same@acme.com")
        first_id = w.drive.upload("leads.csv", data, w.folder)
        source = w.source()
        first = source.read_changes(None, 10)
        assert _land_all(source, first, w.landing) == len(data)
        w.drive.upload("leads (1).csv", data, w.folder)  # a copy under a new name and id
        w.drive.update(first_id, data)  # a new revision with the same bytes
        page = source.read_changes(first.cursor, 10)
        assert len(page.files) == 2
        assert all(source.landed_sha256(f, w.landing) for f in page.files)
        assert _land_all(source, page, w.landing) == 0
        assert w.drive.calls["files.get_media"] == 1


def test_shared_drive_folders_are_read_with_the_shared_drive_flags(tmp_path):
    with drive_world(tmp_path) as w:
        team = w.drive.shared_drive("Sales team")
        drops = w.drive.folder("drops", team)
        w.drive.upload("team.csv", csv_bytes("t@acme.com"), drops, at=at_day("2026-11-05"))
        source = w.source([drops])
        [root] = source.roots()
        assert root.drive_id == team
        listing = source.listing()
        assert [f.name for f in listing.files] == ["team.csv"]
        team_lists = [
            r for r in w.google.state.requests if r.path == "/drive/v3/files" and "q" in r.query
        ]
        assert team_lists[-1].query["corpora"] == ["drive"]
        assert team_lists[-1].query["driveId"] == [team]
        page = source.read_changes(None, 10)
        assert _names(page) == ["team.csv"]
        w.drive.upload("team2.csv", csv_bytes("t2@acme.com"), drops)
        assert _names(source.read_changes(page.cursor, 10)) == ["team2.csv"]
        assert source.land(page.files[0], w.landing).fetched_bytes > 0


def test_a_folder_not_shared_says_whom_to_share_it_with(tmp_path):
    with drive_world(tmp_path) as w:
        private = w.drive.folder("Someone's folder")  # not shared with the account
        with pytest.raises(DriveNotFound) as exc:
            w.source([private]).listing()
        message = str(exc.value)
        assert f"folder {private} not found" in message
        assert "share the folder with leads@proj.iam.gserviceaccount.com" in message
        w.drive.fail("files.list", 403, "insufficientFilePermissions", message="no access")
        with pytest.raises(DriveAccessError, match="share the folder with leads@proj"):
            w.source().listing()
        w.drive.fail(
            "files.get",
            403,
            "accessNotConfigured",
            message="Google Drive API has not been used in project 1234 before or it is disabled.",
        )
        with pytest.raises(DriveAccessError, match="Drive API is not enabled"):
            w.source().listing()
        doc = w.drive.doc("a doc", w.folder)
        with pytest.raises(DriveAccessError, match="not a folder"):
            w.source([doc]).listing()


def test_429_with_retry_after_is_waited_out_then_succeeds(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder)
        source = w.source()
        source.roots()
        w.drive.fail("files.list", 429, "rateLimitExceeded", retry_after="1")
        w.drive.fail("files.list", 403, "userRateLimitExceeded")
        w.drive.fail("files.list", 503, "backendError")
        started = time.monotonic()
        listing = source.listing()
        assert [f.name for f in listing.files] == ["a.csv"]
        lists = [r.at for r in w.google.state.requests if r.path == "/drive/v3/files"]
        assert len(lists) == 4 and lists[1] - lists[0] >= 1.0  # Retry-After: 1 honoured
        assert source.api.stats.retries == 3
        assert time.monotonic() - started < 10


def test_downloads_stream_in_chunks_and_a_failed_chunk_is_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(drive_api, "DOWNLOAD_CHUNK_BYTES", 1000)
    with drive_world(tmp_path) as w:
        data = csv_bytes(*(f"person{i}@acme.com" for i in range(200)))
        w.drive.upload("big.csv", data, w.folder)
        source = w.source()
        [file] = source.read_changes(None, 10).files
        w.drive.fail("files.get_media", 500, "backendError")
        landed = source.land(file, w.landing)
        assert landed.path.read_bytes() == data
        ranges = [
            r.headers["range"] for r in w.google.state.requests if r.query.get("alt") == ["media"]
        ]
        assert len(ranges) == -(-len(data) // 1000) + 1 and ranges[0] == ranges[1]


def test_quota_exhaustion_stops_the_read_cleanly_and_the_next_read_resumes(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("f0.csv", csv_bytes("f0@acme.com"), w.folder)
        source = w.source()
        first = source.read_changes(None, 100)
        for i in range(1, 8):
            w.drive.upload(f"f{i}.csv", csv_bytes(f"f{i}@acme.com"), w.folder)
        source.api.page_size, source.api.max_attempts = 5, 2
        # The first page of changes goes through; then Drive keeps answering 429.
        w.drive.fail("changes.list", 429, "rateLimitExceeded", retry_after="0", times=9, after=1)
        stopped = source.read_changes(first.cursor, 100)
        assert len(stopped.files) == 5 and stopped.more
        assert "rate limit held after 2 attempt(s)" in (stopped.interrupted or "")
        w.drive.failures.clear()
        resumed = source.read_changes(stopped.cursor, 100)
        assert len(resumed.files) == 2 and not resumed.interrupted and not resumed.more
        names = {f.name for f in stopped.files + resumed.files}
        assert names == {f"f{i}.csv" for i in range(1, 8)}
        w.drive.fail("changes.list", 403, "dailyLimitExceeded")
        spent = source.read_changes(resumed.cursor, 100)
        assert "daily Drive quota is spent" in (spent.interrupted or "")
        assert spent.cursor == resumed.cursor


def test_a_read_that_crashed_is_read_again_from_the_same_cursor(tmp_path):
    with drive_world(tmp_path) as w:
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder)
        source = w.source()
        first = source.read_changes(None, 10)
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), w.folder)
        w.drive.trash(first.files[0].file_id)
        w.drive.fail("changes.list", 400, "invalid", message="the process died here")
        with pytest.raises(drive_api.DriveError):
            source.read_changes(first.cursor, 10)
        again = source.read_changes(first.cursor, 10)  # the cursor was never advanced
        assert _names(again) == ["b.csv"] and again.removed == ["a.csv"]
        twice = source.read_changes(first.cursor, 10)  # and re-reading is harmless
        assert _names(twice) == ["b.csv"]


def test_other_folder_ids_start_a_fresh_listing(tmp_path):
    with drive_world(tmp_path) as w:
        other = w.drive.folder("Second drop", shared=True)
        w.drive.upload("a.csv", csv_bytes("a@acme.com"), w.folder)
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), other)
        first = w.source().read_changes(None, 10)
        both = w.source([w.folder, other]).read_changes(first.cursor, 10)
        assert _names(both) == ["a.csv", "b.csv"]


def test_the_landing_sink_leaves_nothing_behind_when_a_download_fails(tmp_path):
    landing = tmp_path / "landing"
    with pytest.raises(RuntimeError), LandingSink(landing) as sink:
        sink.write(b"half a file")
        raise RuntimeError("connection reset")
    assert [p.name for p in landing.iterdir()] == []


def test_the_watched_tree_and_channels_on_both_store_backends(store_url, tmp_path):
    from pipeline.drive import channels
    from pipeline.drive.source import DriveSource
    from pipeline.store import open_store

    with drive_world(tmp_path) as w:
        sub = w.drive.folder("sub", w.folder)
        a = w.drive.upload("a.csv", csv_bytes("a@acme.com"), sub)
        engine = open_store(store_url)
        source = DriveSource(w.auth(), [w.folder], engine)
        first = source.read_changes(None, 10)
        assert _names(first) == ["a.csv"]
        w.drive.trash(a)
        w.drive.upload("b.csv", csv_bytes("b@acme.com"), sub)
        again = DriveSource(w.auth(), [w.folder], engine).read_changes(first.cursor, 10)
        assert _names(again) == ["b.csv"] and again.removed == ["a.csv"]
        assert [r["removed_reason"] for r in removed_items(engine)] == ["trashed"]

        opened = channels.open_channel(
            source.api, engine, "https://leads.example.com/webhooks/drive", "t0k", "ann", 1
        )
        assert [c.channel_id for c in channels.due_for_renewal(engine)] == [opened.channel_id]
        assert channels.stop_channel(source.api, engine, opened, "ann") == "stopped"
        assert channels.open_channels(engine) == []
