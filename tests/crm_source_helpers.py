"""Helpers for the CRM-as-a-source tests: a seeded fake portal, file leads, one resolution of
both, and scored leads the sync takes."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipeline.crm.as_leads import crm_leads
from pipeline.crm.hubspot import HubSpotCrm
from pipeline.crm.records import apply_read
from pipeline.crm.source import HubSpotSource
from pipeline.dedupe.provenance import address_links, combined, lead_entities_only, with_links
from pipeline.dedupe.runs import PreviousRun, Resolution, resolve
from pipeline.normalize.leads import normalize_leads
from pipeline.schema import RAW_LEADS_SCHEMA, conform

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, 0)  # naive UTC, as the assets use


def file_leads(rows: list[dict], source_file: str = "tradeshow.csv") -> pl.DataFrame:
    """Normalized leads from canonical fields (email, first_name, last_name, phone, company,
    job_title, country...), ids `<file>-<n>`."""
    raw = pl.DataFrame(
        [
            {
                "lead_id": f"{source_file}-{i}",
                "source_file_id": source_file,
                "source_file": source_file,
                "row_number": i + 2,
                "arrived_at": datetime(2026, 10, 1),
                "arrival_day": datetime(2026, 10, 1),
                **row,
            }
            for i, row in enumerate(rows)
        ]
    )
    return normalize_leads(conform(raw, RAW_LEADS_SCHEMA), "US").leads


def client(server, store=None, **kw) -> HubSpotCrm:  # type: ignore[no-untyped-def]
    kw.setdefault("searches_per_second", 100)  # the fake has no search limit to keep
    return HubSpotCrm(
        server.state.access_token, server.url, engine=store, max_backoff_seconds=0.2, **kw
    )


def read_portal(server, previous=None, *, now=NOW, full=False, store=None):  # type: ignore[no-untyped-def]
    """(crm_records after one read, the read)."""
    source = HubSpotSource(client(server, store))
    read = source.read(previous, full=full, now=now, progress=lambda _m: None)
    return apply_read(previous, read, now), read


def resolve_with_crm(
    leads: pl.DataFrame,
    records: pl.DataFrame,
    labels: pl.DataFrame | None = None,
    previous: PreviousRun | None = None,
    full: bool = False,
) -> tuple[Resolution, pl.DataFrame, pl.DataFrame]:
    """(the resolution, all records resolved, the golden records of lead entities)."""
    crm, _ = crm_leads(records)
    rows = combined(leads, crm)
    run = resolve(
        rows,
        previous or PreviousRun(),
        labels=with_links(labels, address_links(rows)),
        full_refresh=full,
    )
    return run, rows, lead_entities_only(run.golden, run.entities, leads)


def scored_from(golden: pl.DataFrame, score: int = 60) -> pl.DataFrame:
    """Golden records with the columns the CRM mapping reads that scoring would add."""
    return golden.with_columns(
        pl.lit(None, pl.String).alias("website"),
        pl.lit(score).alias("lead_score"),
        pl.lit("B").alias("lead_grade"),
        pl.lit(["+20 test"]).alias("score_reasons"),
        pl.lit(None, pl.String).alias("industry"),
        pl.lit(None, pl.String).alias("hq_country"),
        pl.lit(False).alias("is_free_email"),
    )


def entity_of(entities: pl.DataFrame, lead_id: str) -> str:
    return entities.filter(pl.col("lead_id") == lead_id)["entity_id"][0]
