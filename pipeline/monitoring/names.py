"""What to look for in news, per account: names, aliases, subsidiaries, domains, and how
much proof a name needs.

A name is matched on its own when it is distinctive ("Initech", "Acme Robotics" is not: every
token of it is an ordinary word, so it must be written with capitals). A name that is one
common word or very short ("Apple", "Kestrel", "ICE") is matched only when it is written
with a capital AND something else says the text means the company: a company cue beside it
("Apple Inc", "Apple's CEO", "shares of Apple", "Apple announced"), its domain, a link to its
site, one of the account's context words ("iPhone"), or a source that only carries that
company's news. An account's `exclude` phrases ("apple pie") void name-only matches.

Common words come from wordfreq's frequency lists (Zipf scale, several languages), not a
hand-typed list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import polars as pl

from pipeline.monitoring.config import Matching
from pipeline.monitoring.text import fold, german_variant, pattern_of
from pipeline.normalize.companies import EXTRA_TERMS, legal_terms

# Words that make a bare common-word name the company when they follow it...
AFTER_CUES = (
    *EXTRA_TERMS,
    *(f"s {w}" for w in ("ceo", "chief", "founder", "shares", "stock", "board", "revenue",
                         "sales", "profit", "new", "latest", "employees", "customers",
                         "headquarters", "acquisition", "spokesperson")),
    "ceo", "cfo", "cto", "coo", "founder", "cofounder", "chief", "president", "shares",
    "stock", "spokesperson", "spokesman", "spokeswoman", "announced", "announces", "said",
    "says", "reported", "reports", "unveiled", "unveils", "launched", "launches", "acquired",
    "acquires", "raised", "raises", "hires", "hired", "appoints", "appointed", "names",
    "named", "files", "filed", "sued", "sues", "partners", "signs", "signed", "agreed",
    "agrees", "posted", "posts", "cuts", "lays off", "laid off", "beat", "beats", "missed",
    "misses", "plans", "expands", "opens", "introduces", "releases", "released", "recalls",
    "settles", "settled", "faces", "fined", "confirmed", "confirms", "employees", "customers",
    "investors", "headquarters", "inc", "earnings", "quarterly", "layoffs", "merger",
)  # fmt: skip
# ...or precede it.
BEFORE_CUES = (
    "shares of", "ceo of", "cfo of", "founder of", "chief executive of", "stake in",
    "investment in", "acquisition of", "acquired by", "invested in", "partnership with",
    "partners with", "deal with", "agreement with", "lawsuit against", "rival",
    "according to", "employees at", "engineers at", "analysts at", "spokesperson for",
    "merger with", "suit against", "customers of",
)  # fmt: skip

TIER_PLAIN, TIER_CAPITALIZED, TIER_CONTEXT = "plain", "capitalized", "context"


@cache
def _zipf(word: str, language: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, language)


def is_common(token: str, matching: Matching) -> bool:
    return any(_zipf(token, lang) >= matching.common_word_zipf for lang in matching.languages)


def tier_of(folded: str, matching: Matching) -> str:
    """plain | capitalized | context: the proof a name needs (see the module docstring)."""
    tokens = folded.split()
    letters = sum(len(t) for t in tokens)
    if letters <= matching.short_name_length:
        return TIER_CONTEXT
    common = all(is_common(t, matching) for t in tokens)
    if not common:
        return TIER_PLAIN
    return TIER_CONTEXT if len(tokens) == 1 else TIER_CAPITALIZED


def cased_forms(name: str) -> set[str]:
    """The capitalized ways a name may be written: as given, Title Case, ALL CAPS (folded,
    case kept)."""
    folded = fold(name, lowercase=False)
    words = folded.split()
    forms = {
        " ".join(words),
        " ".join(w[:1].upper() + w[1:] for w in words),
        " ".join(w.upper() for w in words),
    }
    # A name written in lower case ("initech") has no capitalized form of its own to insist on.
    return {pattern_of(f) for f in forms if f[:1].isupper()}


@dataclass(frozen=True)
class AccountIndex:
    """Patterns for the matcher: `lower` are searched in the lower-cased text, `cased` in
    the case-kept text (the capitals a common-word name must have)."""

    lower: pl.DataFrame  # pattern, account_key, kind, label, tier, length
    cased: pl.DataFrame  # pattern, account_key, label
    accounts: int

    @property
    def ambiguous(self) -> pl.DataFrame:
        return (
            self.lower.filter(
                pl.col("kind").is_in(["name", "alias", "subsidiary"])
                & (pl.col("tier") != TIER_PLAIN)
            )
            .select("account_key", "label", "tier")
            .unique()
        )


def _names_of(row: dict) -> list[tuple[str, str, str]]:
    """(kind, text, label) of every name an account may be written as."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()

    def add(kind: str, text: str | None, label: str) -> None:
        if not text:
            return
        for variant in (text, german_variant(text)):
            if variant and fold(variant) and fold(variant) not in seen:
                seen.add(fold(variant))
                out.append((kind, variant, label))

    add("name", row["name"], row["name"])
    for alias in row.get("aliases") or []:
        add("alias", alias, alias)
    for sub in json.loads(row.get("subsidiaries") or "[]"):
        label = f"{sub['name']} (part of {row['name']})"
        add("subsidiary", sub["name"], label)
        for alias in sub.get("aliases") or []:
            add("subsidiary", alias, f"{alias} (part of {row['name']})")
    return out


