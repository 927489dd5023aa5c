"""Country names, codes and local spellings -> ISO 3166-1 alpha-2."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import polars as pl
import pycountry

# Spellings pycountry does not carry but lead files do.
EXTRA_ALIASES = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "america": "US",
    "united states of america": "US", "uk": "GB", "u k": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB", "great britain": "GB",
    "britain": "GB", "deutschland": "DE", "allemagne": "DE", "germany": "DE",
    "frankreich": "FR", "la france": "FR", "espana": "ES", "holland": "NL",
    "the netherlands": "NL", "nederland": "NL", "schweiz": "CH", "suisse": "CH",
    "svizzera": "CH", "osterreich": "AT", "italia": "IT", "belgique": "BE", "belgie": "BE",
    "sverige": "SE", "norge": "NO", "danmark": "DK", "suomi": "FI", "polska": "PL",
    "brasil": "BR", "mexique": "MX", "russia": "RU", "south korea": "KR", "korea": "KR",
    "uae": "AE", "czech republic": "CZ", "czechia": "CZ", "turkey": "TR", "vietnam": "VN",
    "ireland": "IE", "eire": "IE",
}  # fmt: skip


def country_key(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]+", " ", folded).strip()


@cache
def country_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                lookup[country_key(value)] = c.alpha_2
    lookup.update(EXTRA_ALIASES)
    return lookup


def country_expr(raw: pl.Expr) -> pl.Expr:
    """Unknown spellings become null (the raw value stays in `original`)."""
    key = (
        raw.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z]+", " ")
        .str.strip_chars()
    )
    return key.replace_strict(country_lookup(), default=None, return_dtype=pl.String)
