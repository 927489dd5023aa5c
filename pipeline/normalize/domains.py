"""Company domains: from the website (or a work email), reduced to the registrable domain.

Internationalized domains are kept, in one canonical form: the ASCII (punycode) one that DNS,
CRMs and enrichment APIs use, so `bücher.de` and `xn--bcher-kva.de` are the same company.
"""

from __future__ import annotations

from functools import cache

import idna
import polars as pl
from publicsuffixlist import PublicSuffixList


@cache
def _psl() -> PublicSuffixList:
    # The package ships its snapshot of the public suffix list: no network at run time.
    return PublicSuffixList()


def ascii_host(host: str) -> str | None:
    """'Bücher.de' -> 'xn--bcher-kva.de' (IDNA 2008 with UTS #46 mapping); None when the
    host is no valid internationalized name."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def registrable_domain(host: str) -> str | None:
    """'shop.acme.co.uk' -> 'acme.co.uk', 'shop.bücher.de' -> 'xn--bcher-kva.de'; None when
    the host has no registrable part."""
    ascii_form = ascii_host(host)
    return None if ascii_form is None else _psl().privatesuffix(ascii_form)


def host_expr(raw: pl.Expr) -> pl.Expr:
    """Strip scheme, credentials, `www.`, port, path and query with vectorized regexes.

    Labels may hold letters of any script; the top-level label is letters, or an
    internationalized TLD in its ASCII form (`xn--p1ai`).
    """
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
    return pl.when(host.str.contains(r"^[\p{L}\p{N}.-]+\.(?:\p{L}{2,}|xn--[a-z0-9-]+)$")).then(host)


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
