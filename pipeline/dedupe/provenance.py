"""Records from more than one source in one resolution: lead files and the CRM's contacts.

Each record carries its provenance (`file`, `crm`) in the `provenance` column, which the
spec's survivorship can prefer (`prefer_provenance`). What a source knows for certain about
its own records enters as links: a CRM contact's additional addresses (HubSpot's
`hs_additional_emails`) are that person's, so a record whose address is one of them is the
same person (`address_links`: must-links the engine honours and does not learn from). The
golden records downstream stages (enrichment, scoring, the sync) work on are those of
entities that hold a lead from a file (`lead_entities_only`): a CRM contact matching no lead
is not a lead.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

PROVENANCE = "provenance"
FILE, CRM = "file", "crm"
# An address more records than this hold is shared (a team's), not one person's.
MAX_HOLDERS = 3


def with_provenance(frame: pl.DataFrame, value: str) -> pl.DataFrame:
    """`frame` with its provenance column (kept where it has one)."""
    if PROVENANCE in frame.columns:
        return frame.with_columns(pl.col(PROVENANCE).fill_null(value))
    return frame.with_columns(pl.lit(value).alias(PROVENANCE))


def combined(leads: pl.DataFrame, others: pl.DataFrame | None) -> pl.DataFrame:
    """The file leads and another source's records as one table (columns the other lacks are
    null there)."""
    leads = with_provenance(leads, FILE)
    if others is None or others.is_empty():
        return leads
    return pl.concat([leads, others], how="diagonal_relaxed")


def address_links(records: pl.DataFrame, id_col: str = "lead_id") -> pl.DataFrame:
    """left_id, right_id, label (match), learn (false): a CRM record and each record whose
    address is one of the CRM record's additional addresses (not a role address, not one
    shared by more than MAX_HOLDERS records)."""
    schema = {"left_id": pl.String, "right_id": pl.String, "label": pl.String, "learn": pl.Boolean}
    needed = {id_col, "additional_emails", "email_canonical", PROVENANCE}
    if not needed <= set(records.columns):
        return pl.DataFrame(schema=schema)
    claimed = (
        records.filter((pl.col(PROVENANCE) == CRM) & (pl.col("additional_emails").list.len() > 0))
        .select(pl.col(id_col).cast(pl.String).alias("left_id"), "additional_emails")
        .explode("additional_emails")
        .rename({"additional_emails": "email"})
        .drop_nulls("email")
    )
    if claimed.is_empty():
        return pl.DataFrame(schema=schema)
    role = pl.col("is_role_email").fill_null(False) if "is_role_email" in records.columns else False
    holders = records.filter(pl.col("email_canonical").is_not_null() & ~role).select(
        pl.col(id_col).cast(pl.String).alias("right_id"), pl.col("email_canonical").alias("email")
    )
    holders = holders.filter(pl.len().over("email") <= MAX_HOLDERS)
    return (
        claimed.join(holders, on="email", how="inner")
        .filter(pl.col("left_id") != pl.col("right_id"))
        .select(
            "left_id",
            "right_id",
            pl.lit("match").alias("label"),
            pl.lit(False).alias("learn"),
        )
        .unique(["left_id", "right_id"], maintain_order=True)
    )


def with_links(labels: pl.DataFrame | None, links: pl.DataFrame) -> pl.DataFrame | None:
    """A person's labels and a source's links together; a person's verdict on the same pair
    wins (it comes last)."""
    if links.is_empty():
        return labels
    if labels is None or labels.is_empty():
        return links
    return pl.concat([links, labels], how="diagonal_relaxed")


def changed_since(
    records: pl.DataFrame, since: datetime | None, provenance: str = CRM
) -> pl.DataFrame:
    """Records of `provenance` whose values arrived after `since` (all of them when None):
    a source whose records change under the same id (the CRM) says so by `arrived_at`."""
    rows = (
        records.filter(pl.col(PROVENANCE) == provenance)
        if PROVENANCE in records.columns
        else records.clear()
    )
    if since is None:
        return rows
    return rows.filter(pl.col("arrived_at") > since)


def lead_entities_only(
    golden: pl.DataFrame, entities: pl.DataFrame, leads: pl.DataFrame, id_col: str = "lead_id"
) -> pl.DataFrame:
    """The golden records of entities holding at least one record of `leads`."""
    if golden.is_empty():
        return golden
    held = entities.join(leads.select(id_col), on=id_col, how="semi")["entity_id"].unique()
    return golden.filter(pl.col("entity_id").is_in(held.implode()))
