"""The CRM as a source through Dagster and the command line, on the local backends: a HubSpot
export read as the portal (CRM_IMPORT_FILE), files ingested, resolved together, the outbox
planning an update of the contact a lead already has, a merge proposal listed, approved and
merged once by `python -m pipeline crm merges`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import polars as pl
from dagster import DagsterInstance
from sqlalchemy import select

from pipeline.__main__ import main
from pipeline.crm.ledger import load_ledger
from pipeline.definitions import build_definitions
from pipeline.store import open_store
from pipeline.store.tables import crm_merge_proposals, crm_outbox

EXPORT = "\n".join(
    [
        "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Contact owner,"
        "Create Date,Last Modified Date",
        "501,Sam,Stone,sam.stone@gmail.com,+1 206 555 0101,Stone Labs,Alex Morgan,"
        "2024-01-05 10:00,2026-05-01 10:00",
        "502,Maria,Gonzalez,maria.gonzalez@acmefoods.com,+1 305 555 0199,Acme Foods,,"
        "2022-05-01 13:00,2026-10-15 13:00",
        "503,Maria,Gonzalez,mgonzalez@gmail.com,(305) 555-0199,Acme Foods Inc,Sam Lee,"
        "2025-08-14 17:45,2026-08-14 17:45",
        "504,Olga,Ivanova,olga@baltic-amber.lv,,Baltic Amber,,2021-09-09 09:09,2026-06-30 12:00",
    ]
)
LEADS = """Email,First Name,Last Name,Phone,Company
sam@stonelabs.io,Sam,Stone,+1 206 555 0101,Stone Labs
new.person@fresh-start.io,New,Person,,Fresh Start
"""


def _outbox(store) -> list[dict]:  # type: ignore[no-untyped-def]
    with store.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(crm_outbox).order_by(crm_outbox.c.id))
        ]


def _run(defs, instance, *jobs: str) -> None:  # type: ignore[no-untyped-def]
    for job in jobs:
        kwargs = {}
        if job == "ingest_job":
            kwargs["partition_key"] = datetime.now(UTC).strftime("%Y-%m-%d")
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, **kwargs)
        assert result.success, job


def test_an_export_read_as_the_crm_turns_creates_into_updates_and_proposes_merges(
    settings, tmp_path, monkeypatch, capsys
):
    export = tmp_path / "hubspot_export.csv"
    export.write_text(EXPORT, encoding="utf-8")
    (settings.source_dir / "leads.csv").write_text(LEADS, encoding="utf-8")
    settings = settings.model_copy(update={"crm_import_file": export})
    defs = build_definitions(settings)
    store = open_store(settings.store_url)
    chain = ("ingest_job", "crm_import_job", "dedupe_job", "enrich_job", "crm_job")
    with DagsterInstance.ephemeral() as instance:
        _run(defs, instance, *chain)
        planned = [(o["operation"], o["object_key"]) for o in _outbox(store)
                   if o["object_type"] == "contact"]  # fmt: skip
        # Sam is contact 501 under his personal address: updated by id, not created.
        assert ("update", "sam.stone@gmail.com") in planned
        assert ("upsert", "new.person@fresh-start.io") in planned
        assert not [k for _, k in planned if "gonzalez" in k or "olga" in k]
        ledger = load_ledger(store, "outbox")
        assert ledger.filter(pl.col("id_value") == "sam.stone@gmail.com")["crm_id"][0] == "501"
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            proposals = con.sql("select * from leads.crm_merge_proposals").pl()
            golden = con.sql("select * from leads.golden_leads").pl()
        assert golden.height == 2  # the leads' entities only: CRM-only people are no leads
        assert proposals.select("status", "survivor_id", "member_ids").rows() == [
            ("pending", "502", ["502", "503"])
        ]
        [pid] = proposals["id"].to_list()

        monkeypatch.setenv("LEADS_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("CRM_BACKEND", "outbox")
        capsys.readouterr()
        assert main(["crm", "merges"]) == 0
        listed = capsys.readouterr().out
        assert pid in listed and "502" in listed and "503" in listed
        assert "why 502 ~ 503" in listed and "keep (survivor)" in listed
        assert main(["crm", "merges", "deny", "M0000000000"]) == 2
        assert "no merge proposal M0000000000" in capsys.readouterr().err
        assert main(["crm", "merges", "approve", pid, "--by", "ann@sales"]) == 0
        assert "1 proposal(s) merged" in capsys.readouterr().out
        merges = [o for o in _outbox(store) if o["operation"] == "merge"]
        assert [json.loads(m["payload"]) for m in merges] == [{"merged": "503", "primary": "502"}]
        with store.connect() as conn:
            status = conn.execute(
                select(crm_merge_proposals.c.status).where(crm_merge_proposals.c.id == pid)
            ).scalar()
        assert status == "merged"

        # The next runs (the export still lists both) neither propose nor merge them again.
        _run(defs, instance, "crm_import_job", "dedupe_job", "crm_job")
        assert len([o for o in _outbox(store) if o["operation"] == "merge"]) == 1
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            again = con.sql("select id, status from leads.crm_merge_proposals").pl()
        assert again.rows() == [(pid, "merged")]
        assert main(["crm", "merges"]) == 0
        assert "no merge proposal waits" in capsys.readouterr().out
