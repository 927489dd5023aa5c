"""Dedupe review labels in the operational store: one verdict per pair of leads, the latest
winning, read by every dedupe run."""

from __future__ import annotations

from datetime import UTC

import polars as pl
from sqlalchemy import Engine, select

from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import dedupe_labels

LABELS = ("match", "no_match", "unsure")


def save_labels(
    engine: Engine,
    labels: pl.DataFrame,
    labelled_by: str,
    source: str,
) -> int:
    """Upsert `labels` (left_id, right_id, label[, match_weight]); the ids are stored in
    order (left < right), so a pair labelled either way round is one row. Returns the rows
    written."""
    if labels.is_empty():
        return 0
    bad = labels.filter(~pl.col("label").is_in(LABELS))
    if bad.height:
        raise ValueError(f"label {bad['label'][0]!r} is not one of {', '.join(LABELS)}")
    weight = (
        pl.col("match_weight").cast(pl.Float64)
        if "match_weight" in labels.columns
        else pl.lit(None, pl.Float64)
    )
    rows = labels.select(
        pl.min_horizontal(pl.col("left_id").cast(pl.String), pl.col("right_id").cast(pl.String))
        .alias("left_id"),
        pl.max_horizontal(pl.col("left_id").cast(pl.String), pl.col("right_id").cast(pl.String))
        .alias("right_id"),
        "label",
        weight.alias("match_weight"),
    ).unique(["left_id", "right_id"], keep="last", maintain_order=True)  # fmt: skip
    now = utcnow()
    values = [
        {**row, "labelled_by": labelled_by[:120], "source": source[:32], "labelled_at": now}
        for row in rows.to_dicts()
    ]
    statement = dialect_insert(engine, dedupe_labels)
    statement = statement.on_conflict_do_update(
        index_elements=["left_id", "right_id"],
        set_={
            "label": statement.excluded.label,
            "labelled_by": statement.excluded.labelled_by,
            "source": statement.excluded.source,
            "labelled_at": statement.excluded.labelled_at,
            "match_weight": statement.excluded.match_weight,
        },
    )
    with engine.begin() as conn:
        conn.execute(statement, values)
    return len(values)


def load_labels(engine: Engine) -> pl.DataFrame:
    """Every stored label: left_id, right_id, label, labelled_by, source, labelled_at."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                dedupe_labels.c.left_id,
                dedupe_labels.c.right_id,
                dedupe_labels.c.label,
                dedupe_labels.c.labelled_by,
                dedupe_labels.c.source,
                dedupe_labels.c.labelled_at,
            ).order_by(dedupe_labels.c.labelled_at)
        ).all()
    schema = {
        "left_id": pl.String,
        "right_id": pl.String,
        "label": pl.String,
        "labelled_by": pl.String,
        "source": pl.String,
        "labelled_at": pl.Datetime("us"),
    }
    # SQLite hands back naive datetimes, Postgres aware ones: naive UTC for both.
    data = [
        (*r[:5], r[5].astimezone(UTC).replace(tzinfo=None) if r[5].tzinfo else r[5]) for r in rows
    ]
    return pl.DataFrame(data, schema=schema, orient="row")