def build_index(accounts: pl.DataFrame, matching: Matching) -> AccountIndex:
    """One pass over the accounts (thousands, not the items): every pattern with its account."""
    lower: list[dict] = []
    cased: list[dict] = []
    for row in accounts.iter_rows(named=True):
        key = row["account_key"]
        needs_context = False
        for kind, text, label in _names_of(row):
            folded = _strip_legal(fold(text))
            if not folded:
                continue
            tier = tier_of(folded, matching)
            lower.append(_row(pattern_of(folded), key, kind, label, tier))
            if tier != TIER_PLAIN:
                # The case-kept forms: of the name as written, without its legal suffix.
                for form in cased_forms(strip_legal_cased(text)):
                    cased.append({"pattern": form, "account_key": key, "label": label})
            if tier == TIER_CONTEXT:
                needs_context = True
                for cue in AFTER_CUES:
                    lower.append(_row(pattern_of(f"{folded} {cue}"), key, "cue", cue, tier))
                for cue in BEFORE_CUES:
                    lower.append(_row(pattern_of(f"{cue} {folded}"), key, "cue", cue, tier))
        domains = [row.get("domain")] + [
            s.get("domain") for s in json.loads(row.get("subsidiaries") or "[]")
        ]
        for domain in filter(None, domains):
            lower.append(_row(pattern_of(fold(domain)), key, "domain", domain, TIER_PLAIN))
        if needs_context:
            for word in row.get("context") or []:
                if fold(word):
                    lower.append(_row(pattern_of(fold(word)), key, "context", word, TIER_PLAIN))
        for phrase in row.get("exclude") or []:
            if fold(phrase):
                lower.append(_row(pattern_of(fold(phrase)), key, "exclude", phrase, TIER_PLAIN))
    schema = {
        "pattern": pl.String,
        "account_key": pl.String,
        "kind": pl.String,
        "label": pl.String,
        "tier": pl.String,
        "length": pl.Int32,
    }
    lower_frame = pl.DataFrame(lower, schema=schema).unique(["pattern", "account_key", "kind"])
    cased_frame = pl.DataFrame(
        cased, schema={"pattern": pl.String, "account_key": pl.String, "label": pl.String}
    ).unique(["pattern", "account_key"])
    return AccountIndex(lower_frame, cased_frame, accounts.height)


def _row(pattern: str, key: str, kind: str, label: str, tier: str) -> dict:
    return {
        "pattern": pattern,
        "account_key": key,
        "kind": kind,
        "label": label,
        "tier": tier,
        "length": len(pattern),
    }


# Single-word legal forms, from the normalizer's list (cleanco's terms and the project's).
_LEGAL = {s for s in legal_terms() if " " not in s}


def _strip_legal(folded: str) -> str:
    """'acme robotics llc' -> 'acme robotics' (a name is never only its legal form)."""
    tokens = folded.split()
    while len(tokens) > 1 and tokens[-1] in _LEGAL:
        tokens.pop()
    if len(tokens) > 1 and tokens[0] == "the":
        tokens.pop(0)
    return " ".join(tokens)


def strip_legal_cased(name: str) -> str:
    tokens = fold(name, lowercase=False).split()
    while len(tokens) > 1 and tokens[-1].lower() in _LEGAL:
        tokens.pop()
    return " ".join(tokens)
