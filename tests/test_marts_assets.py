"""The SQL marts as Dagster assets: built on the real pipeline's output for a few fixture
files, lineage from the tables each model reads, checks from the YAML tests, the per-run CRM
tables, automation, and `python -m pipeline sql`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    asset,
    evaluate_automation_conditions,
    materialize,
)

from assets.marts import build_mart_assets, mart_key
from assets.partitions import arrival_partition_key
from pipeline.__main__ import main
from pipeline.config import Settings
from pipeline.crm.ledger import record_rejections
from pipeline.definitions import build_definitions, lead_source_from
from pipeline.definitions.marts import marts_project, warehouse_catalog
from pipeline.marts import ModelError, build_model, load_project
from pipeline.marts.crm_sync_runs import rejections_frame, sync_runs_frame
from pipeline.store import audit
from pipeline.store.sql import utcnow
from pipeline.store.tables import crm_sync_ledger
from resources.warehouse import Warehouse
from tests.test_pipeline_e2e import _drop_files

MARTS = ("lead_funnel_daily", "source_file_quality", "crm_sync_health", "entity_changes")
EARLIER = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _run_pipeline(settings: Settings, instance: DagsterInstance) -> None:
    """Every ingest day, then dedupe, enrich and score, the CRM sync (outbox) and the marts,
    through Dagster as `make demo` runs them."""
    defs = build_definitions(settings)
    days = sorted(
        {
            arrival_partition_key(f.arrived_at)
            for f in lead_source_from(settings).list_files(None, None)
        }
    )
    steps = [("ingest_job", {"partition_key": day}) for day in days]
    steps += [("dedupe_job", {}), ("enrich_job", {}), ("crm_job", {}), ("marts_job", {})]
    for job, kwargs in steps:
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, **kwargs)
        assert result.success, job
        if job == "marts_job":
            evaluations = result.get_asset_check_evaluations()
            marts_checks = [e for e in evaluations if e.asset_key.path[0] == "marts"]
            assert len(marts_checks) >= 15
            failed = [
                (e.asset_key.to_user_string(), e.check_name) for e in marts_checks if not e.passed
            ]
            assert failed == []


def _mart(settings: Settings, name: str) -> pl.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.sql(f"select * from marts.{name}").pl()


def test_every_mart_builds_on_the_pipelines_output_and_its_tests_pass(settings):
    _drop_files(settings.source_dir)
    for name in ("salon.csv", "partner.xlsx"):  # two files arrived on an earlier day
        os.utime(settings.source_dir / name, (EARLIER.timestamp(), EARLIER.timestamp()))
    with DagsterInstance.ephemeral() as instance:
        _run_pipeline(settings, instance)
        for name in MARTS:
            event = instance.get_latest_materialization_event(AssetKey(["marts", name]))
            assert event is not None, name
            metadata = event.asset_materialization.metadata
            columns = metadata["dagster/column_schema"].value.columns
            assert all(c.description for c in columns), name  # every column documented
            assert metadata["dagster/row_count"].value == _mart(settings, name).height

    funnel = _mart(settings, "lead_funnel_daily").sort("arrival_day")
    assert funnel["arrival_day"][0].isoformat() == "2025-03-01"
    earlier, today = funnel.to_dicts()
    # salon.csv (Jérôme, Jane) and partner.xlsx (Jane again)
    assert (earlier["files"], earlier["rows"], earlier["rejected"], earlier["leads"]) == (
        2,
        3,
        0,
        3,
    )
    assert earlier["people"] == 2 and earlier["quarantined_files"] == 0
    # crm_export.csv (4 rows: 2 rejected), form.json (Ann), broken.xlsx (quarantined)
    assert (today["files"], today["quarantined_files"], today["rows"], today["rejected"]) == (
        3,
        1,
        5,
        2,
    )
    assert today["leads"] == 3 and today["people"] == 3
    # Enriched and synced, recounted from the pipeline's tables in polars.
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        people = con.sql(
            "select n.arrival_day::date as arrival_day, e.entity_id from leads.normalized_leads n "
            "join leads.lead_entities e using (lead_id)"
        ).pl()
        enriched = con.sql(
            "select entity_id from leads.enriched_leads where enrichment_status = 'enriched'"
        ).pl()["entity_id"]
        synced = con.sql("select entity_id from leads.crm_contacts where status = 'synced'").pl()[
            "entity_id"
        ]
    assert people["entity_id"].n_unique() == 4 and synced.len() == 4
    expected = (
        people.unique()
        .group_by("arrival_day")
        .agg(
            pl.col("entity_id").is_in(enriched.implode()).sum().alias("enriched"),
            pl.col("entity_id").is_in(synced.implode()).sum().alias("synced"),
        )
        .sort("arrival_day")
    )
    assert (
        funnel.select("arrival_day", "enriched", "synced")
        .cast({"enriched": pl.UInt32, "synced": pl.UInt32})
        .equals(expected.cast({"enriched": pl.UInt32, "synced": pl.UInt32}))
    )
    assert (earlier["synced"], today["synced"]) == (2, 3)

    quality = _mart(settings, "source_file_quality")
    by_name = {row["name"]: row for row in quality.to_dicts()}
    assert set(by_name) == {
        "crm_export.csv",
        "salon.csv",
        "partner.xlsx",
        "form.json",
        "broken.xlsx",
    }
    crm_export = by_name["crm_export.csv"]
    assert (crm_export["rows"], crm_export["rejected"], crm_export["reject_rate"]) == (4, 2, 0.5)
    assert crm_export["reject_reasons"] == {
        "no_identity": 1,
        "empty_row": 1,
    }
    assert by_name["broken.xlsx"]["quarantined"] and by_name["broken.xlsx"]["rows"] == 0
    assert "corrupt or unreadable" in by_name["broken.xlsx"]["quarantine_errors"]
    assert by_name["partner.xlsx"]["duplicate_share"] == 1.0  # Jane, known from two other files
    assert by_name["form.json"]["duplicate_share"] == 0.0

    [run] = _mart(settings, "crm_sync_health").to_dicts()
    assert run["status"] == "succeeded" and run["backend"] == "outbox"
    assert run["sent"] == 4 and run["unchanged"] == 0 and run["rejected"] == 0
    assert run["rate_limit_waits"] is None
    assert _mart(settings, "entity_changes").is_empty()  # one resolution, nothing merged yet


def test_lineage_edges_follow_the_tables_each_model_reads(settings):
    graph = build_definitions(settings).resolve_asset_graph()

    def parents(key: AssetKey) -> set[str]:
        return {k.to_user_string() for k in graph.get(key).parent_keys}

    funnel = AssetKey(["marts", "lead_funnel_daily"])
    assert {"drive_files", "raw_leads", "rejected_rows", "normalized_leads"} <= parents(funnel)
    assert {"lead_entities", "enriched_leads", "crm_contacts"} <= parents(funnel)
    assert parents(AssetKey(["marts", "entity_changes"])) == {"entity_events"}
    assert parents(AssetKey(["marts", "crm_sync_health"])) == {
        "crm_sync_runs",
        "crm_sync_rejections",
    }
    assert parents(AssetKey("crm_sync_runs")) == {"crm_contacts"}
    for name in MARTS:
        node = graph.get(AssetKey(["marts", name]))
        assert node.group_name == "marts"
        assert node.automation_condition is not None  # follows its upstream, as the chain does
        columns = node.metadata["dagster/column_schema"].columns
        assert columns and all(c.description for c in columns)
    checks = {k.name for k in graph.asset_check_keys if k.asset_key == funnel}
    assert {"unique__arrival_day__source", "not_null__arrival_day", "row_count"} <= checks


def test_a_model_can_read_another_model_and_that_is_an_edge(tmp_path, settings):
    folder = tmp_path / "models"
    (folder / "marts").mkdir(parents=True)
    (folder / "marts" / "per_day.sql").write_text(
        "select arrival_day, count(*) as n from leads.normalized_leads group by all"
    )
    (folder / "marts" / "busiest_day.sql").write_text(
        "select * from per_day order by n desc limit 1"
    )
    defs = build_definitions(settings.model_copy(update={"sql_models_dir": folder}))
    node = defs.resolve_asset_graph().get(AssetKey(["marts", "busiest_day"]))
    assert node.parent_keys == {AssetKey(["marts", "per_day"])}


def test_an_unknown_table_stops_the_code_location_from_loading(tmp_path, settings):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "oops.sql").write_text("-- description: typo\nselect *\nfrom leads.golden_lead\n")
    with pytest.raises(ModelError, match=r"oops\.sql, line 3: unknown table leads\.golden_lead"):
        build_definitions(settings.model_copy(update={"sql_models_dir": folder}))


def test_every_warehouse_table_of_the_code_location_is_readable_by_models(settings):
    """A new domain's assets must join WAREHOUSE_ASSET_MODULES, or models cannot read them."""
    defs = build_definitions(settings)
    catalog = set(warehouse_catalog().values())
    stored = {
        key
        for assets_def in defs.resolve_asset_graph().assets_defs
        for key in assets_def.keys
        if key.path[0] != "marts"
        and assets_def.get_io_manager_key_for_asset_key(key) == "io_manager"
    }
    assert stored - catalog == set()


