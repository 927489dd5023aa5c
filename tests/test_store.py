"""The operational store on SQLite and Postgres: migrations, inbox intake, failures, dead
letters, replay, and the audit log."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from pipeline.store import audit, open_store
from pipeline.store.engine import create_store_engine, redact_url
from pipeline.store.inbox import (
    InboxEvent,
    accept_events,
    dead_letters,
    events_after,
    events_to_retry,
    receipt_counts,
    record_failure,
    replay,
)
from pipeline.store.migrate import current_revision, head_revision, upgrade
from pipeline.store.tables import audit_log, metadata, webhook_inbox


def event(n: int, source: str = "hubspot") -> InboxEvent:
    return InboxEvent(
        source=source,
        fingerprint=f"fp-{source}-{n}",
        event_type="contact.creation",
        payload=json.dumps({"n": n}),
        object_id=str(n),
    )


def test_migrations_create_exactly_the_tables_the_code_queries(store):
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []
    assert current_revision(store) == head_revision()


def _open(url: str) -> str | None:
    engine = create_store_engine(url)
    upgrade(engine)
    return current_revision(engine)


def test_two_processes_migrating_a_new_sqlite_store_at_once_both_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        revisions = pool.map(_open, [url, url], chunksize=1)
    assert revisions == [head_revision(), head_revision()]


@pytest.mark.postgres
def test_two_processes_migrating_a_new_postgres_store_at_once_both_succeed(postgres_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(database=make_url(postgres_url).database + "_race")
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    try:
        rendered = url.render_as_string(hide_password=False)
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            revisions = pool.map(_open, [rendered, rendered], chunksize=1)
        assert revisions == [head_revision(), head_revision()]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def test_accepting_events_ignores_duplicates_and_counts_them(store):
    first = accept_events(store, [event(1), event(2), event(1)])
    again = accept_events(store, [event(2), event(3)])
    assert first == {"fp-hubspot-1", "fp-hubspot-2"}
    assert again == {"fp-hubspot-3"}
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one() == 3
    counts = {(r["source"], r["outcome"]): r["count"] for r in receipt_counts(store)}
    assert counts == {("hubspot", "accepted"): 3, ("hubspot", "duplicate"): 2}


def test_rejections_are_counted_without_storing_an_event(store):
    rejected = Counter({(date(2026, 11, 29), "email", "bad_signature"): 2})
    accept_events(store, [], rejected)
    accept_events(store, [], rejected)
    assert receipt_counts(store) == [
        {"day": date(2026, 11, 29), "source": "email", "outcome": "bad_signature", "count": 4}
    ]
    assert events_after(store, 0, 10) == []


def test_an_event_failing_max_attempts_times_is_dead_lettered_and_replay_brings_it_back(store):
    accept_events(store, [event(1), event(2)])
    target = events_after(store, 0, 10)[0]
    assert record_failure(store, target.id, "boom 1", max_attempts=3) == "retry"
    assert record_failure(store, target.id, "boom 2", max_attempts=3) == "retry"
    assert [e.id for e in events_to_retry(store, 10, 10)] == [target.id]
    assert record_failure(store, target.id, "boom 3", max_attempts=3) == "dead"
    letters = dead_letters(store)
    assert [(d["inbox_id"], d["attempts"], d["error"]) for d in letters] == [
        (target.id, 3, "boom 3")
    ]
    # Dead events are neither retried nor seen past the cursor.
    assert events_to_retry(store, 10, 10) == []
    assert [e.id for e in events_after(store, 0, 10)] == [target.id + 1]

    assert replay(store, [999]) == []
    assert replay(store) == [target.id]
    assert dead_letters(store) == []
    back = events_to_retry(store, 10, 10)
    assert [(e.id, e.attempts, e.replays) for e in back] == [(target.id, 0, 1)]
    # Failing again after a replay dead-letters it again, with a fresh attempt count.
    for n in range(3):
        record_failure(store, target.id, f"again {n}", max_attempts=3)
    assert [d["attempts"] for d in dead_letters(store)] == [3]


def test_audit_log_keeps_a_payload_hash_and_refuses_secret_looking_details(store):
    audit.record(
        store,
        actor="webhook_inbox_sensor",
        action="dispatch",
        subject="inbox:1",
        run_id="abc",
        payload=b'{"email": "x@y.z"}',
        details={"events": 3},
    )
    with pytest.raises(ValueError, match="must not carry credentials"):
        audit.record(store, actor="x", action="y", details={"api_key": "sk-123"})
    with store.connect() as conn:
        rows = conn.execute(select(audit_log)).all()
    assert len(rows) == 1
    assert rows[0].payload_sha256 and "x@y.z" not in json.dumps(rows[0].details)


def test_a_store_url_with_a_password_is_redacted_in_errors():
    url = "postgresql://leads:hunter2@127.0.0.1:1/nowhere"
    assert "hunter2" not in redact_url(url)
    with pytest.raises(RuntimeError) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_an_unsupported_store_url_is_a_clear_error():
    with pytest.raises(ValueError, match="sqlite:/// or postgresql://"):
        create_store_engine("mysql://u:secretpw@h/db")
    with pytest.raises(ValueError) as caught:
        create_store_engine("mysql://u:secretpw@h/db")
    assert "secretpw" not in str(caught.value)
