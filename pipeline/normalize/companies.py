"""Company names: a display form and a matching key without legal forms or punctuation.

The legal forms are cleanco's terms (~320, from every jurisdiction it covers: `GmbH & Co.
KG`, `A/S`, `Oyj`, `K.K.`, `S.A. de C.V.`, `sp. z o.o.`, ...), folded exactly as the names
are, plus the project's own list (spellings cleanco lacks, such as `BV` or `SL` without dots,
and words the project has always dropped for matching: `group` (and its abbreviation
`Grp`), `holding`), and the Iberian and Latin American forms cleanco lacks. A form of three
to five letters is also stripped written letter by letter (`S.A.U` as `sau`): both benchmark
generators write such forms, and 1M hard leads held 982 company names that kept one.
"""

from __future__ import annotations

from functools import cache

import polars as pl
from cleanco.clean import get_unique_terms

from pipeline.normalize import empty_to_null, squash_spaces

# Not stripped although cleanco lists them: ordinary words at the end of English names
# ("Acme UK" is the UK arm, not a legal form; "Private" alone is no form either).
NOT_LEGAL_FORMS = frozenset({"uk", "private", "ok"})
# The project's own list, kept beside cleanco's: spellings cleanco lacks (BV, SL, Pty written
# without dots), and words that do not tell two companies apart for matching.
EXTRA_TERMS = (
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "plc", "corp", "corporation",
    "co", "company", "gmbh", "ag", "kg", "ug", "ohg", "se", "sa", "sas", "sarl", "sasu", "eurl",
    "spa", "srl", "bv", "nv", "vof", "oy", "ab", "as", "asa", "aps", "pty", "kk", "sl", "sau",
    "lda", "pvt", "pte", "sp z o o", "e k", "ek", "mbh", "cie", "cia", "holding", "holdings",
    "group", "grp",
)  # fmt: skip
# Forms of Spain, Portugal and Latin America that cleanco lacks, abbreviated or written out:
# a sole-shareholder S.L.U. / S.A.U., a professional S.L.P., an A.I.E., a C.B. (comunidad de
# bienes), Peru's S.A.C., Portugal's S.G.P.S. and Unipessoal Lda, Brazil's EIRELI.
IBERIAN_TERMS = (
    "slu", "sau", "slne", "slp", "sll", "aie", "cb", "c.b.", "sac", "saa", "scom", "sgps", "sapi",
    "sapi de cv", "eireli", "unipessoal", "unipessoal lda", "sociedad anonima",
    "sociedad anonima unipersonal", "sociedad limitada", "sociedad limitada unipersonal",
    "sociedad cooperativa", "sociedade anonima", "sociedade limitada",
)  # fmt: skip
# "GmbH & Co. KG", "GmbH u. Co. KG", "S.A. et Cie", "S.A.B. de C.V.": a legal form may
# follow one of these.
_CONNECTORS = ("and", "und", "u", "et", "y", "e", "en", "de")


def _key_text(text: pl.Expr) -> pl.Expr:
    """Accents off, lower case, '&' as 'and', every other non-alphanumeric run as one space."""
    return (
        text.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all("&", " and ", literal=True)
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def _letter_by_letter(term: str) -> str | None:
    """'sau' -> 's a u': how the key reads a form written with dots ('S.A.U.'), for forms of
    three to five letters (cleanco lists some dotted spellings, not all)."""
    if " " in term or not 3 <= len(term) <= 5 or not term.isalpha():
        return None
    return " ".join(term)


@cache
def legal_terms() -> tuple[str, ...]:
    """Every legal form as the matching key spells it ('GmbH & Co. KG' -> 'gmbh and co kg'),
    and each short one letter by letter ('S.L.U.' -> 's l u')."""
    raw = pl.Series(
        sorted(get_unique_terms()) + list(EXTRA_TERMS) + list(IBERIAN_TERMS), dtype=pl.String
    )
    keyed = raw.to_frame("t").select(_key_text(pl.col("t"))).to_series()
    terms = {t for t in keyed.to_list() if t and t not in NOT_LEGAL_FORMS}
    terms |= {spelt for t in terms if (spelt := _letter_by_letter(t))}
    return tuple(sorted(terms, key=lambda t: (-len(t), t)))


@cache
def _suffix_pattern() -> str:
    """A run of legal forms at the end of a key (each may follow a connector)."""
    terms = "|".join(legal_terms())
    connectors = "|".join(_CONNECTORS)
    return rf"(?:\s(?:(?:{connectors})\s)?(?:{terms}))+$"


def company_columns(raw: pl.Expr) -> list[list[pl.Expr]]:
    """company (display), company_key (for matching); staged for `distinct.with_distinct`.

    A name that is nothing but a legal form ("AG") keeps it as its key.
    """
    display = empty_to_null(squash_spaces(raw).str.strip_chars(" ,;\"'"))
    full = pl.col("_c_full")
    stripped = (" " + full).str.replace(_suffix_pattern(), "").str.strip_chars()
    return [
        [
            display.alias("company"),
            _key_text(display).str.replace(r"^the\s", "").alias("_c_full"),
        ],
        [
            pl.col("company"),
            empty_to_null(pl.when(stripped != "").then(stripped).otherwise(full)).alias(
                "company_key"
            ),
        ],
    ]
