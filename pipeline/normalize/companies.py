"""Company names: a display form and a matching key without legal suffixes or punctuation."""

from __future__ import annotations

import polars as pl

from pipeline.normalize import empty_to_null, squash_spaces

# Legal forms, as whole tokens after punctuation is removed ("S.A." -> "s a" -> "sa").
LEGAL_SUFFIXES = (
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "plc", "corp", "corporation",
    "co", "company", "gmbh", "ag", "kg", "ug", "ohg", "se", "sa", "sas", "sarl", "sasu",
    "eurl", "spa", "srl", "bv", "nv", "vof", "oy", "ab", "as", "asa", "aps", "pty", "kk",
    "sl", "sau", "lda", "pvt", "pte", "sp z o o", "s a", "s r l", "s p a", "b v", "n v",
    "e k", "ek", "mbh", "holding", "holdings", "group",
)  # fmt: skip
_SUFFIX_RE = r"(?:\s(?:" + "|".join(sorted(LEGAL_SUFFIXES, key=len, reverse=True)) + r"))+$"


def company_columns(raw: pl.Expr) -> list[pl.Expr]:
    """company (display), company_key (for matching)."""
    display = squash_spaces(raw).str.strip_chars(" ,;\"'")
    display = empty_to_null(display)
    key = (
        display.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all("&", " and ", literal=True)
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
        .str.replace(r"^the\s", "")
    )
    key = (" " + key).str.replace(_SUFFIX_RE, "").str.strip_chars()
    return [
        display.alias("company"),
        empty_to_null(key).alias("company_key"),
    ]
