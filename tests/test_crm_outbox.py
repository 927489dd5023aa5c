"""The CRM sync on the outbox backend (SQLite and Postgres): every planned operation once,
nothing on an unchanged re-run, exactly the changed contacts, modes, merges, rejections."""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy import func, select

from pipeline.crm.client import OutboxCrm
from pipeline.crm.ledger import load_ledger, rejections
from pipeline.crm.mapping import load_mapping
from pipeline.crm.sync import sync_contacts
from pipeline.store.tables import crm_outbox
from tests.crm_fixtures import NO_MERGES, merges, scored


def outbox(store) -> list[dict]:
    with store.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(crm_outbox).order_by(crm_outbox.c.id))
        ]


def sync(store, frame, run_id, mode="upsert", events=NO_MERGES):
    mapping = load_mapping()
    mapping.contacts.mode = mode
    return sync_contacts(
        frame, events, mapping, OutboxCrm(store, run_id), store, run_id=run_id, batch_size=10
    )


def test_first_sync_plans_every_operation_and_an_unchanged_rerun_plans_nothing(store):
    report = sync(store, scored(25), "run-1")
    ops = outbox(store)
    kinds = [(o["operation"], o["object_type"]) for o in ops]
    assert kinds.count(("upsert", "contact")) == 25
    assert kinds.count(("upsert", "company")) == 3
    assert kinds.count(("associate", "contact_company")) == 25
    assert report.batches == 3 and report.new == 25
    again = sync(store, scored(25), "run-2")
    assert len(outbox(store)) == len(ops)
    assert (again.sent, again.unchanged, again.batches) == (0, 25, 0)


def test_a_changed_score_sends_exactly_those_contacts(store):
    sync(store, scored(20), "run-1")
    before = len(outbox(store))
    frame = scored(20).with_columns(
        pl.when(pl.col("entity_id").is_in(["E00003", "E00011"]))
        .then(91)
        .otherwise(pl.col("lead_score"))
        .alias("lead_score")
    )
    report = sync(store, frame, "run-2")
    new_ops = outbox(store)[before:]
    assert sorted(o["object_key"] for o in new_ops) == [
        "person11@company2.com",
        "person3@company0.com",
    ]
    assert all(json.loads(o["payload"])["lead_score"] == "91" for o in new_ops)
    assert (report.changed, report.sent) == (2, 2)


def test_create_only_and_update_only_modes(store):
    sync(store, scored(5), "run-1", mode="create_only")
    changed = scored(8, score=70)  # 5 changed, 3 new
    update = sync(store, changed, "run-2", mode="update_only")
    assert (update.sent, update.skipped_by_mode) == (5, 3)
    # The associations are unchanged, so the outbox already holds them: only updates appear.
    run_2 = {o["operation"] for o in outbox(store) if o["run_id"] == "run-2"}
    assert run_2 == {"update"}
    create = sync(store, changed, "run-3", mode="create_only")
    assert (create.sent, create.skipped_by_mode) == (3, 0)


def test_dedupe_merges_are_planned_once_and_the_merged_entity_stops_syncing(store):
    sync(store, scored(4), "run-1")
    events = merges([("E00000", "E00001")])
    report = sync(store, scored(4).filter(pl.col("entity_id") != "E00001"), "run-2", events=events)
    planned = [o for o in outbox(store) if o["operation"] == "merge"]
    assert [json.loads(o["payload"]) for o in planned] == [
        {"primary": "entity:E00000", "merged": "entity:E00001"}
    ]
    assert report.merges == 1
    ledger = load_ledger(store, "outbox")
    assert ledger.filter(pl.col("entity_id") == "E00001")["status"].to_list() == ["merged"]
    again = sync(store, scored(4).filter(pl.col("entity_id") != "E00001"), "run-3", events=events)
    assert again.merges == 0
    with store.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(crm_outbox)
                .where(crm_outbox.c.operation == "merge")
            ).scalar_one()
            == 1
        )


def test_two_entities_with_one_email_send_one_contact_and_reject_the_other(store):
    frame = pl.concat([scored(3), scored(1).with_columns(pl.lit("E99999").alias("entity_id"))])
    report = sync(store, frame, "run-1")
    assert report.sent == 3 and report.rejected == 1
    [rejection] = rejections(store, "run-1")
    assert (rejection["entity_id"], rejection["category"]) == ("E99999", "DUPLICATE_EMAIL")
    assert json.loads(rejection["input"])["email"] == "person0@company0.com"


