"""The ingest and dedupe graphs materialized in-process through Dagster on real files."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

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


def test_one_bad_file_never_costs_the_day(settings, monkeypatch):
    """A classic-Mac CSV (CR only) used to fail the whole day from the delimiter sniffer;
    now it loads, and a fault injected into the reader for one file, a zip bomb and a
    corrupt workbook each quarantine only themselves: the run succeeds and a check warns."""
    import csv
    import gzip
    import zipfile

    import pipeline.parsing

    folder = settings.source_dir
    (folder / "classic_mac.csv").write_bytes(b"Email,Name\rmac@apple.example,Mac Ann\r")
    (folder / "good.csv").write_text("Email,Name\ngood@acme.com,Good Guy\n")
    (folder / "cursed.csv").write_text("Email,Name\ncursed@acme.com,CURSED\n")
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04this is not a workbook")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.csv", "Email,Name\ninner@zip.io,Zip Zed\n")
        archive.writestr("bomb.csv", b"\x00" * 3_000_000)
    (folder / "export.zip").write_bytes(buffer.getvalue())
    (folder / "leads.csv.gz").write_bytes(gzip.compress(b"Email,Name\ngz@acme.com,Gee Zed\n"))

    real_sniff = pipeline.parsing.sniff_delimiter

    def faulty_sniff(text: str) -> str:
        if "CURSED" in text:
            raise csv.Error("new-line character seen in unquoted field")
        return real_sniff(text)

    monkeypatch.setattr(pipeline.parsing, "sniff_delimiter", faulty_sniff)
    limited = settings.model_copy(update={"max_uncompressed_bytes": 1_000_000})
    with DagsterInstance.ephemeral() as instance:
        defs = build_definitions(limited)
        day = arrival_partition_key(datetime.now(UTC).replace(tzinfo=None))
        result = defs.resolve_job_def(ingest_job.name).execute_in_process(
            instance=instance, partition_key=day
        )
        assert result.success
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert not checks["no_files_quarantined"].passed
        assert checks["no_files_quarantined"].severity.value == "WARN"
    leads = _table(settings, "normalized_leads")
    assert sorted(leads["email"].to_list()) == [
        "good@acme.com",
        "gz@acme.com",
        "inner@zip.io",
        "mac@apple.example",
    ]
    quarantined = _table(settings, "quarantined_files").sort("name")
    assert quarantined["name"].to_list() == ["broken.xlsx", "cursed.csv", "export.zip!bomb.csv"]
    cursed = quarantined.row(1, named=True)
    assert cursed["error_type"] == "Error"
    assert "new-line character seen in unquoted field" in cursed["error"]
    assert "faulty_sniff" in cursed["error_where"]
    assert "zip bomb" in quarantined["error"][2]
    assert all(Path(p).exists() for p in quarantined["quarantine_path"])