def _fixture_warehouse(path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema leads")
        con.execute(
            "create table leads.entity_events as select * from (values "
            "('merge', 'E1', 'E2', 2, 'match', timestamp '2025-03-01 10:00'), "
            "('merge', 'E1', 'E3', 1, 'match', timestamp '2025-03-01 11:00'), "
            "('split', 'E9', 'E4', 3, 'no match', timestamp '2025-03-01 12:00'), "
            "('split', 'E8', 'E5', 1, 'no match', timestamp '2025-03-02 09:00')"
            ") t(event, entity_id, other_entity_id, records, reason, recorded_at)"
        )


def test_entity_changes_counts_merges_and_splits_per_day(tmp_path, settings):
    _fixture_warehouse(tmp_path / "wh.duckdb")
    project, _ = marts_project(settings)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        built = build_model(con, project, project.model("entity_changes"))
        assert all(t.passed for t in built.tests)
        rows = con.sql("select * from marts.entity_changes order by day").pl().to_dicts()
    assert [(r["day"].isoformat(), r["merges"], r["splits"]) for r in rows] == [
        ("2025-03-01", 2, 1),
        ("2025-03-02", 0, 1),
    ]
    assert (rows[0]["records_merged"], rows[0]["records_split"], rows[0]["entities_touched"]) == (
        3,
        3,
        5,  # E1, E2, E3, E9, E4
    )


def test_crm_sync_health_reports_incomplete_runs_and_rejections_by_category(
    tmp_path, settings, sqlite_store
):
    """A run that stopped halfway (no report) is there from what it wrote to the store."""
    now = utcnow()
    with sqlite_store.begin() as conn:
        conn.execute(
            crm_sync_ledger.insert(),
            [
                {
                    "backend": "hubspot",
                    "entity_id": f"E{i}",
                    "id_value": f"p{i}@x.com",
                    "crm_id": str(i),
                    "properties": "{}",
                    "properties_hash": "h",
                    "synced_at": now,
                    "run_id": "run-halfway",
                }
                for i in range(3)
            ],
        )
        rows = [
            {
                "entity_id": "E7",
                "id_value": "bad@x",
                "category": "INVALID_EMAIL",
                "message": "bad address",
            }
        ] * 2
        rows += [
            {
                "entity_id": "E8",
                "id_value": "dup@x.com",
                "category": "DUPLICATE_EMAIL",
                "message": "twice",
            }
        ]
        record_rejections(conn, "hubspot", "run-halfway", rows)
        audit.record(
            conn,
            actor="crm_sync",
            action="hubspot.merge_contacts",
            subject="2 -> 1",
            run_id="run-halfway",
        )
    report = {
        "run_id": "run-done",
        "at": now + timedelta(minutes=5),
        "backend": "hubspot",
        "mode": "upsert",
        "sent": 10,
        "created": 4,
        "unchanged": 90,
        "considered": 100,
    }
    runs = sync_runs_frame(sqlite_store, [report])
    rejections = rejections_frame(sqlite_store)
    assert runs.select("run_id", "status", "rejected", "merges", "ledger_rows").rows() == [
        ("run-halfway", "incomplete", 3, 1, 3),
        ("run-done", "succeeded", 0, 0, 0),
    ]

    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema leads")
        con.register("runs", runs.to_arrow())
        con.register("rejections", rejections.to_arrow())
        con.execute("create table leads.crm_sync_runs as select * from runs")
        con.execute("create table leads.crm_sync_rejections as select * from rejections")
        project, _ = marts_project(settings)
        built = build_model(con, project, project.model("crm_sync_health"))
        assert all(t.passed for t in built.tests), [t.summary for t in built.tests]
        health = con.sql(
            "select run_id, status, sent, unchanged, rejected, rejected_rate, merges, "
            "rejected_by_category['INVALID_EMAIL'] as invalid, "
            "rejected_by_category['DUPLICATE_EMAIL'] as duplicate from marts.crm_sync_health"
        ).fetchall()
    assert health == [
        ("run-done", "succeeded", 10, 90, 0, 0.0, 0, None, None),
        ("run-halfway", "incomplete", None, None, 3, None, 1, 2, 1),
    ]


def test_marts_follow_their_upstream_on_their_own(tmp_path):
    """Once a table a mart reads has data (any arrival day: days without files are never
    materialized), a new materialization of it makes the automation ask for the mart."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "per_day.sql").write_text(
        "select arrival_day, count(*) as n from leads.normalized_leads group by all"
    )
    project = load_project(models, [("leads", "normalized_leads")])
    days = DailyPartitionsDefinition(start_date="2025-03-01", end_date="2025-03-10")

    @asset(name="normalized_leads", partitions_def=days)
    def leads_stub() -> None: ...

    [mart] = build_mart_assets(project, {"leads.normalized_leads": AssetKey("normalized_leads")})
    key = mart_key(project.model("per_day"))
    defs = Definitions(
        assets=[leads_stub, mart],
        resources={"warehouse": Warehouse(database=str(tmp_path / "wh.duckdb"))},
    )
    with DagsterInstance.ephemeral() as instance:
        tick = evaluate_automation_conditions(defs=defs, instance=instance)
        assert tick.total_requested == 0  # nothing to read yet
        materialize([leads_stub], instance=instance, partition_key="2025-03-04")
        tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.get_num_requested(key) == 1  # though the other days are missing
        tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.total_requested == 0  # handled; nothing new
        materialize([leads_stub], instance=instance, partition_key="2025-03-06")
        tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.get_num_requested(key) == 1


def test_sql_list_and_run_from_the_terminal(tmp_path, settings, monkeypatch, capsys):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _fixture_warehouse(settings.warehouse_path)
    monkeypatch.setenv("LEADS_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)

    assert main(["sql", "list"]) == 0
    out = capsys.readouterr().out
    assert "lead_funnel_daily  -> marts.lead_funnel_daily (not built yet)" in out
    assert "reads: leads.entity_events" in out
    assert "unique__arrival_day__source: (arrival_day, source): no two rows share" in out

    assert main(["sql", "run", "entity_changes"]) == 0
    out = capsys.readouterr().out
    assert "built marts.entity_changes: 2 rows" in out
    assert "ok   unique__day (error): ok" in out
    assert "not recorded in the Dagster UI" in out
    assert main(["sql", "list"]) == 0
    assert "marts.entity_changes (2 rows)" in capsys.readouterr().out

    assert main(["sql", "run", "lead_funnel_daily"]) == 1  # its upstream tables are missing
    err = capsys.readouterr().err
    assert "not in the warehouse yet: leads.drive_files (materialize the asset drive_files" in err

    assert main(["sql", "run", "no_such_model"]) == 2
    assert "no model named 'no_such_model'" in capsys.readouterr().err


def test_a_failing_error_test_fails_sql_run(tmp_path, settings, monkeypatch, capsys):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema leads")
        con.execute(
            "create table leads.entity_events as select 'merge' as event, 'E1' as entity_id, "
            "'E2' as other_entity_id, 1::bigint as records, '' as reason, "
            "null::timestamp as recorded_at"
        )
    monkeypatch.setenv("LEADS_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    code = main(["sql", "run", "entity_changes"])
    out = capsys.readouterr().out
    assert "FAIL not_null__day (error): 1 row(s)" in out
    assert code == 1