def test_leads_without_an_email_are_counted_not_sent(store):
    frame = scored(3).with_columns(
        pl.when(pl.col("entity_id") == "E00001")
        .then(None)
        .otherwise(pl.col("email"))
        .alias("email")
    )
    report = sync(store, frame, "run-1")
    assert (report.no_email, report.sent) == (1, 2)


def test_the_crm_associations_migration_rehashes_and_backfills(tmp_path):
    """Rows written by the old sync keep matching: a re-run after the upgrade sends nothing."""
    import hashlib

    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from pipeline.store.engine import create_store_engine
    from pipeline.store.migrate import alembic_config, upgrade

    before = ScriptDirectory.from_config(alembic_config()).get_revision("0009_crm_associations")
    engine = create_store_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, str(before.down_revision))
    frame = scored(2).with_columns(pl.Series("first_name", ["Zoë", "Ann"]))
    old_rows = []
    for row in frame.iter_rows(named=True):
        payload = {
            "__company": row["domain"],
            "company": row["company"],
            "country": "US",
            "email": row["email"],
            "entity_id": row["entity_id"],
            "firstname": row["first_name"],
            "jobtitle": "VP Sales",
            "lastname": row["last_name"],
            "lead_grade": "B",
            "lead_score": "50",
            "lead_score_reasons": "+25 VP-level title",
            "lead_source_file": "trade_show.csv",
            "website": row["website"],
        }
        # What the old sync stored: sorted keys, default separators; hashed with ASCII escapes.
        digest = hashlib.sha256(
            json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        old_rows.append(
            (row["entity_id"], row["email"], json.dumps(payload, sort_keys=True), digest)
        )
    with engine.begin() as conn:
        for entity_id, email, properties, digest in old_rows:
            conn.execute(
                text(
                    "INSERT INTO crm_sync_ledger (backend, entity_id, id_value, properties,"
                    " properties_hash, status, synced_at) VALUES ('outbox', :e, :v, :p, :h,"
                    " 'synced', '2026-11-30 10:00:00')"
                ),
                {"e": entity_id, "v": email, "p": properties, "h": digest},
            )
        conn.execute(
            text(
                "INSERT INTO crm_companies (backend, domain, name, synced_at) VALUES"
                " ('outbox', 'company0.com', 'Company 0', '2026-11-30 10:00:00')"
            )
        )
        # The old outbox's upsert of the "Zoë" contact, with the old escapes.
        old_payload = json.dumps(
            {k: v for k, v in json.loads(old_rows[0][2]).items() if k != "__company"},
            sort_keys=True,
            separators=(",", ":"),
        )
        conn.execute(
            text(
                "INSERT INTO crm_outbox (run_id, operation, object_type, object_key, payload,"
                " payload_sha256, created_at) VALUES ('old', 'upsert', 'contact', :k, :p, :h,"
                " '2026-11-30 10:00:00')"
            ),
            {
                "k": old_rows[0][1],
                "p": old_payload,
                "h": hashlib.sha256(old_payload.encode()).hexdigest(),
            },
        )
    upgrade(engine)
    ledger = {r["entity_id"]: r for r in load_ledger(engine, "outbox").iter_rows(named=True)}
    assert ledger["E00001"]["properties_hash"] == old_rows[1][3]  # ASCII: the same hash
    assert ledger["E00000"]["properties_hash"] != old_rows[0][3]  # "Zoë": rehashed
    assert ledger["E00000"]["associated_domain"] == "company0.com"
    assert ledger["E00001"]["associated_domain"] is None  # its company was never recorded
    [old] = outbox(engine)
    assert "Zoë" in old["payload"]
    assert old["payload_sha256"] == hashlib.sha256(old["payload"].encode()).hexdigest()
    report = sync_contacts(
        frame, NO_MERGES, load_mapping(), OutboxCrm(engine, "after"), engine, run_id="after"
    )
    assert (report.unchanged, report.sent) == (2, 0)
    # Its company and association were never recorded: planned now, nothing else.
    assert [o["object_key"] for o in outbox(engine)] == [
        "person0@company0.com",  # the old row, now in UTF-8
        "company1.com",
        "person1@company1.com->company1.com",
    ]
