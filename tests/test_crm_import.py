"""The CRM read as a source (`crm_records`, `crm_leads`): HubSpot through the official client
against the fake portal (full reads by the list endpoints, incremental ones by search, past
the search API's 10,000-result ceiling), and HubSpot export files."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, materialize
from hubspot.crm.contacts import PublicMergeInput

from assets.crm_source import crm_leads as crm_leads_asset
from assets.crm_source import crm_records as crm_records_asset
from pipeline.crm.as_leads import crm_leads
from pipeline.crm.export_file import ExportFileError, read_export
from pipeline.crm.hubspot_reads import SEARCH_CEILING
from pipeline.crm.records import CONTACT, apply_read, summary
from resources.crm import OutboxCrmResource
from resources.io_manager import LeadsWarehouseIOManager
from resources.ops_store import OpsStore
from resources.settings import PipelineSettings
from resources.warehouse import Warehouse
from tests.contracts.hubspot_contract import assert_conforms
from tests.crm_source_helpers import NOW, T0, client, read_portal
from tests.fakes.hubspot_server import HubSpotServer, HubSpotState

SAMPLE = (
    Path(__file__).resolve().parent.parent / "data" / "sample_crm" / "hubspot_contacts_export.csv"
)
CONTACTS_LIST = "/crm/v3/objects/contacts"
CONTACTS_SEARCH = "/crm/v3/objects/contacts/search"


@pytest.fixture
def portal():
    """A portal of 250 contacts modified a minute apart, 3 archived ones and 2 companies;
    every request must conform to HubSpot's published contract."""
    state = HubSpotState()
    for i in range(250):
        state.add_contact(
            {
                "email": f"p{i}@acme{i % 5}.com",
                "firstname": f"First{i}",
                "lastname": f"Last{i}",
                "hs_additional_emails": f"old{i}@mail.com;older{i}@mail.com" if i < 2 else "",
                "hubspot_owner_id": "50001" if i % 2 else "",
                "associatedcompanyid": "9000001" if i % 5 == 0 else "",
            },
            created_at=T0,
            updated_at=T0 + timedelta(minutes=i),
        )
    state.add_company({"name": "Acme Zero", "domain": "acme0.com"}, created_at=T0)
    state.add_company({"name": "Acme One", "domain": "acme1.com"}, created_at=T0)
    for i in range(3):
        gone = state.add_contact({"email": f"gone{i}@x.com"}, created_at=T0, updated_at=T0)
        state.archive("contacts", gone.id)
    with HubSpotServer(state) as server:
        yield server
    assert_conforms(state.requests)


def test_a_first_read_lists_every_record_and_never_searches(portal):
    records, read = read_portal(portal)
    assert read.mode == {"contact": "full", "company": "full"}
    assert summary(records) == {
        "contact": {"live": 250, "archived": 3},
        "company": {"live": 2},
    }
    paths = [s.path for s in portal.state.requests]
    assert CONTACTS_SEARCH not in paths
    # 250 live contacts in pages of 100, one page of archived ones, one each for companies.
    assert paths.count(CONTACTS_LIST) == 4 and read.requests == 6
    first = records.filter(pl.col("crm_id") == "1001").row(0, named=True)
    assert first["additional_emails"] == ["old0@mail.com", "older0@mail.com"]
    assert first["associated_company_id"] == "9000001" and first["owner_id"] is None
    assert first["created_at"] == T0.replace(tzinfo=None)
    assert json.loads(first["properties"])["firstname"] == "First0"
    archived = records.filter(pl.col("status") == "archived")
    assert archived["archived_at"].null_count() == 0


def test_an_incremental_read_searches_what_changed_and_records_deletions_and_merges(portal):
    state = portal.state
    records, _ = read_portal(portal)
    later = NOW.replace(tzinfo=T0.tzinfo) - timedelta(days=1)
    state.touch("contacts", "1010", {"firstname": "Renamed"}, at=later)
    state.touch("contacts", "1011", {"lifecyclestage": "customer"}, at=later)
    state.archive("contacts", "1020")
    state.clock = lambda: later
    merged = portal.sdk().crm.contacts.basic_api.merge(
        public_merge_input=PublicMergeInput(primary_object_id="1030", object_id_to_merge="1031")
    )
    state.add_contact({"email": "new@acme0.com"}, created_at=later, updated_at=later)
    before = len(state.requests)
    now = NOW + timedelta(days=2)
    after, read = read_portal(portal, records, now=now)
    assert read.mode == {"contact": "incremental", "company": "incremental"}
    requests = state.requests[before:]
    assert any(s.path == CONTACTS_SEARCH for s in requests)
    # No page of live contacts is listed again: only the archived ones (deletions have no
    # modification date to search by).
    listed = [s for s in requests if s.path == CONTACTS_LIST]
    assert listed and all(s.query.get("archived") == "true" for s in listed)
    by_id = {r["crm_id"]: r for r in after.iter_rows(named=True)}
    assert by_id["1010"]["first_name"] == "Renamed" and by_id["1010"]["changed_at"] == now
    assert by_id["1011"]["lifecycle_stage"] == "customer"
    assert by_id["1011"]["changed_at"] == NOW  # a new stage is no new person
    assert by_id["1020"]["status"] == "archived"
    assert (by_id["1030"]["status"], by_id["1030"]["merged_into"]) == ("merged", merged.id)
    assert (by_id["1031"]["status"], by_id["1031"]["merged_into"]) == ("merged", merged.id)
    assert by_id[merged.id]["status"] == "live"
    # 250 - 1 archived - 2 merged + the merged record + 1 new
    assert summary(after)["contact"] == {"live": 249, "archived": 4, "merged": 2}


