"""What a first reply may say: checked on every message, the model's and the template's.

- length: a subject of at most `subject_max_chars` on one line; a body of `min_words` to
  `max_words` words;
- language: the configured one (py3langid, for bodies long enough to tell);
- links and addresses: only those the facts hold (our website, the booking link, the
  prospect's own site) and `allowed_links`;
- prices: none, unless that very amount is a fact;
- no invented facts: every number, and every name or company (a capitalised word inside a
  sentence, or one at a sentence's start that is not a common English word), must occur in
  the facts (or `allowed_terms`, day and month names).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from pipeline.agent.config import Message

URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"']+", re.IGNORECASE)
BARE_DOMAIN = re.compile(
    r"(?<![@\w.-])((?:[a-z0-9-]+\.)+(?:com|net|org|io|co|ai|de|uk|fr|es|it|nl|eu|us|ca|app|dev))"
    r"\b(?![@\w-])",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PRICE = re.compile(
    r"(?:[$€£¥]\s?\d[\d,.]*(?:\s?[kKmM])?)"
    r"|(?:\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b)"
    r"|(?:\b\d[\d,.]*\s?%\s?(?:off|discount)\b)"
    r"|(?:\b(?:usd|eur|gbp)\s?\d[\d,.]*)",
    re.IGNORECASE,
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’&-]*")
SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[-*•]\s+|\"|\()$")
CALENDAR_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "may june july august september october november december i ok".split()
)
COMMON_ZIPF = 3.5  # wordfreq: a word at least this frequent in English is not a name


@cache
def _zipf(word: str, language: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, language)


def flatten(facts: Any) -> str:
    """Every value of the facts as one lower-case text."""
    if isinstance(facts, dict):
        return " ".join(flatten(v) for v in facts.values()) + " " + " ".join(facts)
    if isinstance(facts, list | tuple):
        return " ".join(flatten(v) for v in facts)
    return "" if facts is None else str(facts).lower()


def _host(url: str) -> str:
    url = url if "://" in url else f"http://{url}"
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _known_hosts(facts_text: str, rules: Message) -> set[str]:
    hosts = {_host(u) for u in URL.findall(facts_text)}
    hosts |= {m.lower().removeprefix("www.") for m in BARE_DOMAIN.findall(facts_text)}
    hosts |= {_host(u) for u in rules.allowed_links}
    hosts |= {e.rpartition("@")[2] for e in EMAIL.findall(facts_text)}
    return {h for h in hosts if h}


def _words_in(text: str) -> set[str]:
    return {w.lower().strip("'’-&") for w in WORD.findall(text)}


def name_candidates(text: str, language: str) -> list[str]:
    """Capitalised words that would name someone or something: inside a sentence always;
    at a sentence's start only when not a common word."""
    candidates = []
    for match in WORD.finditer(text):
        word = match.group(0).strip("'’-&")
        if not word or not (word[0].isupper() or any(c.isupper() for c in word[1:])):
            continue
        lowered = word.lower()
        if lowered in CALENDAR_WORDS:
            continue
        at_start = bool(SENTENCE_START.search(text[: match.start()]))
        has_inner_capital = any(c.isupper() for c in word[1:]) and not word.isupper()
        if at_start and not has_inner_capital and _zipf(lowered, language) >= COMMON_ZIPF:
            continue
        candidates.append(word)
    return candidates


def problems(subject: str, body: str, facts: dict[str, Any], rules: Message) -> list[str]:
    """Why the message may not be drafted (empty: it may)."""
    found: list[str] = []
    facts_text = flatten(facts)
    fact_words = _words_in(facts_text) | {t.lower() for t in rules.allowed_terms}
    for term in rules.allowed_terms:
        fact_words |= _words_in(term)
    text = f"{subject}\n{body}"

    if not subject.strip():
        found.append("the subject is empty")
    if "\n" in subject.strip():
        found.append("the subject must be one line")
    if len(subject) > rules.subject_max_chars:
        found.append(
            f"the subject has {len(subject)} characters (at most {rules.subject_max_chars})"
        )
    words = len(WORD.findall(body))
    if words < rules.min_words or words > rules.max_words:
        found.append(
            f"the body has {words} words (between {rules.min_words} and {rules.max_words})"
        )
    if words >= 8:
        import py3langid

        language, _ = py3langid.classify(body)
        if language != rules.language:
            found.append(f"the body is in {language!r}, not {rules.language!r}")

    hosts = _known_hosts(facts_text, rules)
    links = [u.rstrip(".,;:!?") for u in URL.findall(text)]
    links += [d for d in BARE_DOMAIN.findall(URL.sub(" ", EMAIL.sub(" ", text)))]
    unknown_links = sorted({u for u in links if _host(u) not in hosts})
    if unknown_links:
        found.append(f"links not in the facts: {', '.join(unknown_links)}")
    unknown_emails = sorted({e for e in EMAIL.findall(text) if e.lower() not in facts_text})
    if unknown_emails:
        found.append(f"email addresses not in the facts: {', '.join(unknown_emails)}")

    prices = [p.strip() for p in PRICE.findall(text)]
    unknown_prices = sorted({p for p in prices if p.lower() not in facts_text})
    if unknown_prices:
        found.append(f"prices are not facts here: {', '.join(unknown_prices)}")

    plain = URL.sub(" ", EMAIL.sub(" ", text))
    fact_numbers = set(NUMBER.findall(facts_text))
    unknown_numbers = sorted({n for n in NUMBER.findall(plain) if n not in fact_numbers})
    if unknown_numbers:
        found.append(f"numbers not in the facts: {', '.join(unknown_numbers)}")
    unknown_names = sorted(
        {w for w in name_candidates(plain, rules.language) if w.lower() not in fact_words},
        key=str.lower,
    )
    if unknown_names:
        found.append(f"names not in the facts: {', '.join(unknown_names)}")
    return found


def describe(found: Iterable[str]) -> str:
    return "; ".join(found)


def facts_json(facts: dict[str, Any]) -> str:
    """The facts as the model sees them: JSON with `<` and `>` escaped, so nothing a form
    says can close the <facts> block it is quoted in."""
    text = json.dumps(facts, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")
