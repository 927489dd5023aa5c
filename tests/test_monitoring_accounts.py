"""The accounts to watch: from the CRM-synced golden leads, merged with the accounts file
(extras, more names, exclusions), owners from the file, the CRM or territories; and a
source's `every` between live fetches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from sqlalchemy import insert

from pipeline.monitoring.accounts import monitored_accounts, query_phrases
from pipeline.monitoring.config import AccountsFile
from pipeline.monitoring.fetch import Keys, fetch_all, last_live_fetch
from pipeline.monitoring.raw import RawArchive
from pipeline.monitoring.sources import FetchContext, FetchWindow
from pipeline.store.tables import crm_contact_changes
from tests.monitoring_helpers import rss, sources_file

LEADS = pl.DataFrame(
    {
        "entity_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
        "company": [
            "Acme Robotics LLC",
            "Acme Robotics",
            "Acme Robotics",
            "Globex Corporation",
            "Self-employed",
            "Not Synced Inc",
        ],
        "domain": [
            "acmerobotics.com",
            "acmerobotics.com",
            "acmerobotics.com",
            "globex.com",
            None,
            "notsynced.com",
        ],
        "country": ["US", "US", "GB", "DE", "US", "US"],
    }
)
CRM = pl.DataFrame(
    {
        "entity_id": ["e1", "e2", "e3", "e4", "e5"],
        "crm_id": ["1", "2", "3", "4", "5"],
        "status": ["synced"] * 5,
    }
)


def test_accounts_from_synced_leads_and_the_accounts_file(sqlite_store):
    config = AccountsFile.model_validate(
        {
            "accounts": [
                {
                    "name": "Apple Inc.",
                    "domain": "apple.com",
                    "aliases": ["Apple"],
                    "owner": "Lead@Our.example",
                },
                {"domain": "globex.com", "aliases": ["Globex Corp"], "context": ["Springfield"]},
            ],
            "exclude": [{"name": "Self-employed"}],
            "owners": {
                "crm_owner_ids": {"77": "crm-owner@our.example"},
                "territories": [
                    {"owner": "us@our.example", "countries": ["US"]},
                    {"owner": "emea@our.example", "countries": ["DE", "NO"]},
                ],
            },
        }
    )
    with sqlite_store.begin() as conn:  # HubSpot said contact 4 (Globex) belongs to owner 77
        conn.execute(
            insert(crm_contact_changes),
            {
                "event_fingerprint": "f1",
                "crm_id": "4",
                "change": "property",  # as pipeline.crm.changes records a propertyChange
                "property": "hubspot_owner_id",
                "value": "77",
                "occurred_at": datetime(2026, 12, 1, tzinfo=UTC),
            },
        )
    accounts, removed = monitored_accounts(LEADS, CRM, config, sqlite_store)
    rows = {r["account_key"]: r for r in accounts.iter_rows(named=True)}
    assert set(rows) == {"acmerobotics.com", "globex.com", "apple.com"}  # not synced: not watched
    acme = rows["acmerobotics.com"]
    assert (acme["name"], acme["aliases"], acme["country"], acme["lead_count"]) == (
        "Acme Robotics",
        [],
        "US",
        3,
    )
    assert (acme["owner"], acme["owner_from"]) == ("us@our.example", "territory")
    globex = rows["globex.com"]
    assert (globex["owner"], globex["owner_from"]) == ("crm-owner@our.example", "crm")
    assert globex["aliases"] == ["Globex Corp"] and globex["context"] == ["Springfield"]
    assert globex["source"] == "crm+config"
    assert (rows["apple.com"]["owner"], rows["apple.com"]["source"]) == (
        "lead@our.example",
        "config",
    )
    assert removed == ["Self-employed (name:self employed)"]
    assert ("acmerobotics.com", "Acme Robotics") in query_phrases(accounts)
    assert ("acmerobotics.com", "acmerobotics.com") in query_phrases(accounts)


def test_a_source_is_fetched_live_at_most_every_interval(sqlite_store, tmp_path):
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "a.rss").write_text(
        rss("A", [{"title": "Acme Robotics news", "link": "https://a.example/1"}])
    )
    sources = sources_file(
        [{"name": "feeds", "type": "folder", "path": str(folder), "every": "6h"}]
    )
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)

    def fetch(at: datetime):
        ctx = FetchContext(
            window=FetchWindow(day=date(2026, 12, 6), live=True, now=at),
            queries=[],
            archive=RawArchive(sqlite_store, tmp_path / "raw", "r", True),
            pause_check=lambda: None,
            progress=lambda _m: None,
        )
        return fetch_all(sources, ctx, Keys(), tmp_path / "q", last_live_fetch(sqlite_store))

    assert fetch(now).reports[0].status == "ok"
    later = last_live_fetch(sqlite_store)["feeds"]
    later = (later if later.tzinfo else later.replace(tzinfo=UTC)) + timedelta(hours=1)
    assert fetch(later).reports[0].status == "skipped"
    assert fetch(later + timedelta(hours=6)).reports[0].status == "ok"
