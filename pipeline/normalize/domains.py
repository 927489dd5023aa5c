"""Company domains: from the website (or a work email), reduced to the registrable domain."""

from __future__ import annotations

from functools import cache

import polars as pl
from publicsuffixlist import PublicSuffixList


@cache
def _psl() -> PublicSuffixList:
    # The package ships its snapshot of the public suffix list: no network at run time.
    return PublicSuffixList()


def registrable_domain(host: str) -> str | None:
    """'shop.acme.co.uk' -> 'acme.co.uk'; None when the host has no registrable part."""
    return _psl().privatesuffix(host)


def host_expr(raw: pl.Expr) -> pl.Expr:
    """Strip scheme, credentials, `www.`, port, path and query with vectorized regexes."""
    host = (
        raw.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.-]*://", "")
        .str.replace(r"^[^/@]*@", "")
        .str.replace(r"[/?#].*$", "")
        .str.replace(r":\d+$", "")
        .str.strip_chars(".")
        .str.replace(r"^www\d?\.", "")
    )
    return pl.when(host.str.contains(r"^[a-z0-9.-]+\.[a-z]{2,}$")).then(host)


def registrable_domains(hosts: pl.Series) -> pl.Series:
    """Map each distinct host once through the public suffix list."""
    distinct = hosts.drop_nulls().unique()
    lookup = pl.DataFrame(
        {
            "host": distinct,
            "domain": pl.Series([registrable_domain(h) for h in distinct], dtype=pl.String),
        }
    )
    return (
        hosts.to_frame("host")
        .join(lookup, on="host", how="left", maintain_order="left")
        .get_column("domain")
    )
