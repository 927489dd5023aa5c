"""Dates typed by people and tools -> timestamps, trying unambiguous formats first."""

from __future__ import annotations

import polars as pl

# ISO first; slashes read as US month/day (the common CRM export), dots as day.month.
DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
)


def datetime_expr(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars().str.replace(r"[+-]\d{2}:?\d{2}$", "")
    return pl.coalesce(
        *[text.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in DATE_FORMATS]
    )
