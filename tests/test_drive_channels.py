"""Push channels and the `drive` commands against the fake Drive: watch, notification through
the receiver into the inbox (which wakes the sensor), renewal, unwatch, the kill switch, and
`drive check`'s plain messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from pipeline.__main__ import main
from pipeline.drive import channels
from pipeline.drive.channels import ChannelError
from pipeline.store import open_store, pause
from pipeline.store.audit import entries
from pipeline.webhooks.app import create_app
from pipeline.webhooks.config import WebhookConfig
from tests.drive_fixtures import csv_bytes, drive_world

TOKEN = "drive-channel-token-do-not-log"
ADDRESS = "https://leads.example.com/webhooks/drive"


@pytest.fixture
def world(tmp_path, monkeypatch):
    with drive_world(tmp_path) as w:
        for key, value in w.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DRIVE_CHANNEL_TOKEN", TOKEN)
        yield w


def test_watch_opens_a_channel_whose_notifications_wake_the_sensor(world, capsys):
    w = world
    assert main(["drive", "watch", "--address", ADDRESS, "--hours", "48"]) == 0
    out = capsys.readouterr().out
    [channel] = w.drive.open_channels()
    assert f"opened {channel.id} -> {ADDRESS}" in out and TOKEN not in out
    assert channel.token == TOKEN and channel.address == ADDRESS
    store = open_store(w.store_url)
    [recorded] = channels.open_channels(store)
    assert (recorded.channel_id, recorded.resource_id) == (channel.id, channel.resource_id)
    assert timedelta(hours=47) < recorded.expires_at - recorded.opened_at <= timedelta(hours=48)
    assert entries(store)[0]["action"] == "drive_channel_opened"

    source = w.resource(poll_seconds=3600)
    assert not source.poll(last_read_at=9e18, last_wake=0).due
    receiver = create_app(WebhookConfig(database_url=w.store_url, drive_channel_token=TOKEN))
    with TestClient(receiver) as client:
        sync = client.post(
            "/webhooks/drive", headers=w.drive.notification_headers(channel.id, 1, "sync")
        )
        assert sync.status_code == 200
        change = client.post("/webhooks/drive", headers=w.drive.notification_headers(channel.id, 2))
        assert change.status_code == 200
    decision = source.poll(last_read_at=9e18, last_wake=0)
    assert decision.due and decision.why == "a Drive push notification arrived"

    assert main(["drive", "channels"]) == 0
    assert channel.id in capsys.readouterr().out
    assert main(["drive", "unwatch"]) == 0
    assert f"{channel.id}: stopped" in capsys.readouterr().out
    assert w.drive.open_channels() == [] and channels.open_channels(store) == []
    assert main(["drive", "unwatch"]) == 0
    assert "no open Drive channels" in capsys.readouterr().out


def test_watch_refuses_without_a_token_or_an_https_address(world, monkeypatch, capsys):
    assert main(["drive", "watch", "--address", "http://leads.example.com/webhooks/drive"]) == 2
    assert "public HTTPS address" in capsys.readouterr().err
    monkeypatch.delenv("DRIVE_CHANNEL_TOKEN")
    assert main(["drive", "watch", "--address", ADDRESS]) == 2
    assert "DRIVE_CHANNEL_TOKEN is not set" in capsys.readouterr().err
    assert world.drive.channels == {}


def test_renewal_opens_the_new_channel_before_stopping_the_old(world):
    w = world
    store = open_store(w.store_url)
    api = w.resource().drive().api
    soon = channels.open_channel(api, store, ADDRESS, TOKEN, "ann", hours=2)
    later = channels.open_channel(api, store, ADDRESS, TOKEN, "ann", hours=72)
    assert [c.channel_id for c in channels.due_for_renewal(store)] == [soon.channel_id]
    [renewal] = channels.renew_due(api, store, TOKEN, "schedule")
    assert renewal.old.channel_id == soon.channel_id and renewal.old_outcome == "stopped"
    open_ids = {c.id for c in w.drive.open_channels()}
    assert open_ids == {later.channel_id, renewal.new.channel_id}
    actions = [e["action"] for e in entries(store)][:2]
    assert actions == ["drive_channel_stopped", "drive_channel_opened"]  # newest first
    # A channel Drive already forgot is recorded as stopped all the same.
    w.drive.channels[later.channel_id].stopped = True
    assert channels.stop_channel(api, store, later, "ann") == "already gone at Drive"


def test_the_kill_switch_stops_channel_changes(world, capsys):
    w = world
    store = open_store(w.store_url)
    assert main(["drive", "watch", "--address", ADDRESS]) == 0
    pause.pause(store, "ops@test", "incident")
    assert main(["drive", "watch", "--address", ADDRESS]) == 2
    assert (
        "opening a Drive watch channel stopped: side effects are paused" in capsys.readouterr().err
    )
    assert main(["drive", "unwatch"]) == 2
    api = w.resource().drive().api
    with pytest.raises(pause.SideEffectsPaused):
        channels.renew_due(api, store, TOKEN, "schedule", within=timedelta(days=30))
    assert len(w.drive.open_channels()) == 1  # nothing opened, nothing stopped
    assert w.drive.calls["changes.watch"] == 1 and w.drive.calls["channels.stop"] == 0
    pause.resume(store, "ops@test")
    assert main(["drive", "unwatch"]) == 0
    assert w.drive.open_channels() == []


def test_check_lists_each_folder_and_says_plainly_what_is_wrong(world, monkeypatch, capsys):
    w = world
    sub = w.drive.folder("fairs", w.folder)
    w.drive.upload("leads.csv", csv_bytes(*(f"p{i}@acme.com" for i in range(300))), sub)
    w.drive.upload("logo.png", b"\x89PNG", w.folder)
    assert main(["drive", "check"]) == 0
    out = capsys.readouterr().out
    assert "credentials: acting as leads@proj.iam.gserviceaccount.com" in out
    assert f"folder 'Lead drops' ({w.folder}): 1 lead file(s), 1 subfolder(s), 1 ignored" in out
    assert "leads.csv" in out and "text/csv" in out and "KB" in out
    assert "ignored: 1 unsupported type image/png" in out

    private = w.drive.folder("Private")
    monkeypatch.setenv("DRIVE_FOLDER_IDS", f"{w.folder},{private}")
    assert main(["drive", "check"]) == 1
    out = capsys.readouterr().out
    assert f"folder {private} not found" in out
    assert "share the folder with leads@proj.iam.gserviceaccount.com" in out

    w.drive.fail(
        "changes.getStartPageToken",
        403,
        "accessNotConfigured",
        message="Google Drive API has not been used in project 42 before or it is disabled.",
    )
    assert main(["drive", "check"]) == 1
    assert "the Google Drive API is not enabled" in capsys.readouterr().out

    w.google.state.allowed_subjects = {"someone@else.example"}
    monkeypatch.setenv("GOOGLE_IMPERSONATE", "sales@ourcompany.example")
    assert main(["drive", "check"]) == 1
    assert "the token endpoint refused the credentials" in capsys.readouterr().out


def test_a_channel_address_must_be_https():
    with pytest.raises(ChannelError, match="public HTTPS address"):
        channels.check_address("http://localhost:8787/webhooks/drive")


def test_demo_on_a_folder_not_shared_ends_in_one_paragraph_naming_the_account(
    world, monkeypatch, capsys
):
    private = world.drive.folder("Private")
    monkeypatch.setenv("DRIVE_FOLDER_IDS", private)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().startswith("`python -m pipeline demo` failed")
    assert f"folder {private} not found" in err
    assert "share the folder with leads@proj.iam.gserviceaccount.com" in err
