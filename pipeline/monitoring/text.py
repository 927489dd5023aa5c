"""Text as the matcher reads it, and item text as people read it.

`match_form` turns any text into tokens separated by exactly two spaces, padded with one
space at each end (" acme  robotics  raises "). A name becomes the same form
(" acme  robotics "), so a plain substring search is a whole-word search, and two names
side by side ("Acme Globex") each keep a space of their own for the Aho-Corasick matcher
(polars' `extract_many`) to find both.
"""

from __future__ import annotations

import html
import re
import unicodedata

import polars as pl

_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def clean_text(value: str | None, limit: int = 2000) -> str:
    """HTML entities decoded, tags removed, whitespace collapsed (feeds and search APIs hand
    back `&amp;`, `&#8217;` and `<p>` alike)."""
    if not value:
        return ""
    text = html.unescape(_TAGS.sub(" ", html.unescape(value)))
    text = _SPACES.sub(" ", text).strip()
    return text[:limit]


def match_form(expr: pl.Expr, *, lowercase: bool = True) -> pl.Expr:
    """The matcher's form of a text column (see the module docstring)."""
    folded = expr.fill_null("").str.normalize("NFKD").str.replace_all(r"\p{M}", "")
    if lowercase:
        folded = folded.str.to_lowercase()
    tokens = (
        folded.str.replace_all("&", " and ", literal=True)
        .str.replace_all(r"[^\p{L}\p{N}]+", "  ")
        .str.strip_chars()
    )
    return pl.lit(" ") + tokens + pl.lit(" ")


def fold(value: str, *, lowercase: bool = True) -> str:
    """`match_form` for one Python string (names and patterns, not items)."""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if lowercase:
        text = text.lower()
    text = text.replace("&", " and ")
    return re.sub(r"[^\w]+|_+", " ", text).strip()


def pattern_of(tokens: str) -> str:
    """' acme  robotics ' from 'acme robotics' (already folded)."""
    return " " + "  ".join(tokens.split()) + " "


def german_variant(value: str) -> str | None:
    """'Müller & Söhne' -> 'Mueller & Soehne' (how German names are often written); None when
    the name has no umlaut or ß."""
    variant = value.translate(_GERMAN).replace("ß", "ss")
    return variant if variant != value else None
