"""Dates typed by people and tools -> timestamps.

Unambiguous forms (ISO, month names) are read as they are. Numeric dates with the year last
(`05/09/2026`, `05.09.2026`, `05-09-2026`) need a day/month order, and one file uses one: the
order is decided per source file and column from its unambiguous values (`24/09/2026` can
only be day-first), so `05/09/2026` in the same file reads the same way. When no value
decides, dotted dates are day-first and the others follow the configured country's
convention (CLDR's, through Babel: month-first in the US, day-first in most countries).
Each decision is reported (`ParsedDates.orders`), for the asset's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

import polars as pl
from babel import Locale, UnknownLocaleError

DAY_FIRST: Final = "day-first"
MONTH_FIRST: Final = "month-first"

# Tried in order, each only on the values no earlier format could read (the commonest first).
UNAMBIGUOUS_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)
# day and month (in an order to decide), a separator, a four-digit year, an optional time.
_NUMERIC = r"^(\d{1,2})([./-])(\d{1,2})[./-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
ORDER_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "column": pl.String(),
    "order": pl.String(),
    "decided_by": pl.String(),
    "day_first_values": pl.UInt32(),
    "month_first_values": pl.UInt32(),
    "ambiguous_values": pl.UInt32(),
}


@dataclass(frozen=True)
class ParsedDates:
    values: pl.Series  # Datetime("us"), null where unreadable
    orders: pl.DataFrame  # ORDER_SCHEMA: one row per file with numeric day/month dates


@cache
def country_order(country: str) -> str:
    """The day/month order of numeric dates in `country` (ISO alpha-2), from CLDR: its
    short, else medium, date pattern with the year last. Day-first when none says."""
    territory = country.strip().upper()
    try:
        locale = Locale.parse(f"und_{territory}")
    except (UnknownLocaleError, ValueError):
        return DAY_FIRST
    if locale.territory != territory:  # CLDR's "unknown region" resolves to another one
        return DAY_FIRST
    for width in ("short", "medium"):
        pattern = locale.date_formats[width].pattern
        fields = "y" in pattern and "M" in pattern and "d" in pattern
        if fields and pattern.rindex("y") > max(pattern.rindex("M"), pattern.rindex("d")):
            return MONTH_FIRST if pattern.index("M") < pattern.index("d") else DAY_FIRST
    return DAY_FIRST


# A UTC offset after a time, dropped (not the year of '05-09-2026').
_OFFSET = r"(:\d{2}(?:\.\d+)?)\s*[+-]\d{2}:?\d{2}$"


def _unambiguous(text: pl.Series) -> pl.Series:
    """Each format is tried only on the values no earlier format could read, so a column
    that is all ISO costs one pass instead of one per format (and the offset is looked for
    only in the values the first format could not read)."""
    out = pl.Series(text.name, [None] * len(text), dtype=pl.Datetime("us"))
    pending = text.is_not_null()
    for i, fmt in enumerate(UNAMBIGUOUS_FORMATS):
        if not pending.any():
            break
        idx = pending.arg_true()
        if i == 1:
            text = text.scatter(idx, text.gather(idx).str.replace(_OFFSET, "${1}"))
        parsed = text.gather(idx).str.strptime(pl.Datetime("us"), fmt, strict=False)
        hit = parsed.is_not_null()
        out = out.scatter(idx.filter(hit), parsed.filter(hit))
        pending = pending.scatter(idx.filter(hit), False)
    return out


def _decide(numeric: pl.DataFrame, column: str, country: str) -> pl.DataFrame:
    """One order per file from its values' evidence (ORDER_SCHEMA)."""
    fallback = country_order(country)
    return (
        numeric.group_by("source_file")
        .agg(
            pl.col("day_first").sum().cast(pl.UInt32).alias("day_first_values"),
            pl.col("month_first").sum().cast(pl.UInt32).alias("month_first_values"),
            (~pl.col("day_first") & ~pl.col("month_first"))
            .sum()
            .cast(pl.UInt32)
            .alias("ambiguous_values"),
            (pl.col("sep") == ".").all().alias("_dotted"),
        )
        .with_columns(
            pl.when(pl.col("day_first_values") > pl.col("month_first_values"))
            .then(pl.lit(DAY_FIRST))
            .when(pl.col("month_first_values") > pl.col("day_first_values"))
            .then(pl.lit(MONTH_FIRST))
            .when("_dotted")
            .then(pl.lit(DAY_FIRST))
            .otherwise(pl.lit(fallback))
            .alias("order"),
            pl.when(pl.col("day_first_values") != pl.col("month_first_values"))
            .then(pl.lit("the file's unambiguous values"))
            .when("_dotted")
            .then(pl.lit("dotted dates are day-first"))
            .otherwise(pl.lit(f"the convention of LEADS_DEFAULT_COUNTRY={country}"))
            .alias("decided_by"),
            pl.lit(column).alias("column"),
        )
        .select(ORDER_SCHEMA.keys())
        .sort("source_file", nulls_last=True)
    )


