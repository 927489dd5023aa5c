"""Country names, codes and local spellings -> ISO 3166-1 alpha-2.

The spellings come from pycountry: codes, English names and the translations of those names
that it ships as gettext catalogs (iso-codes' ~160 languages: Deutschland, Allemagne,
España, Schweiz, Россия, ...). A handful of everyday spellings no catalog carries are added.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

import polars as pl
import pycountry

# Spellings no catalog carries but lead files do. They, the codes and the English names win
# over any translation that happens to spell the same key.
EXTRA_ALIASES = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "america": "US",
    "united states of america": "US", "uk": "GB", "u k": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB", "great britain": "GB",
    "britain": "GB", "holland": "NL", "the netherlands": "NL", "la france": "FR",
    "russia": "RU", "south korea": "KR", "korea": "KR", "uae": "AE", "czech republic": "CZ",
    "turkey": "TR", "vietnam": "VN", "eire": "IE",
}  # fmt: skip

_CATALOG = "iso3166-1"
_NAME_ATTRIBUTES = ("name", "official_name", "common_name")
_PAIR_SCHEMA = {"spelling": pl.String, "alpha_2": pl.String}


def country_key(raw: pl.Expr) -> pl.Expr:
    """Case, accents, punctuation and spacing folded: 'Côte d’Ivoire' -> 'cote d ivoire'.
    Letters of every script are kept ('Россия' -> 'россия')."""
    return (
        raw.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}]+", " ")
        .str.strip_chars()
    )


def _languages() -> list[str]:
    """Every language pycountry ships a country-name catalog for."""
    catalogs = Path(pycountry.LOCALES_DIR).glob(f"*/LC_MESSAGES/{_CATALOG}.mo")
    return sorted(path.parent.parent.name for path in catalogs)


def _primary_spellings() -> dict[str, str]:
    """Codes, English names and the extra aliases: spelling -> alpha-2."""
    spellings: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", *_NAME_ATTRIBUTES):
            value = getattr(country, attr, None)
            if value:
                spellings.setdefault(value, country.alpha_2)
    spellings.update(EXTRA_ALIASES)
    return spellings


def _translated_spellings() -> tuple[list[str], list[str]]:
    """Every catalog's translations of the English names: (spellings, alpha-2 codes)."""
    names = [
        (value, country.alpha_2)
        for country in pycountry.countries
        for attr in _NAME_ATTRIBUTES
        if (value := getattr(country, attr, None))
    ]
    spellings: list[str] = []
    codes: list[str] = []
    for language in _languages():
        catalog = gettext.translation(_CATALOG, pycountry.LOCALES_DIR, languages=[language])
        for name, code in names:
            translated = catalog.gettext(name)
            if translated != name:
                spellings.append(translated)
                codes.append(code)
    return spellings, codes


def _keyed(spellings: list[str], codes: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"spelling": spellings, "alpha_2": codes}, schema=_PAIR_SCHEMA)
    return frame.select(country_key(pl.col("spelling")).alias("key"), "alpha_2").filter(
        pl.col("key") != ""
    )


@cache
def country_lookup() -> pl.DataFrame:
    """key -> alpha_2, one row per key.

    Codes, English names and the aliases come first. A translated key that two countries
    share (a catalog's slip, or scripts whose vowel signs the folding drops) is left out:
    null beats a wrong country.
    """
    primary = _primary_spellings()
    first = _keyed(list(primary), list(primary.values())).unique("key", keep="first")
    translated = (
        _keyed(*_translated_spellings())
        .group_by("key")
        .agg(pl.col("alpha_2").first(), pl.col("alpha_2").n_unique().alias("_countries"))
        .filter(pl.col("_countries") == 1)
        .join(first, on="key", how="anti")
        .select("key", "alpha_2")
    )
    return pl.concat([first, translated]).sort("key")


def country_expr(raw: pl.Expr) -> pl.Expr:
    """Unknown spellings become null (the raw value stays in `original`)."""
    lookup = country_lookup()
    return country_key(raw).replace_strict(
        lookup["key"], lookup["alpha_2"], default=None, return_dtype=pl.String
    )
