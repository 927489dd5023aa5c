"""Golden records: one row per entity, each field chosen by its survivorship rule, and the
id of the source record every golden value came from."""

from __future__ import annotations

import polars as pl

from pipeline.dedupe.spec import MatchSpec

SOURCE_SUFFIX = "__source"


def _order_keys(rule: str, field: str, spec: MatchSpec) -> tuple[list[pl.Expr], list[bool]]:
    """Sort keys (within an entity) whose first row holds the surviving value."""
    surv = spec.survivorship
    recency = [pl.col(surv.recency_column)] if surv.recency_column else []
    if rule == "most_recent":
        return recency, [True] * len(recency)
    if rule == "most_frequent":
        return [pl.col(f"__freq_{field}"), *recency], [True] * (1 + len(recency))
    if rule == "longest":
        return [pl.col(field).cast(pl.String).str.len_chars(), *recency], [True] * (
            1 + len(recency)
        )
    if rule == "source_priority":
        return [pl.col("__source_rank"), *recency], [False] + [True] * len(recency)
    raise ValueError(rule)  # pragma: no cover - validated by the spec


def _source_rank(spec: MatchSpec) -> pl.Expr:
    surv = spec.survivorship
    source = pl.col(surv.source_column or "source_file").cast(pl.String)
    rank: pl.Expr = pl.lit(len(surv.source_priority))
    for i, needle in reversed(list(enumerate(surv.source_priority))):
        rank = pl.when(source.str.contains(needle, literal=True)).then(pl.lit(i)).otherwise(rank)
    return rank


def golden_records(frame: pl.DataFrame, entities: pl.DataFrame, spec: MatchSpec) -> pl.DataFrame:
    """entity_id, record_count, member ids, then each golden field and its `__source` id."""
    id_col = spec.id_column
    fields = [f for f in spec.golden_fields if f in frame.columns]
    data = frame.join(entities, on=id_col, how="inner")
    # Singletons (most entities) need no survivorship: their record is the golden record.
    sizes = data.group_by("entity_id").len("record_count")
    data = data.join(sizes, on="entity_id")
    single = (
        data.filter(pl.col("record_count") == 1)
        .select(
            "entity_id",
            "record_count",
            pl.concat_list(pl.col(id_col)).alias("member_ids"),
            *[c for f in fields for c in (pl.col(f), pl.col(id_col).alias(f"{f}{SOURCE_SUFFIX}"))],
        )
        .with_columns(
            [
                pl.when(pl.col(f).is_not_null())
                .then(pl.col(f"{f}{SOURCE_SUFFIX}"))
                .alias(f"{f}{SOURCE_SUFFIX}")
                for f in fields
            ]
        )
    )
    data = data.filter(pl.col("record_count") > 1).drop("record_count")
    rules = {f: spec.survivorship.rule_for(f) for f in fields}
    helpers = [
        pl.len().over("entity_id", f).alias(f"__freq_{f}")
        for f, r in rules.items()
        if r.rule == "most_frequent"
    ]
    if any(r.rule == "source_priority" for r in rules.values()):
        helpers.append(_source_rank(spec).alias("__source_rank"))
    data = data.with_columns(helpers)
    aggs: list[pl.Expr] = [
        pl.len().alias("record_count"),
        pl.col(id_col).sort().alias("member_ids"),
    ]
    for field in fields:
        rule = rules[field]
        keys, descending = _order_keys(rule.rule, field, spec)
        # Nulls last, preferred rows (e.g. valid emails) first, then the rule's own order.
        lead: list[pl.Expr] = [pl.col(field).is_null()]
        lead_desc = [False]
        if rule.prefer_true:
            lead.append(pl.col(rule.prefer_true).fill_null(False))
            lead_desc.append(True)
        order = [*lead, *keys, pl.col(id_col)]
        desc = [*lead_desc, *descending, False]
        aggs.append(pl.col(field).sort_by(order, descending=desc).first().alias(field))
        aggs.append(
            pl.when(pl.col(field).is_not_null().any())
            .then(pl.col(id_col).sort_by(order, descending=desc).first())
            .alias(f"{field}{SOURCE_SUFFIX}")
        )
    merged = data.group_by("entity_id").agg(aggs)
    return pl.concat([single, merged.cast(single.schema)], how="vertical").sort("entity_id")