def _numeric(
    text: pl.Series, files: pl.Series, rows: pl.Series, country: str
) -> tuple[pl.Series, pl.DataFrame]:
    """The numeric day/month dates among `rows` of `text`, read in their file's order."""
    a, b, year = pl.col("a"), pl.col("b"), pl.col("year")
    numeric = (
        pl.DataFrame({"row": rows, "text": text.gather(rows), "source_file": files.gather(rows)})
        .with_columns(pl.col("text").str.extract_groups(_NUMERIC).alias("_p"))
        .filter(pl.col("_p").struct.field("1").is_not_null())
        .select(
            "row",
            "source_file",
            pl.col("_p").struct.field("1").cast(pl.Int32).alias("a"),
            pl.col("_p").struct.field("2").alias("sep"),
            pl.col("_p").struct.field("3").cast(pl.Int32).alias("b"),
            pl.col("_p").struct.field("4").alias("year"),
            pl.col("_p").struct.field("5").fill_null("0").cast(pl.Int32).alias("hour"),
            pl.col("_p").struct.field("6").fill_null("0").cast(pl.Int32).alias("minute"),
            pl.col("_p").struct.field("7").fill_null("0").cast(pl.Int32).alias("second"),
        )
        .with_columns(
            ((a > 12) & (b <= 12)).alias("day_first"),
            ((b > 12) & (a <= 12)).alias("month_first"),
        )
    )
    orders = _decide(numeric, text.name, country)
    day_first = pl.col("day_first") | (~pl.col("month_first") & (pl.col("order") == DAY_FIRST))
    iso = pl.format(
        "{}-{}-{} {}:{}:{}",
        year,
        pl.when(day_first).then(b).otherwise(a).cast(pl.String).str.zfill(2),
        pl.when(day_first).then(a).otherwise(b).cast(pl.String).str.zfill(2),
        *[pl.col(c).cast(pl.String).str.zfill(2) for c in ("hour", "minute", "second")],
    )
    read = numeric.join(
        orders.select("source_file", "order"), on="source_file", nulls_equal=True
    ).select(
        "row", iso.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False).alias("at")
    )
    values = pl.Series(text.name, [None] * len(text), dtype=pl.Datetime("us"))
    return values.scatter(read["row"], read["at"]), orders


def parse_dates(
    raw: pl.Series, files: pl.Series | None = None, default_country: str = "US"
) -> ParsedDates:
    """`raw` as timestamps, with numeric day/month dates read in their file's order (`files`:
    each row's source file; None: one file). Unreadable values become null."""
    text = raw.str.strip_chars()
    values = _unambiguous(text)
    rest = (values.is_null() & text.is_not_null()).arg_true()
    if not len(rest):
        return ParsedDates(values, pl.DataFrame(schema=ORDER_SCHEMA))
    if files is None:
        files = pl.repeat(None, len(raw), dtype=pl.String, eager=True)
    numeric, orders = _numeric(text, files.cast(pl.String), rest, default_country)
    return ParsedDates(values.fill_null(numeric), orders)
