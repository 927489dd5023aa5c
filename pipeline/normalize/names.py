"""Person names: honorifics and suffixes apart, 'Last, First' and full names split, case fixed.

The common shapes take a vectorized fast path. The complex distinct values (several commas,
several honorifics, a comma with an honorific, regnal numbers like "VIII") go through
`nameparser` instead, once per distinct value: 'Smith, John Q., III' is John Q. Smith III and
'Prof. Dr. Hans Müller' is Hans Müller with the prefix 'Prof. Dr.'.

The only case fix applied is to names that are plainly mis-cased (all upper, all lower, or
starting lower-case), so 'DeAndre' or 'van der Berg' as the source wrote them are left alone;
a fixed surname keeps its particles lower-case ('VAN DER BERG' -> 'van der Berg', as
nameparser capitalizes it).
"""

from __future__ import annotations

import polars as pl
import polars.selectors as cs
from nameparser import HumanName

from pipeline.normalize import ENGINE, empty_to_null, squash_spaces
from pipeline.normalize.distinct import Spec, with_distinct

_HONORIFIC_WORDS = r"(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|mme|mlle|rev|hon)"
HONORIFIC = rf"(?i)^({_HONORIFIC_WORDS}\.?)\s+"
SUFFIX = r"(?i)(?:,\s*|\s+)(jr\.?|sr\.?|ii|iii|iv|phd|ph\.d\.|md|m\.d\.|esq\.?|mba|cpa)$"
PARTICLES = (
    "van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "le", "la", "dos",
    "das", "do", "des", "ten", "ter", "zu",
)  # fmt: skip
# Values the fast path gets wrong: several commas ('Smith, John Q., III'), an honorific with a
# comma ('Müller, Prof. Hans'), several honorifics ('Prof. Dr. Hans'), a regnal number beyond
# the suffixes above ('Henry VIII').
_ROMAN = r"(?:v|vi|vii|viii|ix|x|xi|xii|xiii|xiv|xv|xvi|xvii|xviii|xix|xx)"
COMPLEX_NAME = (
    rf"(?i),.*,|^{_HONORIFIC_WORDS}\.?\s.*,|,\s*{_HONORIFIC_WORDS}\.?\s"
    rf"|^(?:{_HONORIFIC_WORDS}\.?\s+){{2}}|\S\s+{_ROMAN}\.?$"
)
_PARSED = pl.Struct({part: pl.String for part in ("title", "first", "middle", "last", "suffix")})
_PARTICLE_GROUP = "|".join(PARTICLES)
# first, optional middle (lazy, so particles attach to the surname), surname with particles.
FULL_NAME = rf"(?i)^(\S+)(?:\s+(.+?))??\s+((?:(?:{_PARTICLE_GROUP})\s+)*\S+)$"
_MC_FIX = {f"Mc{c}": f"Mc{c.upper()}" for c in "abcdefghijklmnopqrstuvwxyz"}
_PARTICLE_FIX = {f" {p.title()} ": f" {p} " for p in PARTICLES}
_LEADING_PARTICLES = rf"^(?:(?:{_PARTICLE_GROUP})\s+)+\p{{Lu}}"
# A regnal number on its own is upper-case by right (not 'VI' or 'XI': also names).
_REGNAL = r"^(?:II|III|IV|VII|VIII|IX|XII|XIII|XIV|XV)$"


def _squash(expr: pl.Expr) -> pl.Expr:
    cleaned = squash_spaces(expr).str.strip_chars(" ,;\"'")
    return empty_to_null(cleaned)


def fix_case(expr: pl.Expr, surname: bool = False) -> pl.Expr:
    """'mcDONALD' -> 'McDonald', 'JEAN-LUC' -> 'Jean-Luc', 'DeAndre' unchanged; a `surname`'s
    leading particles stay lower-case ('VAN DER BERG' -> 'van der Berg')."""
    mis_cased = (
        (expr == expr.str.to_uppercase()) & ~expr.str.contains(_REGNAL)
        | (expr == expr.str.to_lowercase())
        | (expr.str.contains(r"^\p{Ll}") & ~expr.str.contains(_LEADING_PARTICLES))
    )
    # Only the mis-cased values are fixed; the others are null there, which costs nothing.
    titled = pl.when(mis_cased).then(expr).str.to_titlecase().str.replace_many(_MC_FIX)
    # Twice: matches do not overlap, so 'Van Der' needs a second pass for 'Der'. A space in
    # front lets the fix reach a surname's first word.
    titled = (" " + titled) if surname else titled
    titled = titled.str.replace_many(_PARTICLE_FIX).str.replace_many(_PARTICLE_FIX)
    titled = titled.str.slice(1) if surname else titled
    fixed = titled.str.replace(r"(\p{L})'S\b", "${1}'s")
    return pl.coalesce(fixed, expr)