def test_a_weekly_full_read_finds_records_purged_without_an_archive_entry(portal):
    records, _ = read_portal(portal)
    with portal.state.lock:
        del portal.state.contacts["1040"]  # purged: not even in the archive
    after, read = read_portal(portal, records, now=NOW + timedelta(days=8))
    assert read.mode["contact"] == "full"
    assert after.filter(pl.col("crm_id") == "1040")["status"][0] == "deleted"


def _seed_changes(state: HubSpotState, n: int, same_instant: bool) -> set[str]:
    ids = set()
    for i in range(n):
        at = T0 if same_instant else T0 + timedelta(seconds=i)
        ids.add(state.add_contact({"email": f"c{i}@x.com"}, created_at=T0, updated_at=at).id)
    return ids


def _read_all_changes(server) -> tuple[set[str], list[dict]]:  # type: ignore[no-untyped-def]
    crm = client(server)
    found = set()
    for page in crm.search_modified_since(CONTACT, T0.replace(tzinfo=None), ["lastmodifieddate"]):
        found.update(str(r["id"]) for r in page)
    searches = [s.body for s in server.state.requests if s.path == CONTACTS_SEARCH]
    return found, searches


def test_more_changes_than_one_search_may_page_through_are_read_in_windows():
    state = HubSpotState()
    ids = _seed_changes(state, SEARCH_CEILING + 450, same_instant=False)
    with HubSpotServer(state) as server:
        found, searches = _read_all_changes(server)
    assert found == ids
    assert all(s.status < 400 for s in state.requests)  # never asked beyond the ceiling
    windows = {s["filterGroups"][0]["filters"][0]["value"] for s in searches}
    assert len(windows) == 2  # one restart, from the last modification read
    assert max(int(s["after"]) for s in searches) < SEARCH_CEILING
    assert_conforms(state.requests)


def test_a_bulk_import_at_one_instant_is_read_by_record_id():
    """10,000+ records modified at one instant: no time window can move past them."""
    state = HubSpotState()
    ids = _seed_changes(state, SEARCH_CEILING + 300, same_instant=True)
    later = state.add_contact({"email": "later@x.com"}, created_at=T0,
                              updated_at=T0 + timedelta(hours=1))  # fmt: skip
    with HubSpotServer(state) as server:
        found, searches = _read_all_changes(server)
    assert found == ids | {later.id}
    assert all(s.status < 400 for s in state.requests)
    by_id = [s for s in searches if s["sorts"][0]["propertyName"] == "hs_object_id"]
    assert by_id and all(
        {f["propertyName"] for f in s["filterGroups"][0]["filters"]}
        == {"lastmodifieddate", "hs_object_id"}
        for s in by_id
    )
    assert_conforms(state.requests)


def test_the_sample_export_reads_as_a_portal():
    read = read_export(SAMPLE, CONTACT)
    records = apply_read(None, read, NOW)
    assert summary(records) == {"contact": {"live": 18, "merged": 2}}
    assert read.rejected == []
    grace = records.filter(pl.col("crm_id") == "70017").row(0, named=True)
    assert grace["merged_ids"] == ["70097", "70098"] and grace["owner_id"] == "Alex Morgan"
    assert records.filter(pl.col("merged_into") == "70017")["crm_id"].sort().to_list() == [
        "70097",
        "70098",
    ]
    hannah = records.filter(pl.col("crm_id") == "70008").row(0, named=True)
    assert hannah["additional_emails"] == ["hannah.schultz@northwind-analytics.com"]


