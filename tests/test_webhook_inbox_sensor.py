"""From inbox to runs, on an ephemeral Dagster instance and both store backends: the sensor's
cursor and run keys, processing, retries, dead letters and replay, and the daily report."""

from __future__ import annotations

import json

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context, materialize

from assets import webhooks
from pipeline.definitions import ingest_job
from pipeline.store.inbox import InboxEvent, accept_events, dead_letters, events_by_id, replay
from resources.io_manager import LeadsWarehouseIOManager
from resources.ops_store import OpsStore
from sensors import webhook_inbox
from sensors.webhook_inbox import build_webhook_inbox_sensor

SENSOR = build_webhook_inbox_sensor(webhooks.process_webhook_events, ingest_job)


def hubspot(n: int, subscription: str = "contact.creation") -> InboxEvent:
    payload = {
        "eventId": n,
        "portalId": 1,
        "objectId": n,
        "occurredAt": 1_764_400_000_000,
        "subscriptionType": subscription,
    }
    return InboxEvent("hubspot", f"hs-{n}", subscription, json.dumps(payload), str(n))


def drive(n: int) -> InboxEvent:
    return InboxEvent("drive", f"drive-{n}", "drive.change", json.dumps({"message_number": n}))


def tick(instance, store_url: str, cursor: str | None):
    with build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"ops_store": OpsStore(database_url=store_url, max_attempts=2)},
    ) as context:
        return SENSOR(context)


def process(store_url: str, ids: list[int]) -> None:
    result = webhooks.process_webhook_events.execute_in_process(
        run_config={"ops": {"process_inbox_events": {"config": {"inbox_ids": ids}}}},
        resources={"ops_store": OpsStore(database_url=store_url, max_attempts=2)},
    )
    assert result.success


def test_sensor_pages_by_inbox_id_and_its_run_keys_are_deterministic(store, store_url, monkeypatch):
    monkeypatch.setattr(webhook_inbox, "PAGE_SIZE", 3)
    monkeypatch.setattr(webhook_inbox, "EVENTS_PER_RUN", 2)
    accept_events(store, [hubspot(n) for n in range(5)] + [drive(1), drive(2)])
    with DagsterInstance.ephemeral() as instance:
        first = tick(instance, store_url, None)
        again = tick(instance, store_url, None)
        later = tick(instance, store_url, first.cursor)
    assert first.cursor == "7"
    keys = [r.run_key for r in first.run_requests]
    assert keys == [r.run_key for r in again.run_requests]  # same events, same keys
    assert len(set(keys)) == len(keys)
    jobs = [r.job_name for r in first.run_requests]
    # Pages of 3: [hs0 hs1 hs2] -> 2 runs; [hs3 hs4 d1] -> 1 run + 1 drive run; [d2] -> drive.
    assert jobs.count("process_webhook_events") == 3
    assert jobs.count("ingest_job") == 2
    drive_runs = [r for r in first.run_requests if r.job_name == "ingest_job"]
    assert all(r.partition_key and r.tags["leads/trigger"] == "drive_webhook" for r in drive_runs)
    ids = [
        i
        for r in first.run_requests
        if r.job_name == "process_webhook_events"
        for i in r.run_config["ops"]["process_inbox_events"]["config"]["inbox_ids"]
    ]
    assert ids == [1, 2, 3, 4, 5]
    assert isinstance(later, SkipReason)
    assert {e.status for e in events_by_id(store, range(1, 8))} == {"dispatched"}


def test_failing_events_are_retried_then_dead_lettered_and_replay_dispatches_them_again(
    store, store_url
):
    accept_events(store, [hubspot(1), hubspot(2, subscription="deal.unknownThing")])
    with DagsterInstance.ephemeral() as instance:
        first = tick(instance, store_url, None)
        assert len(first.run_requests) == 1
        process(store_url, [1, 2])
        good, bad = events_by_id(store, [1, 2])
        assert (good.status, bad.status, bad.attempts) == ("processed", "retry", 1)

        retry = tick(instance, store_url, first.cursor)
        [request] = retry.run_requests
        assert request.run_key not in {r.run_key for r in first.run_requests}
        process(store_url, [2])
        assert events_by_id(store, [2])[0].status == "dead"
        [letter] = dead_letters(store)
        assert "unsupported 'deal.unknownThing'" in letter["error"]
        assert isinstance(tick(instance, store_url, retry.cursor), SkipReason)

        assert replay(store, [2]) == [2]
        replayed = tick(instance, store_url, retry.cursor)
        [again] = replayed.run_requests
        assert again.run_key not in {request.run_key, *(r.run_key for r in first.run_requests)}
        assert again.run_config["ops"]["process_inbox_events"]["config"]["inbox_ids"] == [2]


def test_processing_twice_does_not_reprocess(store, store_url):
    accept_events(store, [hubspot(1)])
    process(store_url, [1])
    process(store_url, [1])
    [event] = events_by_id(store, [1])
    assert (event.status, event.attempts) == ("processed", 0)


def test_webhook_events_report_counts_per_day_and_source(store, store_url, tmp_path):
    from collections import Counter
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    accept_events(store, [hubspot(1), hubspot(1), drive(1)])
    accept_events(store, [], Counter({(today, "hubspot", "bad_signature"): 3}))
    process(store_url, [1])
    result = materialize(
        [webhooks.webhook_events],
        resources={
            "ops_store": OpsStore(database_url=store_url),
            "io_manager": LeadsWarehouseIOManager(
                database=str(tmp_path / "wh.duckdb"), schema="leads"
            ),
        },
    )
    assert result.success
    report = result.output_for_node("webhook_events")
    rows = {r["source"]: r for r in report.iter_rows(named=True)}
    assert rows["hubspot"]["accepted"] == 1
    assert rows["hubspot"]["duplicate"] == 1
    assert rows["hubspot"]["rejected"] == 3
    assert rows["hubspot"]["now_processed"] == 1
    assert rows["drive"]["accepted"] == 1 and rows["drive"]["now_pending"] == 1
    metadata = result.asset_materializations_for_node("webhook_events")[0].metadata
    assert metadata["rejected"].value == 3


@pytest.mark.parametrize("count", [2500])
def test_a_large_backlog_is_paged_within_one_tick(store, store_url, count):
    accept_events(store, [hubspot(n) for n in range(count)])
    with DagsterInstance.ephemeral() as instance:
        result = tick(instance, store_url, None)
    assert result.cursor == str(count)
    assert len(result.run_requests) == -(-count // webhook_inbox.EVENTS_PER_RUN)
