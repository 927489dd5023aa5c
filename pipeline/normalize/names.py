"""Person names: honorifics and suffixes apart, 'Last, First' and full names split, case fixed.

All expressions are vectorized; the only case fix applied is to names that are plainly
mis-cased (all upper, all lower, or starting lower-case), so 'DeAndre' or 'van Dijk' as the
source wrote them are left alone.
"""

from __future__ import annotations

import polars as pl
import polars.selectors as cs

from pipeline.normalize import ENGINE, empty_to_null, squash_spaces
from pipeline.normalize.distinct import Spec, with_distinct

HONORIFIC = r"(?i)^((?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|mme|mlle|rev|hon)\.?)\s+"
SUFFIX = r"(?i)(?:,\s*|\s+)(jr\.?|sr\.?|ii|iii|iv|phd|ph\.d\.|md|m\.d\.|esq\.?|mba|cpa)$"
PARTICLES = ("van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "le", "la")
_PARTICLE_GROUP = "|".join(PARTICLES)
# first, optional middle (lazy, so particles attach to the surname), surname with particles.
FULL_NAME = rf"(?i)^(\S+)(?:\s+(.+?))??\s+((?:(?:{_PARTICLE_GROUP})\s+)*\S+)$"
_MC_FIX = {f"Mc{c}": f"Mc{c.upper()}" for c in "abcdefghijklmnopqrstuvwxyz"}
_PARTICLE_FIX = {f" {p.title()} ": f" {p} " for p in PARTICLES}


def _squash(expr: pl.Expr) -> pl.Expr:
    cleaned = squash_spaces(expr).str.strip_chars(" ,;\"'")
    return empty_to_null(cleaned)


def fix_case(expr: pl.Expr) -> pl.Expr:
    """'mcDONALD' -> 'McDonald', 'JEAN-LUC' -> 'Jean-Luc', 'DeAndre' unchanged."""
    mis_cased = (
        (expr == expr.str.to_uppercase())
        | (expr == expr.str.to_lowercase())
        | (
            expr.str.contains(r"^\p{Ll}")
            & ~expr.str.contains(rf"^(?:{_PARTICLE_GROUP})\s+\p{{Lu}}")
        )
    )
    # Only the mis-cased values are fixed; the others are null there, which costs nothing.
    fixed = (
        pl.when(mis_cased)
        .then(expr)
        .str.to_titlecase()
        .str.replace_many(_MC_FIX)
        .str.replace_many(_PARTICLE_FIX)
        .str.replace(r"(\p{L})'S\b", "${1}'s")
    )
    return pl.coalesce(fixed, expr)


def _first_table(raw: pl.Expr) -> list[list[pl.Expr]]:
    """Per distinct first name: present, its honorific, the name without it (case fixed)."""
    sq = pl.col("_nf_sq")
    return [
        [_squash(raw).alias("_nf_sq")],
        [sq.str.replace(HONORIFIC, "").alias("_nf_name")],
        [
            sq.is_not_null().alias("_nf_present"),
            sq.str.extract(HONORIFIC, 1).str.to_titlecase().alias("_nf_prefix"),
            fix_case(pl.col("_nf_name")).alias("_nf_name"),
        ],
    ]


def _last_table(raw: pl.Expr) -> list[list[pl.Expr]]:
    """Per distinct last name: present, its suffix, the name without it (case fixed)."""
    sq = pl.col("_nl_sq")
    return [
        [_squash(raw).alias("_nl_sq")],
        [_squash(sq.str.replace(SUFFIX, "")).alias("_nl_name")],
        [
            sq.is_not_null().alias("_nl_present"),
            sq.str.extract(SUFFIX, 1).alias("_nl_suffix"),
            fix_case(pl.col("_nl_name")).alias("_nl_name"),
        ],
    ]


def _full_table(raw: pl.Expr) -> list[list[pl.Expr]]:
    """Per distinct full name: honorific, suffix and first / middle / last (case fixed).

    Used only by rows with neither a first nor a last name.
    """
    fu, src, parts = pl.col("_ns_full"), pl.col("_ns_src"), pl.col("_ns_parts")
    return [
        [_squash(raw).alias("_ns_full")],
        [
            # 'Doe, Jane' -> 'Jane Doe' (but 'Jane Doe, Jr.' keeps its order: the comma is a
            # suffix's).
            pl.when(fu.str.contains(",", literal=True) & ~fu.str.contains(SUFFIX))
            .then(
                pl.concat_str(
                    fu.str.extract(r",\s*(.+)$", 1), pl.lit(" "), fu.str.extract(r"^([^,]+),", 1)
                )
            )
            .otherwise(fu)
            .alias("_ns_full")
        ],
        [
            fu.str.extract(HONORIFIC, 1).str.to_titlecase().alias("_ns_prefix"),
            fu.str.extract(SUFFIX, 1).alias("_ns_suffix"),
            _squash(fu.str.replace(HONORIFIC, "").str.replace(SUFFIX, "")).alias("_ns_src"),
        ],
        [src.str.extract_groups(FULL_NAME).alias("_ns_parts")],
        [
            pl.coalesce(
                parts.struct.field("1"), pl.when(~src.str.contains(" ", literal=True)).then(src)
            ).alias("_ns_first"),
            parts.struct.field("2").alias("_ns_middle"),
            parts.struct.field("3").alias("_ns_last"),
        ],
        [
            pl.col("_ns_prefix"),
            pl.col("_ns_suffix"),
            *[fix_case(pl.col(c)).alias(c) for c in ("_ns_first", "_ns_middle", "_ns_last")],
        ],
    ]


def _has_name(raw: str) -> pl.Expr:
    """False where `_squash` gives null: null, or only whitespace and the stripped marks."""
    return pl.col(raw).str.contains(r"[^\s,;\"']").fill_null(False)


def name_specs(first: str, last: str, full: str) -> list[Spec]:
    """The distinct-value tables `name_columns` needs (see `with_distinct`).

    Every step depends on one input column only, so each runs once per distinct value: first
    and last names repeat a lot. The full name is only split for rows with neither a first
    nor a last name, so only those rows' full names are looked at.
    """
    full_needed = pl.when(~_has_name(first) & ~_has_name(last)).then(pl.col(full))
    return [(first, _first_table), (last, _last_table), (full_needed, _full_table)]


def name_columns(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Adds name_prefix, first_name, middle_name, last_name, name_suffix, full_name from the
    joined `name_specs` tables (and drops them).

    The full name is only split when there is neither a first nor a last name.
    """
    use_full = ~pl.col("_nf_present") & ~pl.col("_nl_present")
    first, middle, last = pl.col("first_name"), pl.col("middle_name"), pl.col("last_name")
    return (
        frame.with_columns(
            pl.coalesce(pl.when(use_full).then("_ns_prefix"), "_nf_prefix").alias("name_prefix"),
            pl.coalesce("_nf_name", pl.when(use_full).then("_ns_first")).alias("first_name"),
            pl.when(use_full).then("_ns_middle").alias("middle_name"),
            pl.coalesce("_nl_name", pl.when(use_full).then("_ns_last")).alias("last_name"),
            pl.coalesce(pl.when(use_full).then("_ns_suffix"), "_nl_suffix").alias("name_suffix"),
        )
        .with_columns(
            pl.when(first.is_not_null() | last.is_not_null())
            .then(pl.concat_str(first, middle, last, separator=" ", ignore_nulls=True))
            .alias("full_name"),
        )
        .drop(cs.starts_with("_nf_", "_nl_", "_ns_"))
    )


def normalize_names(frame: pl.DataFrame, first: str, last: str, full: str) -> pl.DataFrame:
    """Adds name_prefix, first_name, middle_name, last_name, name_suffix, full_name."""
    staged = with_distinct(frame, name_specs(first, last, full))
    return staged.lazy().pipe(name_columns).collect(engine=ENGINE)