def _parse_complex(values: pl.Series) -> pl.Series:
    """nameparser's title, first, middle, last and suffix for each non-null value (the
    complex distinct values only: nameparser costs ~0.3 ms a name)."""
    rows: list[dict[str, str | None] | None] = [None] * len(values)
    for i in values.is_not_null().arg_true().to_list():
        name = HumanName(values[i])
        rows[i] = {
            "title": name.title or None,
            "first": name.first or None,
            "middle": name.middle or None,
            "last": name.last or None,
            "suffix": name.suffix or None,
        }
    return pl.Series(values.name, rows, dtype=_PARSED)


def _parsed(value: pl.Expr) -> pl.Expr:
    """nameparser's parts of `value` where it is complex (null elsewhere)."""
    return (
        pl.when(value.str.contains(COMPLEX_NAME))
        .then(value)
        .map_batches(_parse_complex, return_dtype=_PARSED, is_elementwise=True)
    )


def _name_or_parsed(parsed: pl.Expr, fast: pl.Expr) -> pl.Expr:
    """The whole name nameparser found in a first- or last-name cell (complex values), else
    the fast path's."""
    joined = pl.concat_str(
        [parsed.struct.field(f) for f in ("first", "middle", "last")],
        separator=" ",
        ignore_nulls=True,
    )
    return pl.when(parsed.is_not_null()).then(empty_to_null(joined)).otherwise(fast)


def _first_table(raw: pl.Expr) -> list[list[pl.Expr]]:
    """Per distinct first name: present, its honorific, the name without it (case fixed)."""
    sq, np_ = pl.col("_nf_sq"), pl.col("_nf_np")
    return [
        [_squash(raw).alias("_nf_sq")],
        [sq.str.replace(HONORIFIC, "").alias("_nf_name"), _parsed(sq).alias("_nf_np")],
        [
            sq.is_not_null().alias("_nf_present"),
            pl.coalesce(
                np_.struct.field("title"), sq.str.extract(HONORIFIC, 1).str.to_titlecase()
            ).alias("_nf_prefix"),
            fix_case(_name_or_parsed(np_, pl.col("_nf_name"))).alias("_nf_name"),
        ],
    ]


def _last_table(raw: pl.Expr) -> list[list[pl.Expr]]:
    """Per distinct last name: present, its suffix, the name without it (case fixed)."""
    sq, np_ = pl.col("_nl_sq"), pl.col("_nl_np")
    return [
        [_squash(raw).alias("_nl_sq")],
        [_squash(sq.str.replace(SUFFIX, "")).alias("_nl_name"), _parsed(sq).alias("_nl_np")],
        [
            sq.is_not_null().alias("_nl_present"),
            pl.coalesce(np_.struct.field("suffix"), sq.str.extract(SUFFIX, 1)).alias("_nl_suffix"),
            fix_case(_name_or_parsed(np_, pl.col("_nl_name")), surname=True).alias("_nl_name"),
        ],
    ]


def _full_table(raw: pl.Expr) -> list[list[pl.Expr]]:
    """Per distinct full name: honorific, suffix and first / middle / last (case fixed).

    Used only by rows with neither a first nor a last name.
    """
    fu, src, parts = pl.col("_ns_full"), pl.col("_ns_src"), pl.col("_ns_parts")
    np_ = pl.col("_ns_np")

    def part(field: str, fast: str) -> pl.Expr:
        """nameparser's answer for the complex values, the fast path's for the others."""
        return pl.when(np_.is_not_null()).then(np_.struct.field(field)).otherwise(pl.col(fast))

    return [
        [_squash(raw).alias("_ns_full")],
        [
            _parsed(fu).alias("_ns_np"),
            # 'Doe, Jane' -> 'Jane Doe' (but 'Jane Doe, Jr.' keeps its order: the comma is a
            # suffix's).
            pl.when(fu.str.contains(",", literal=True) & ~fu.str.contains(SUFFIX))
            .then(
                pl.concat_str(
                    fu.str.extract(r",\s*(.+)$", 1), pl.lit(" "), fu.str.extract(r"^([^,]+),", 1)
                )
            )
            .otherwise(fu)
            .alias("_ns_full"),
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
            part("title", "_ns_prefix").alias("_ns_prefix"),
            part("suffix", "_ns_suffix").alias("_ns_suffix"),
            fix_case(part("first", "_ns_first")).alias("_ns_first"),
            fix_case(part("middle", "_ns_middle")).alias("_ns_middle"),
            fix_case(part("last", "_ns_last"), surname=True).alias("_ns_last"),
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
