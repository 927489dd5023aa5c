"""Person names: honorifics and suffixes apart, 'Last, First' and full names split, case fixed.

All expressions are vectorized; the only case fix applied is to names that are plainly
mis-cased (all upper, all lower, or starting lower-case), so 'DeAndre' or 'van Dijk' as the
source wrote them are left alone.
"""

from __future__ import annotations

import polars as pl

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


def name_columns(first: pl.Expr, last: pl.Expr, full: pl.Expr) -> list[pl.Expr]:
    """name_prefix, first_name, middle_name, last_name, name_suffix, full_name."""
    first, last, full = _squash(first), _squash(last), _squash(full)
    # 'Doe, Jane' -> 'Jane Doe' (but 'Jane Doe, Jr.' keeps its order: the comma is a suffix's).
    comma = full.str.contains(",") & ~full.str.contains(SUFFIX)
    full = (
        pl.when(comma)
        .then(
            pl.concat_str(
                full.str.extract(r",\s*(.+)$", 1), pl.lit(" "), full.str.extract(r"^([^,]+),", 1)
            )
        )
        .otherwise(full)
    )
    from_full = first.is_null() & last.is_null()
    source = pl.when(from_full).then(full)

    prefix = pl.coalesce(source.str.extract(HONORIFIC, 1), first.str.extract(HONORIFIC, 1))
    source = source.str.replace(HONORIFIC, "")
    first = first.str.replace(HONORIFIC, "")
    suffix = pl.coalesce(source.str.extract(SUFFIX, 1), last.str.extract(SUFFIX, 1))
    source = _squash(source.str.replace(SUFFIX, ""))
    last = _squash(last.str.replace(SUFFIX, ""))

    parts = source.str.extract_groups(FULL_NAME)
    single = pl.when(~source.str.contains(" ")).then(source)
    first = pl.coalesce(first, parts.struct.field("1"), single)
    middle = parts.struct.field("2")
    last = pl.coalesce(last, parts.struct.field("3"))
    first, middle, last = fix_case(first), fix_case(middle), fix_case(last)
    return [
        prefix.str.to_titlecase().alias("name_prefix"),
        first.alias("first_name"),
        middle.alias("middle_name"),
        last.alias("last_name"),
        suffix.alias("name_suffix"),
        pl.when(first.is_not_null() | last.is_not_null())
        .then(pl.concat_str(first, middle, last, separator=" ", ignore_nulls=True))
        .alias("full_name"),
    ]