def test_a_new_export_changes_deletes_and_rejects_rows_naming_file_row_and_field(tmp_path):
    first = apply_read(None, read_export(SAMPLE, CONTACT), NOW)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    kept = [r for r in rows if not r.startswith("70016,")]  # deleted in the portal
    kept = [r.replace("+56 2 2345 6789", "+56 2 9999 0000") for r in kept]
    kept = [r.replace("(415) 555-0142", "(415) 555-0199") if r.startswith("70001,") else r
            for r in kept]  # fmt: skip
    kept += [",Nobody,Here,nobody@x.com" + "," * 13, kept[0]]  # no record id; a repeat
    changed = tmp_path / "export_later.csv"
    changed.write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
    read = read_export(changed, CONTACT)
    later = NOW + timedelta(days=1)
    after = apply_read(first, read, later)
    by_id = {r["crm_id"]: r for r in after.iter_rows(named=True)}
    assert by_id["70016"]["status"] == "deleted"
    assert by_id["70001"]["changed_at"] == later and by_id["70002"]["changed_at"] == NOW
    assert read.rejected == [
        {"file": "export_later.csv", "row": 19, "field": "Record ID", "reason": "no record id"},
        {
            "file": "export_later.csv",
            "row": 20,
            "field": "Record ID",
            "reason": "record id 70001 repeats",
        },
    ]


def test_a_file_that_is_no_hubspot_export_is_refused_naming_it(tmp_path):
    plain = tmp_path / "leads.csv"
    plain.write_text("Email,Name\nann@x.com,Ann\n", encoding="utf-8")
    with pytest.raises(ExportFileError, match=r"leads\.csv: no 'Record ID' column"):
        read_export(plain, CONTACT)
    with pytest.raises(ExportFileError, match="no such file"):
        read_export(tmp_path / "missing.csv", CONTACT)


def test_crm_contacts_become_leads_with_provenance_crm(portal):
    records, _ = read_portal(portal)
    leads, rejected = crm_leads(records)
    assert rejected.is_empty()
    assert leads.height == 253  # live and archived: a deleted person is not recreated
    assert set(leads["provenance"]) == {"crm"} and set(leads["crm_status"]) == {
        "live",
        "archived",
    }
    row = leads.filter(pl.col("lead_id") == "crm:1001").row(0, named=True)
    assert row["additional_emails"] == ["old0@mail.com", "older0@mail.com"]
    assert row["company"] == "Acme Zero"  # from the associated company
    assert row["source_file"] == "crm:hubspot" and row["created_at"] == T0.replace(tzinfo=None)
    merged_away = records.with_columns(
        pl.when(pl.col("crm_id") == "1002").then(pl.lit("merged")).otherwise("status")
        .alias("status")
    )  # fmt: skip
    assert "crm:1002" not in crm_leads(merged_away)[0]["lead_id"].to_list()


def _materialize(tmp_path: Path, export: Path):  # type: ignore[no-untyped-def]
    warehouse = str(tmp_path / "wh.duckdb")
    return materialize(
        [crm_records_asset, crm_leads_asset],
        resources={
            "io_manager": LeadsWarehouseIOManager(database=warehouse, schema="leads"),
            "warehouse": Warehouse(database=warehouse),
            "ops_store": OpsStore(database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}"),
            "crm": OutboxCrmResource(import_file=str(export)),
            "settings": PipelineSettings(data_dir=str(tmp_path / "data")),
        },
        raise_on_error=False,
    )


def _materialization(result, key: str):  # type: ignore[no-untyped-def]
    [found] = [
        m
        for m in result.asset_materializations_for_node("crm_records")
        if m.asset_key == AssetKey(key)
    ]
    return found


def test_the_assets_read_an_export_and_a_rerun_changes_nothing(tmp_path):
    result = _materialize(tmp_path, SAMPLE)
    assert result.success
    meta = _materialization(result, "crm_records").metadata
    assert meta["records"].value == {"contact": {"live": 18, "merged": 2}}
    assert meta["changed"].value == 18 and meta["rejected_rows"].value == 0
    assert result.output_for_node("crm_records", "crm_import_rejections").is_empty()
    leads = result.output_for_node("crm_leads")
    assert leads.height == 18
    again = _materialize(tmp_path, SAMPLE)
    assert _materialization(again, "crm_records").metadata["changed"].value == 0
    unchanged = again.output_for_node("crm_leads")
    assert unchanged["arrived_at"].equals(leads["arrived_at"])  # nothing new to resolve
    [check] = again.get_asset_check_evaluations()
    assert check.passed


def test_export_rows_that_cannot_be_read_land_in_the_rejections_table(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "export_broken.csv"
    rows = [*lines[1:], ",Nobody,Here,nobody@x.com" + "," * 13]  # no record id
    broken.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    result = _materialize(tmp_path, broken)
    assert result.success
    rejections = result.output_for_node("crm_records", "crm_import_rejections")
    assert rejections.select("file", "row", "field", "reason").rows() == [
        ("export_broken.csv", 20, "Record ID", "no record id")
    ]
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["rejected_rows"].value == 1
    # The rows that could be read are all there.
    assert _materialization(result, "crm_records").metadata["changed"].value == 18
