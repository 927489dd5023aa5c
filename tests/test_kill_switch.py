"""The kill switch: one flag every side effect checks before each batch, and pause-all /
resume-all turning the code location's automations off and back on (only those it stopped)."""

from __future__ import annotations

import threading
import time

import polars as pl
import pytest
from dagster import build_sensor_context, instance_for_test

from pipeline.enrich import enrich_leads, open_providers
from pipeline.store import open_store, pause
from pipeline.store.audit import entries
from resources.ops_store import OpsStore
from sensors.kill_switch import kill_switch
from tests.fakes.enrichment_vendor import VendorServer, VendorState, company_payload
from tests.test_enrichment import KEY, config


def test_the_flag_names_who_paused_when_and_why(store):
    pause.check_not_paused(store, "CRM writes")  # never used: not paused
    pause.pause(store, "ann@ops", "bad import running")
    with pytest.raises(pause.SideEffectsPaused) as exc:
        pause.check_not_paused(store, "CRM writes")
    message = str(exc.value)
    assert message.startswith("CRM writes stopped: side effects are paused by ann@ops at ")
    assert "bad import running" in message and "resume-all" in message
    pause.resume(store, "bob@ops")
    pause.check_not_paused(store, "CRM writes")
    assert [e["action"] for e in entries(store)][:2] == ["resume_all", "pause_all"]


def test_paid_lookups_stop_mid_run_when_paused(sqlite_store, monkeypatch):
    monkeypatch.setenv("TEST_FIRMO_KEY", KEY)
    monkeypatch.setenv("TEST_FINDER_KEY", KEY)
    state = VendorState(api_key=KEY, latency=0.05)
    domains = [f"acme{i}.com" for i in range(40)]
    for d in domains:
        state.companies[d] = company_payload(d, "Software", "11-50", "US")
    frame = pl.DataFrame({"entity_id": domains, "domain": domains, "email": [None] * 40})
    paused_at: list[float] = []
    with VendorServer(state) as server:

        def pause_after_a_few() -> None:
            while len(state.seen) < 5:
                time.sleep(0.005)
            pause.pause(sqlite_store, "ops@test", "mid-run")
            paused_at.append(time.monotonic())

        watcher = threading.Thread(target=pause_after_a_few)
        watcher.start()
        cfg = config(server.url)
        providers = open_providers(cfg)
        try:
            with pytest.raises(pause.SideEffectsPaused, match="lookups stopped"):
                enrich_leads(frame, cfg, providers, sqlite_store)
        finally:
            for p in providers.values():
                p.close()
        watcher.join()
    after = [s for s in state.seen if s.at > paused_at[0]]
    # Calls that had passed the gate when the switch flipped may land; no new one starts.
    assert len(after) <= cfg.providers["firmographics"].concurrency
    assert len(state.seen) < len(domains)


def test_the_kill_switch_sensor_says_so_in_the_ui(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    resource = OpsStore(database_url=url)
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources={"ops_store": resource})
        assert "side effects are on" in kill_switch(context).skip_message
        pause.pause(resource.engine, "ops@test", "incident 42")
        assert kill_switch(context).skip_message.startswith("PAUSED - side effects paused by")


def test_pause_all_turns_off_running_automations_and_resume_restores_only_those(
    tmp_path, monkeypatch
):
    from pipeline.definitions.kill_switch import _remote_repository, pause_all, resume_all

    monkeypatch.setenv("LEADS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    engine = open_store(f"sqlite:///{tmp_path / 'data' / 'ops.sqlite'}")
    with instance_for_test() as instance:
        with _remote_repository(instance) as repository:
            inbox = repository.get_sensor("webhook_inbox_sensor")
            instance.stop_sensor(inbox.get_remote_origin_id(), inbox.selector_id, inbox)
        report = pause_all(engine, instance, "ops@test", "drill")
        stopped = {name for kind, name in report.changed}
        assert {"file_arrival_sensor", "automation"} <= stopped
        assert "webhook_inbox_sensor" not in stopped and "kill_switch" not in stopped
        assert pause.is_paused(engine)

        def running(name: str) -> bool:
            with _remote_repository(instance) as repository:
                item = repository.get_sensor(name)
                state = instance.get_instigator_state(item.get_remote_origin_id(), item.selector_id)
                return item.get_current_instigator_state(state).is_running

        assert not running("file_arrival_sensor") and running("kill_switch")
        report = resume_all(engine, instance, "ops@test", None)
        assert {name for _, name in report.changed} == stopped
        assert running("file_arrival_sensor") and running("automation")
        assert not running("webhook_inbox_sensor")  # it was off before the pause: stays off
        assert not pause.is_paused(engine)


def test_no_crm_write_after_the_switch_mid_run_and_resume_finishes_the_job(store):
    """HubSpot through the official client: pause after the first contact batch is
    acknowledged; nothing more reaches HubSpot, the run fails naming who paused it, and after
    resume-all a re-run sends exactly the rest, each contact once."""
    from tests.crm_fixtures import scored
    from tests.fakes.hubspot_server import CONTACTS_UPSERT, HubSpotServer, HubSpotState
    from tests.test_crm_hubspot import CUSTOM, sync, upserted_inputs

    with HubSpotServer(HubSpotState(extra_properties={"contacts": CUSTOM})) as hubspot:

        def pause_after_first(batch: int) -> None:
            if batch == 1:
                pause.pause(store, "ops@test", "bad import")

        with pytest.raises(pause.SideEffectsPaused, match=r"CRM .* batch .*paused by ops@test"):
            sync(hubspot, store, scored(350), after_batch=pause_after_first)
        writes = [r for r in hubspot.state.requests if r.method == "POST" and "/batch/" in r.path]
        upserts = [r for r in writes if r.path == CONTACTS_UPSERT]
        assert len(upserts) == 1 and len(hubspot.state.contacts) == 100
        assert writes[-1].path == CONTACTS_UPSERT or "associations" in writes[-1].path

        pause.resume(store, "ops@test")
        report = sync(hubspot, store, scored(350))
        assert report.sent == 250
        assert len(hubspot.state.contacts) == 350
        assert len(upserted_inputs(hubspot.state)) == 350  # nothing sent twice


def test_the_outbox_sync_reads_the_switch_inside_its_own_transaction(store):
    """Regression: the outbox holds SQLite's write lock for each batch; the switch was read
    through a second connection, which waited out the busy timeout and failed every sync
    with "database is locked". Now the flag is read in the batch's transaction: a run
    completes, and a pause after the first batch stops the next one."""
    from pipeline.crm.client import OutboxCrm
    from pipeline.crm.mapping import load_mapping
    from pipeline.crm.sync import sync_contacts
    from tests.crm_fixtures import NO_MERGES, scored

    def sync(frame, run_id, after_batch=None):
        client = OutboxCrm(store, run_id)
        return sync_contacts(
            frame,
            NO_MERGES,
            load_mapping(),
            client,
            store,
            run_id=run_id,
            batch_size=10,
            association_batch_size=10,
            after_batch=after_batch,
        )

    started = time.monotonic()
    assert sync(scored(25), "first").sent == 25
    assert time.monotonic() - started < 10  # no busy-timeout wait

    def pause_after_first(batch: int) -> None:
        if batch == 1:
            pause.pause(store, "ops@test", "stop")

    frame = scored(25, score=80)
    with pytest.raises(pause.SideEffectsPaused, match=r"CRM (update|upsert) batch"):
        sync(frame, "second", after_batch=pause_after_first)
    pause.resume(store, "ops@test")
    assert sync(frame, "third").sent == 15  # the batch sent before the pause is not sent again
