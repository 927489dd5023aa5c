"""Dates typed by people and tools -> timestamps, trying unambiguous formats first."""

from __future__ import annotations

import polars as pl

# ISO first (the commonest first, since each format only sees what is still unparsed);
# slashes read as US month/day (the common CRM export), dots as day.month.
DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
)


def _clean(raw: pl.Expr) -> pl.Expr:
    return raw.str.strip_chars().str.replace(r"[+-]\d{2}:?\d{2}$", "")


def datetime_expr(raw: pl.Expr) -> pl.Expr:
    """All formats as one expression (fine for small frames; see `parse_datetimes`)."""
    text = _clean(raw)
    return pl.coalesce(
        *[text.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in DATE_FORMATS]
    )


def parse_datetimes(raw: pl.Series) -> pl.Series:
    """Each format is tried only on the values no earlier format could read, so a column
    that is all ISO costs one pass instead of one per format."""
    text = raw.to_frame("t").select(_clean(pl.col("t"))).to_series()
    out = pl.Series(raw.name, [None] * len(raw), dtype=pl.Datetime("us"))
    pending = text.is_not_null()
    for fmt in DATE_FORMATS:
        if not pending.any():
            break
        idx = pending.arg_true()
        parsed = text.gather(idx).str.strptime(pl.Datetime("us"), fmt, strict=False)
        hit = parsed.is_not_null()
        out = out.scatter(idx.filter(hit), parsed.filter(hit))
        pending = pending.scatter(idx.filter(hit), False)
    return out
