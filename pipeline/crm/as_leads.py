"""CRM contacts as leads (`crm_leads`): the same normalizers as the files' leads, so a contact
and a lead are compared on equal terms, with provenance `crm`.

Each live or archived contact becomes one row, id `crm:<record id>`. Archived contacts stay
(an entity holding one is a person deleted in the CRM, whom the sync does not recreate);
merged and deleted ones do not (their survivor, if any, holds their values and addresses).
The company a contact names, else its associated company's name; its website, else that
company's domain. Additional emails (HubSpot's `hs_additional_emails`) go where a file's
second email column goes (`additional_emails`). `arrived_at` is when the values the dedupe
reads last changed, so a resolution knows which contacts are new to it.
"""

from __future__ import annotations

import json

import polars as pl

from pipeline.crm.records import COMPANY, CONTACT
from pipeline.normalize.leads import normalize_leads
from pipeline.schema import NORMALIZED_SCHEMA, RAW_LEADS_SCHEMA, conform

PROVENANCE = "crm"
ID_PREFIX = "crm:"
CRM_LEADS_SCHEMA: dict[str, pl.DataType] = {
    **NORMALIZED_SCHEMA,
    "provenance": pl.String(),
    "crm_id": pl.String(),
    "crm_status": pl.String(),
}


def lead_id(crm_id: pl.Expr) -> pl.Expr:
    return pl.lit(ID_PREFIX) + crm_id


def crm_id_of(lead_ids: pl.Expr) -> pl.Expr:
    """The record id of a `crm:` lead id (null for other leads)."""
    return (
        pl.when(lead_ids.str.starts_with(ID_PREFIX))
        .then(lead_ids.str.strip_prefix(ID_PREFIX))
        .otherwise(None)
    )


def _raw(records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(raw lead rows in RAW_LEADS_SCHEMA, lead_id -> created_at, crm_id, status)."""
    contacts = records.filter(
        (pl.col("object_type") == CONTACT) & pl.col("status").is_in(["live", "archived"])
    )
    companies = records.filter(
        (pl.col("object_type") == COMPANY) & (pl.col("status") == "live")
    ).select(
        pl.col("crm_id").alias("associated_company_id"),
        pl.col("company").alias("_company_name"),
        pl.coalesce("domain", "website").alias("_company_web"),
        pl.col("changed_at").alias("_company_changed"),
    )
    joined = contacts.join(companies, on="associated_company_id", how="left")
    arrived = pl.max_horizontal("changed_at", "_company_changed")
    alternates = (
        pl.when(pl.col("additional_emails").list.len() > 0)
        .then(pl.struct(pl.col("additional_emails").alias("email")).struct.json_encode())
        .otherwise(None)
    )
    raw = joined.select(
        lead_id(pl.col("crm_id")).alias("lead_id"),
        pl.col("source").alias("source_file_id"),
        (pl.lit("crm:") + pl.col("source")).alias("source_file"),
        pl.lit(None, pl.String).alias("source_sha256"),
        pl.lit("contacts").alias("sheet"),
        pl.lit(None, pl.Int64).alias("row_number"),
        arrived.alias("arrived_at"),
        arrived.dt.truncate("1d").alias("arrival_day"),
        "email",
        "first_name",
        "last_name",
        pl.lit(None, pl.String).alias("full_name"),
        pl.coalesce("company", "_company_name").alias("company"),
        pl.coalesce("website", "_company_web").alias("website"),
        pl.col("phone"),
        pl.col("mobile_phone"),
        "job_title",
        "country",
        "city",
        pl.lit(None, pl.String).alias("created_at"),  # typed below: no day/month guessing
        alternates.alias("alternate_values"),
        pl.col("properties").alias("original"),
    )
    extra = joined.select(
        lead_id(pl.col("crm_id")).alias("lead_id"),
        pl.col("created_at").alias("_created_at"),
        "crm_id",
        pl.col("status").alias("crm_status"),
    )
    return conform(raw, RAW_LEADS_SCHEMA), extra


def crm_leads(
    records: pl.DataFrame, default_country: str = "US"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(crm_leads, the contacts that cannot be leads: no email, phone or name; with why)."""
    raw, extra = _raw(records)
    result = normalize_leads(raw, default_country)
    leads = (
        result.leads.join(extra, on="lead_id", how="left")
        .with_columns(
            pl.col("_created_at").alias("created_at"),
            pl.lit(PROVENANCE).alias("provenance"),
        )
        .drop("_created_at")
    )
    return conform(leads, CRM_LEADS_SCHEMA), result.rejected


def empty_crm_leads() -> pl.DataFrame:
    return pl.DataFrame(schema=CRM_LEADS_SCHEMA)


def properties_of(records: pl.DataFrame) -> dict[str, dict]:
    """crm_id -> the properties the CRM returned (for a few records)."""
    return {r: json.loads(p or "{}") for r, p in records.select("crm_id", "properties").rows()}
