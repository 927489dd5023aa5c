"""One form for the words people abbreviate: job titles ('Sr. Mktg Mgr' and 'Senior
Marketing Manager') and street addresses ('391 Pine St.' and '391 Pine Street',
'Friedrichstr. 165' and 'Friedrichstraße 165', 'C/ Mayor 3' and 'Calle Mayor 3').

Only abbreviations that read one way in their field are listed: 'PM' (product or project
manager) and 'admin' (administrator or administrative) stay as written, since a wrong
expansion makes two different roles alike. Street types map to one short code across the
languages of the lead files (avenue, avenida and 'av.' are one; plaza, place and 'pza.'
another), since which language wrote it says nothing about who the person is. Words are in
folded form (lower-case, accents and punctuation off): the fingerprints fold first.
"""

from __future__ import annotations

import polars as pl

TITLE_WORDS: dict[str, str] = {
    # Officers.
    "ceo": "chief executive officer",
    "cfo": "chief financial officer",
    "cto": "chief technology officer",
    "coo": "chief operating officer",
    "cmo": "chief marketing officer",
    "cio": "chief information officer",
    "ciso": "chief information security officer",
    "cro": "chief revenue officer",
    "cdo": "chief data officer",
    "chro": "chief human resources officer",
    "vp": "vice president",
    "svp": "senior vice president",
    "evp": "executive vice president",
    "avp": "assistant vice president",
    "md": "managing director",
    "gm": "general manager",
    # Grades and roles.
    "sr": "senior",
    "snr": "senior",
    "jr": "junior",
    "jnr": "junior",
    "asst": "assistant",
    "assoc": "associate",
    "mgr": "manager",
    "mngr": "manager",
    "dir": "director",
    "exec": "executive",
    "coord": "coordinator",
    "rep": "representative",
    "engr": "engineer",
    "eng": "engineer",
    "dev": "developer",
    "ae": "account executive",
    "bdm": "business development manager",
    "bdr": "business development representative",
    "sdr": "sales development representative",
    "csm": "customer success manager",
    "swe": "software engineer",
    # Fields.
    "mktg": "marketing",
    "mkt": "marketing",
    "hr": "human resources",
    "ops": "operations",
    "bd": "business development",
    "acct": "account",
    "mgmt": "management",
    "intl": "international",
    "dept": "department",
}

# Street types and the words around them, each spelling -> one code.
_STREET_GROUPS: dict[str, tuple[str, ...]] = {
    "str": ("street", "st", "str", "strasse", "straat"),  # straße: folded to strasse first
    "av": ("avenue", "ave", "av", "avda", "avenida"),
    "rd": ("road", "rd"),
    "blvd": ("boulevard", "blvd", "bd", "bvd"),
    "dr": ("drive", "dr"),
    "ln": ("lane", "ln"),
    "ct": ("court", "ct"),
    "sq": ("square", "sq"),
    "pl": ("place", "pl", "plaza", "pza"),
    "pz": ("piazza", "pzza"),
    "pkwy": ("parkway", "pkwy"),
    "hwy": ("highway", "hwy"),
    "cres": ("crescent", "cres"),
    "ter": ("terrace", "ter", "terr"),
    "calle": ("calle", "c", "cl"),
    "ste": ("suite", "ste"),
    "apt": ("apartment", "apt", "appartamento", "apto"),
    "fl": ("floor", "fl"),
    "n": ("north", "n"),
    "s": ("south", "s"),
    "e": ("east", "e"),
    "w": ("west", "w"),
}
STREET_WORDS: dict[str, str] = {
    spelling: code for code, spellings in _STREET_GROUPS.items() for spelling in spellings
}
# German and Dutch streets end their compound in the type: 'friedrichstr' / 'kerkstraat'.
_COMPOUND_STREET = r"(\p{L}{3,}?)(?:strasse|straat|str)\b"


def _replaced(folded: pl.Expr, words: dict[str, str]) -> pl.Expr:
    return folded.str.split(" ").list.eval(pl.element().replace(words)).list.join(" ")


def title_words(folded: pl.Expr) -> pl.Expr:
    """A folded job title with each listed abbreviation spelled out."""
    return _replaced(folded, TITLE_WORDS)


def street_words(folded: pl.Expr) -> pl.Expr:
    """A folded street address with its street type (and suite, floor, compass words) in
    one code, a compound street name split from its type."""
    return _replaced(folded.str.replace(_COMPOUND_STREET, "$1 str"), STREET_WORDS)
