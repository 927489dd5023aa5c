"""The ingest and dedupe graphs materialized in-process through Dagster on real files."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime

import duckdb
import polars as pl
from dagster import DagsterInstance

from assets.partitions import arrival_partition_key
from pipeline.config import Settings
from pipeline.definitions import build_definitions, dedupe_job, ingest_job, lead_source_from
from pipeline.summary import summarize
from tests.conftest import SAMPLE_DRIVE


def _xlsx(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_excel(buffer, worksheet="Leads")
    return buffer.getvalue()


def _drop_files(folder) -> None:
    (folder / "crm_export.csv").write_text(
        "First Name,Last Name,Email,Phone Number,Company Name\n"
        "Jane,Doe,Jane.Doe@Acme.com,(415) 555-0134,Acme Inc\n"
        ",,,,Lonely Corp\n"
        "Bob,Smith,bob@x,123,Beta\n"
        ",,,,\n",
        encoding="utf-8",
    )
    (folder / "salon.csv").write_bytes(
        "Prénom;Nom;Société;E-mail;Téléphone;Pays\n"
        "Jérôme;Müller;Café Ünion SA;jerome@cafe-union.fr;01 42 68 53 00;France\n"
        "JANE;DOE;ACME, INC.;jane.doe@acme.com;+1 415 555 0134;USA\n".encode("cp1252")
    )
    (folder / "partner.xlsx").write_bytes(
        _xlsx(pl.DataFrame({"Full Name": ["Doe, Jane"], "E-mail Address": ["jane.doe@acme.com"]}))
    )
    (folder / "form.json").write_text(
        json.dumps([{"email": "ann@beta.io", "name": "Ann Lee", "utm": {"source": "ads"}}])
    )
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04this is not a workbook")


def _run(settings: Settings, instance: DagsterInstance) -> None:
    """Ingest every arrival day the source's files fall on (today for an empty folder), then
    dedupe. Files copied in before midnight arrive on the day before: taking today's
    partition alone read none of them when a run crossed midnight."""
    defs = build_definitions(settings)
    days = {
        arrival_partition_key(f.arrived_at)
        for f in lead_source_from(settings).list_files(None, None)
    }
    runs = [(ingest_job, {"partition_key": day}) for day in sorted(days)]
    if not days:
        runs.append((ingest_job, {"partition_key": datetime.now(UTC).strftime("%Y-%m-%d")}))
    for job, kwargs in [*runs, (dedupe_job, {})]:
        result = defs.resolve_job_def(job.name).execute_in_process(instance=instance, **kwargs)
        assert result.success
        assert all(
            e.passed for e in result.get_asset_check_evaluations() if e.severity.value == "ERROR"
        )


def _table(settings: Settings, name: str) -> pl.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.sql(f"select * from leads.{name}").pl()


def test_messy_folder_ingests_quarantines_rejects_and_dedupes(settings):
    _drop_files(settings.source_dir)
    with DagsterInstance.ephemeral() as instance:
        _run(settings, instance)
        summary = summarize(settings.warehouse_path)
        assert summary.files_read == 5
        assert [name for name, _ in summary.files_quarantined] == ["broken.xlsx"]
        assert summary.rows_parsed == 4 + 2 + 1 + 1
        assert summary.rows_rejected == {"no_identity": 1, "empty_row": 1}
        assert summary.leads_normalized == 6  # bob@x / 123 is kept, flagged invalid

        rejected = _table(settings, "rejected_rows")
        assert "crm_export.csv row 3: no usable identity" in " ".join(rejected["detail"])
        assert (
            json.loads(rejected.filter(pl.col("row_number") == 3)["original"][0])["Company Name"]
            == "Lonely Corp"
        )
        quarantined = _table(settings, "quarantined_files")
        assert "corrupt or unreadable spreadsheet" in quarantined["error"][0]

        # Jane Doe appears in three files, three ways: one entity.
        golden = _table(settings, "golden_leads")
        assert golden.height == 4
        jane = golden.filter(pl.col("email_canonical") == "jane.doe@acme.com")
        assert jane["record_count"].item() == 3
        assert jane["phone_e164"].item() == "+14155550134"

        # A second run changes nothing and duplicates nothing.
        ids_before = _table(settings, "lead_entities").sort("lead_id")
        _run(settings, instance)
        assert summarize(settings.warehouse_path) == summary
        assert _table(settings, "lead_entities").sort("lead_id").equals(ids_before)


def test_empty_arrival_day_and_dedupe_of_nothing_succeed(settings):
    defs = build_definitions(settings)
    with DagsterInstance.ephemeral() as instance:
        ingest = defs.resolve_job_def(ingest_job.name).execute_in_process(
            instance=instance, partition_key="2025-03-01"
        )
        assert ingest.success
        assert defs.resolve_job_def(dedupe_job.name).execute_in_process(instance=instance).success
    assert _table(settings, "normalized_leads").is_empty()
    assert _table(settings, "golden_leads").is_empty()


def test_new_file_is_matched_incrementally_with_stable_ids(settings):
    _drop_files(settings.source_dir)
    with DagsterInstance.ephemeral() as instance:
        _run(settings, instance)
        before = dict(_table(settings, "lead_entities").iter_rows())
        (settings.source_dir / "later.csv").write_text(
            "Email,Name,Company\njane.doe+news@acme.com,Jane Doe,Acme\nzed@new.io,Zed Zee,New\n"
        )
        _run(settings, instance)
        after = dict(_table(settings, "lead_entities").iter_rows())
        assert {k: after[k] for k in before} == before
        jane_entity = _table(settings, "golden_leads").filter(
            pl.col("email_canonical") == "jane.doe@acme.com"
        )
        assert jane_entity["record_count"].item() == 4
        latest = instance.get_latest_materialization_event(
            __import__("dagster").AssetKey("lead_entities")
        )
        assert latest.asset_materialization.metadata["mode"].value == "incremental"


def test_bundled_sample_drive_end_to_end(tmp_path):
    sys.path.insert(0, str(SAMPLE_DRIVE.parent))
    import make_sample_drive as sample

    settings = Settings(
        data_dir=tmp_path / "data",
        source_dir=SAMPLE_DRIVE,
        default_country="US",
        header_aliases=None,
    )
    with DagsterInstance.ephemeral() as instance:
        _run(settings, instance)
    summary = summarize(settings.warehouse_path)
    assert summary.files_read == 8
    assert [name for name, _ in summary.files_quarantined] == ["corrupt_export.xlsx"]
    assert summary.rows_rejected == {"no_identity": 8, "empty_row": 1}

    rows = _table(settings, "normalized_leads").join(
        _table(settings, "lead_entities"), on="lead_id"
    )
    entity_of = {
        (r["source_file"], r["row_number"] - 1): r["entity_id"] for r in rows.iter_rows(named=True)
    }
    people = {
        person: {entity_of[place] for place in places if place in entity_of}
        for person, places in sample.expected_people().items()
    }
    split = [person for person, entities in people.items() if len(entities) > 1]
    assert len(split) <= 1, f"people split over several entities: {split}"
    for a, b in sample.MUST_STAY_APART:
        assert not people[a] & people[b], f"{a} and {b} were merged"
