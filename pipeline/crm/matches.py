"""Which CRM contacts each entity holds, as they are now.

The dedupe puts CRM contacts (lead ids `crm:<record id>`) in entities beside file leads. A
contact's record id may have moved since it was read: merged in the CRM (`crm_records`'
`merged_into`) or by an approved merge proposal (`crm_merge_steps`, before the next read sees
it). Following both gives each entity its current contacts: live ones (the sync updates the
one when there is exactly one, and holds the entity while two or more wait for a merge
decision) and archived ones (deleted in the CRM: not recreated).
"""

from __future__ import annotations

import polars as pl

from pipeline.crm.as_leads import crm_id_of

ENTITY_CONTACTS_SCHEMA = {
    "entity_id": pl.String,
    "live_ids": pl.List(pl.String),
    "archived_ids": pl.List(pl.String),
    "live": pl.UInt32,
    "archived": pl.UInt32,
    "matched_id": pl.String,  # the live contact, when there is exactly one
    "crm_properties": pl.String,  # its properties as the CRM holds them (JSON), when read
}
_MAP = {"crm_id": pl.String, "current_id": pl.String}


def id_moves(records: pl.DataFrame | None, steps: pl.DataFrame | None) -> pl.DataFrame:
    """crm_id -> current_id for every contact id that moved (merged), chains followed."""
    parts = []
    if records is not None and not records.is_empty():
        parts.append(
            records.filter(
                (pl.col("object_type") == "contact") & (pl.col("status") == "merged")
            ).select("crm_id", pl.col("merged_into").alias("current_id"))
        )
    if steps is not None and not steps.is_empty():
        done = steps.filter(pl.col("result_id").is_not_null())
        result = pl.col("result_id").alias("current_id")
        parts += [
            done.select(pl.col("merged_id").alias("crm_id"), result),
            done.select(pl.col("primary_id").alias("crm_id"), result),
        ]
    if not parts:
        return pl.DataFrame(schema=_MAP)
    moves = (
        pl.concat([p.cast(_MAP) for p in parts])  # type: ignore[arg-type]
        .drop_nulls()
        .filter(pl.col("crm_id") != pl.col("current_id"))
        .unique("crm_id", keep="last", maintain_order=True)
    )
    for _ in range(8):
        hop = moves.rename({"crm_id": "current_id", "current_id": "_next"})
        joined = moves.join(hop, on="current_id", how="left")
        if joined["_next"].null_count() == joined.height:
            break
        moves = joined.select("crm_id", pl.coalesce("_next", "current_id").alias("current_id"))
        moves = moves.filter(pl.col("crm_id") != pl.col("current_id"))
    return moves


def current_ids(ids: pl.Series, moves: pl.DataFrame) -> pl.Series:
    """Each id as it is now."""
    frame = ids.cast(pl.String).alias("crm_id").to_frame()
    joined = frame.join(moves, on="crm_id", how="left", maintain_order="left")
    return joined.select(pl.coalesce("current_id", "crm_id")).to_series().alias("current_id")


def entity_contacts(
    members: pl.DataFrame, records: pl.DataFrame | None, steps: pl.DataFrame | None = None
) -> pl.DataFrame:
    """ENTITY_CONTACTS_SCHEMA for every entity holding a CRM contact. `members`: entity_id and
    lead_id (one row per record), or entity_id and member_ids (a list per entity)."""
    if "member_ids" in members.columns:
        members = members.select("entity_id", pl.col("member_ids").alias("lead_id")).explode(
            "lead_id"
        )
    contacts = members.select(
        "entity_id", crm_id_of(pl.col("lead_id").cast(pl.String)).alias("crm_id")
    ).drop_nulls("crm_id")
    if contacts.is_empty():
        return pl.DataFrame(schema=ENTITY_CONTACTS_SCHEMA)
    moves = id_moves(records, steps)
    contacts = contacts.with_columns(current_ids(contacts["crm_id"], moves))
    status = pl.DataFrame(schema={"current_id": pl.String, "status": pl.String, "props": pl.String})
    if records is not None and not records.is_empty():
        status = records.filter(pl.col("object_type") == "contact").select(
            pl.col("crm_id").alias("current_id"), "status", pl.col("properties").alias("props")
        )
    # An id the read has not seen yet (a merge's new record) is live.
    contacts = contacts.join(status, on="current_id", how="left").with_columns(
        pl.col("status").fill_null("live")
    )
    live = pl.col("status") == "live"
    grouped = contacts.group_by("entity_id", maintain_order=True).agg(
        pl.col("current_id").filter(live).unique(maintain_order=True).alias("live_ids"),
        pl.col("current_id")
        .filter(pl.col("status") == "archived")
        .unique(maintain_order=True)
        .alias("archived_ids"),
        pl.col("props").filter(live).first().alias("crm_properties"),
    )
    return (
        grouped.with_columns(
            pl.col("live_ids").list.len().alias("live"),
            pl.col("archived_ids").list.len().alias("archived"),
            pl.when(pl.col("live_ids").list.len() == 1)
            .then(pl.col("live_ids").list.first())
            .alias("matched_id"),
        )
        .select(list(ENTITY_CONTACTS_SCHEMA))
        .cast(ENTITY_CONTACTS_SCHEMA)
    )  # type: ignore[arg-type]
