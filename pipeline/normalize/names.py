"""Person names: honorifics and suffixes apart, 'Last, First' and full names split, case fixed.

All expressions are vectorized; the only case fix applied is to names that are plainly
mis-cased (all upper, all lower, or starting lower-case), so 'DeAndre' or 'van Dijk' as the
source wrote them are left alone.
"""

from __future__ import annotations

import polars as pl
import polars.selectors as cs

from pipeline.normalize.distinct import on_distinct

HONORIFIC = r"(?i)^((?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|mme|mlle|rev|hon)\.?)\s+"
SUFFIX = r"(?i)(?:,\s*|\s+)(jr\.?|sr\.?|ii|iii|iv|phd|ph\.d\.|md|m\.d\.|esq\.?|mba|cpa)$"
PARTICLES = ("van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "le", "la")
_PARTICLE_GROUP = "|".join(PARTICLES)
# first, optional middle (lazy, so particles attach to the surname), surname with particles.
FULL_NAME = rf"(?i)^(\S+)(?:\s+(.+?))??\s+((?:(?:{_PARTICLE_GROUP})\s+)*\S+)$"
_MC_FIX = {f"Mc{c}": f"Mc{c.upper()}" for c in "abcdefghijklmnopqrstuvwxyz"}
_PARTICLE_FIX = {f" {p.title()} ": f" {p} " for p in PARTICLES}


def _squash(expr: pl.Expr) -> pl.Expr:
    cleaned = expr.str.replace_all(r"\s+", " ").str.strip_chars(" ,;\"'")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


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
    fixed = (
        expr.str.to_titlecase()
        .str.replace_many(_MC_FIX)
        .str.replace_many(_PARTICLE_FIX)
        .str.replace(r"(\p{L})'S\b", "${1}'s")
    )
    return pl.when(mis_cased).then(fixed).otherwise(expr)


def normalize_names(frame: pl.DataFrame, first: str, last: str, full: str) -> pl.DataFrame:
    """Adds name_prefix, first_name, middle_name, last_name, name_suffix, full_name.

    Staged through temporary columns: each stage is computed once, instead of a nested
    expression that re-evaluates the same sub-expressions at every level.
    """
    f, la, fu = pl.col("_n_first"), pl.col("_n_last"), pl.col("_n_full")
    staged = frame.with_columns(
        _squash(pl.col(first)).alias("_n_first"),
        _squash(pl.col(last)).alias("_n_last"),
        _squash(pl.col(full)).alias("_n_full"),
    ).with_columns(
        # 'Doe, Jane' -> 'Jane Doe' (but 'Jane Doe, Jr.' keeps its order: the comma is a suffix's).
        pl.when(fu.str.contains(",") & ~fu.str.contains(SUFFIX))
        .then(
            pl.concat_str(
                fu.str.extract(r",\s*(.+)$", 1), pl.lit(" "), fu.str.extract(r"^([^,]+),", 1)
            )
        )
        .otherwise(fu)
        .alias("_n_full")
    )
    src = pl.col("_n_src")
    staged = staged.with_columns(
        pl.when(f.is_null() & la.is_null()).then(fu).alias("_n_src")
    ).with_columns(
        pl.coalesce(src.str.extract(HONORIFIC, 1), f.str.extract(HONORIFIC, 1)).alias("_n_prefix"),
        pl.coalesce(src.str.extract(SUFFIX, 1), la.str.extract(SUFFIX, 1)).alias("_n_suffix"),
        _squash(src.str.replace(HONORIFIC, "").str.replace(SUFFIX, "")).alias("_n_src"),
        f.str.replace(HONORIFIC, "").alias("_n_first"),
        _squash(la.str.replace(SUFFIX, "")).alias("_n_last"),
    )
    staged = staged.with_columns(src.str.extract_groups(FULL_NAME).alias("_n_parts"))
    parts = pl.col("_n_parts")
    staged = staged.with_columns(
        pl.coalesce(f, parts.struct.field("1"), pl.when(~src.str.contains(" ")).then(src)).alias(
            "_n_first"
        ),
        parts.struct.field("2").alias("_n_middle"),
        pl.coalesce(la, parts.struct.field("3")).alias("_n_last"),
    )
    for column in ("_n_first", "_n_middle", "_n_last"):  # names repeat: fix each once
        staged = on_distinct(staged, column, lambda c, out=column: [fix_case(c).alias(out)])
    return staged.with_columns(
        pl.col("_n_prefix").str.to_titlecase().alias("name_prefix"),
        f.alias("first_name"),
        pl.col("_n_middle").alias("middle_name"),
        la.alias("last_name"),
        pl.col("_n_suffix").alias("name_suffix"),
        pl.when(f.is_not_null() | la.is_not_null())
        .then(pl.concat_str(f, pl.col("_n_middle"), la, separator=" ", ignore_nulls=True))
        .alias("full_name"),
    ).drop(cs.starts_with("_n_"))
