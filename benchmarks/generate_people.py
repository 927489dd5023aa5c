"""A second, independently designed generator of messy B2B leads with ground truth.

`generate_leads.py` is the generator the engine was tuned on. This one shares none of its
code, vocabulary or noise model, so quality measured on it says how the engine does on data
it was not tuned on:

- vocabulary from Faker's locale providers (names with their own frequency weights, company
  names, streets, cities, postcodes), eight countries;
- people with two or three email addresses (work, an alias at work, personal, an old work
  address), and one to three postal addresses (office, home, a second office);
- first names reduced to an initial ('J.', 'J', or 'J. Smith' as the full name), nicknames
  from its own short list, typos that may hit the first letter, phonetic misspellings
  (ph/f, ie/ei, doubled or undoubled letters) and OCR slips (rn/m, cl/d);
- married-name changes (a new or hyphenated surname from a later sighting on, often with a
  new work address), job changes;
- shared company switchboards (most staff give the main number, with or without their
  extension), colleagues with similar names (Jon / John, Anna / Ana, the same surname);
- email typos in the domain ('gmial.com', '.con') and the local part, abbreviations in
  companies (Intl., Corp., &), titles (VP, Sr.) and streets (St., Str., Ave).

    python benchmarks/generate_people.py --rows 100000 --noise heavy --out people.parquet

Columns: the canonical lead fields (strings), `true_entity_id`, `record_id`.
"""

from __future__ import annotations

import argparse
import importlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import phonenumbers
import polars as pl
from faker import Faker

# (Faker locale, country as people type it, ISO code, share of people, free-mail domains)
LOCALES = (
    ("en_US", "USA", "US", 0.30, ("gmail.com", "yahoo.com", "outlook.com", "aol.com")),
    ("en_GB", "United Kingdom", "GB", 0.14, ("gmail.com", "btinternet.com", "hotmail.co.uk")),
    ("de_DE", "Deutschland", "DE", 0.14, ("gmx.de", "web.de", "t-online.de", "gmail.com")),
    ("fr_FR", "France", "FR", 0.10, ("orange.fr", "free.fr", "gmail.com", "laposte.net")),
    ("es_ES", "España", "ES", 0.08, ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net")),
    ("nl_NL", "Nederland", "NL", 0.08, ("gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl")),
    ("it_IT", "Italia", "IT", 0.08, ("libero.it", "gmail.com", "virgilio.it", "tiscali.it")),
    ("sv_SE", "Sverige", "SE", 0.08, ("telia.com", "gmail.com", "hotmail.se", "bredband.net")),
)
TLD = {
    "US": ".com",
    "GB": ".co.uk",
    "DE": ".de",
    "FR": ".fr",
    "ES": ".es",
    "NL": ".nl",
    "IT": ".it",
    "SE": ".se",
}
# This generator's own nicknames (short on purpose: a tool rarely knows every one).
NICKNAMES = {
    "William": ("Bill", "Will"), "Robert": ("Bob", "Rob"), "Richard": ("Rick", "Dick"),
    "James": ("Jim", "Jamie"), "Michael": ("Mike",), "Elizabeth": ("Liz", "Beth"),
    "Margaret": ("Maggie", "Peggy"), "Katherine": ("Kate", "Kathy"), "Thomas": ("Tom",),
    "Christopher": ("Chris",), "Christina": ("Chris", "Tina"), "Patricia": ("Pat", "Trish"),
    "Patrick": ("Pat",), "Samantha": ("Sam",), "Samuel": ("Sam",), "Jonathan": ("Jon",),
    "Alexander": ("Alex", "Sasha"), "Anthony": ("Tony",), "Daniel": ("Dan", "Danny"),
    "Jennifer": ("Jen", "Jenny"), "Joseph": ("Joe",), "Matthew": ("Matt",), "Nicholas": ("Nick",),
    "Johannes": ("Hans",), "Friedrich": ("Fritz",), "Wolfgang": ("Wolf",), "Francesco": ("Franco",),
    "Giuseppe": ("Beppe", "Pino"), "Francisco": ("Paco",), "José": ("Pepe",),
    "Cornelis": ("Kees",), "Willem": ("Wim",), "Dolores": ("Lola",), "Manuel": ("Manolo",),
}  # fmt: skip
TITLES = (
    ("Vice President of Sales", "VP Sales"), ("Chief Technology Officer", "CTO"),
    ("Chief Executive Officer", "CEO"), ("Senior Software Engineer", "Sr. Software Engineer"),
    ("Marketing Manager", "Mktg Manager"), ("Head of Procurement", "Procurement Lead"),
    ("Director of Operations", "Operations Director"), ("Account Executive", "AE"),
    ("Human Resources Manager", "HR Manager"), ("Chief Financial Officer", "CFO"),
    ("Product Manager", "PM"), ("Business Development Manager", "BDM"),
    ("Office Manager", "Office Mgr"), ("Data Analyst", "Analyst, Data"),
)  # fmt: skip
SOURCES = ("Webinar", "Trade show", "Website form", "Purchased list", "Referral", "LinkedIn")
COMPANY_ABBREVIATIONS = (
    ("International", "Intl."), ("Corporation", "Corp."), ("Incorporated", "Inc."),
    ("Limited", "Ltd"), ("Company", "Co."), (" and ", " & "), ("Group", "Grp"),
    ("Gesellschaft", "Ges."), ("Technologies", "Tech"),
)  # fmt: skip
STREET_ABBREVIATIONS = (
    ("Street", "St."), ("Avenue", "Ave"), ("Road", "Rd"), ("straße", "str."),
    ("Straße", "Str."), ("Lane", "Ln"), ("Rue", "R."), ("Calle", "C/"), ("Via", "V."),
    ("laan", "ln"), ("gatan", "g."), ("Drive", "Dr."), ("Suite", "Ste"),
)  # fmt: skip
OCR = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("vv", "w"), ("li", "h"))
PHONETIC = (
    ("ph", "f"), ("f", "ph"), ("ie", "ei"), ("ei", "ie"), ("ck", "k"), ("y", "i"),
    ("c", "k"), ("s", "z"), ("ou", "u"), ("th", "t"), ("ll", "l"), ("nn", "n"),
    ("tt", "t"), ("ss", "s"),
)  # fmt: skip
DOMAIN_TYPOS = (
    ("gmail.com", "gmial.com"), ("gmail.com", "gmail.con"), (".com", ".co"),
    ("hotmail", "hotmal"), ("yahoo", "yaho"), (".de", ".d"), ("outlook", "outlok"),
    ("web.de", "wep.de"), ("gmx.de", "gmx.net"),
)  # fmt: skip


@dataclass(frozen=True)
class Noise:
    count_p: tuple[float, ...]  # P(a person appears 1, 2, ... times)
    p_initial: float  # first name reduced to an initial
    p_nick: float
    p_typo_name: float  # per name part: keyboard, phonetic or OCR
    p_typo_email: float
    p_typo_company: float
    p_abbrev: float  # company, title and street abbreviations
    p_case: float
    p_swap: float  # first and last swapped
    p_second_email: float  # person has an alias or personal address...
    p_use_other_email: float  # ...which a row shows instead of the main one
    p_third_email: float
    p_married: float  # women whose surname changes from some sighting on
    p_changer: float
    p_switchboard: float  # share of staff giving the company's main number
    p_similar_colleague: float
    p_namesake: float
    p_second_address: float
    missing: dict[str, float]


NOISE: dict[str, Noise] = {
    "standard": Noise(
        count_p=(0.5, 0.25, 0.12, 0.07, 0.04, 0.02),
        p_initial=0.05, p_nick=0.06, p_typo_name=0.04, p_typo_email=0.02, p_typo_company=0.03,
        p_abbrev=0.2, p_case=0.08, p_swap=0.015, p_second_email=0.45, p_use_other_email=0.3,
        p_third_email=0.15, p_married=0.06, p_changer=0.06, p_switchboard=0.45,
        p_similar_colleague=0.05, p_namesake=0.02, p_second_address=0.35,
        missing={"email": 0.08, "company": 0.1, "website": 0.6, "phone": 0.3,
                 "mobile_phone": 0.65, "job_title": 0.3, "country": 0.15, "city": 0.3,
                 "state": 0.6, "postcode": 0.5, "address": 0.6, "lead_source": 0.2,
                 "created_at": 0.03},
    ),
    "heavy": Noise(
        count_p=(0.35, 0.25, 0.16, 0.11, 0.07, 0.04, 0.02),
        p_initial=0.14, p_nick=0.12, p_typo_name=0.10, p_typo_email=0.06, p_typo_company=0.08,
        p_abbrev=0.35, p_case=0.15, p_swap=0.04, p_second_email=0.6, p_use_other_email=0.45,
        p_third_email=0.3, p_married=0.12, p_changer=0.12, p_switchboard=0.6,
        p_similar_colleague=0.08, p_namesake=0.04, p_second_address=0.5,
        missing={"email": 0.18, "company": 0.2, "website": 0.7, "phone": 0.45,
                 "mobile_phone": 0.75, "job_title": 0.45, "country": 0.3, "city": 0.45,
                 "state": 0.7, "postcode": 0.65, "address": 0.7, "lead_source": 0.3,
                 "created_at": 0.05},
    ),
}  # fmt: skip


def _weighted(names) -> tuple[list[str], np.ndarray]:
    """Faker's list or {name: weight} as (names, probabilities)."""
    if isinstance(names, dict):
        items = list(names.items())
        values, weights = [k for k, _ in items], np.array([float(w) for _, w in items])
    else:
        values = list(dict.fromkeys(names))
        weights = 1.0 / (np.arange(len(values)) + 20.0)  # rank-skewed, flatter than Zipf
    return values, weights / weights.sum()


def _ascii(series: pl.Series) -> pl.Series:
    """Email-safe form of a name."""
    return (
        series.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]", "")
    )


def _take(values: list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(idx)


def _replace_one(text: pl.Series, pairs, pick: np.ndarray, apply: np.ndarray) -> pl.Series:
    """Where `apply`, replace the first occurrence of pairs[pick] (if present)."""
    out = text
    for k, (old, new) in enumerate(pairs):
        rows = np.flatnonzero(apply & (pick == k))
        if len(rows):
            out = out.scatter(rows, out.gather(rows).str.replace(old, new, literal=True))
    return out


def _keyboard_typo(text: pl.Series, rng: np.random.Generator, apply: np.ndarray) -> pl.Series:
    """Delete, duplicate or transpose a character at any position (the first included)."""
    rows = np.flatnonzero(apply)
    if not len(rows):
        return text
    values = text.gather(rows)
    n = values.str.len_chars().fill_null(0).to_numpy()
    pos = (rng.random(len(rows)) * np.maximum(n, 1)).astype(np.int64)
    kind = rng.integers(0, 3, len(rows))
    frame = pl.DataFrame({"s": values, "p": pos, "k": kind})
    s, p = pl.col("s"), pl.col("p")
    typo = (
        pl.when(pl.col("k") == 0)
        .then(pl.concat_str(s.str.slice(0, p), s.str.slice(p + 1)))
        .when(pl.col("k") == 1)
        .then(pl.concat_str(s.str.slice(0, p + 1), s.str.slice(p)))
        .otherwise(
            pl.concat_str(
                s.str.slice(0, p), s.str.slice(p + 1, 1), s.str.slice(p, 1), s.str.slice(p + 2)
            )
        )
    )
    changed = frame.select(pl.when(s.str.len_chars() >= 4).then(typo).otherwise(s)).to_series()
    return text.scatter(rows, changed)


def _name_typo(text: pl.Series, rng: np.random.Generator, p: float) -> pl.Series:
    """A third each: keyboard, phonetic and OCR slips."""
    hit = rng.random(len(text)) < p
    kind = rng.integers(0, 3, len(text))
    text = _keyboard_typo(text, rng, hit & (kind == 0))
    text = _replace_one(
        text, PHONETIC, rng.integers(0, len(PHONETIC), len(text)), hit & (kind == 1)
    )
    return _replace_one(text, OCR, rng.integers(0, len(OCR), len(text)), hit & (kind == 2))


def _unique_per_person(email: pl.Series, person: np.ndarray) -> pl.Series:
    """An address belongs to one person: a later holder gets a number in the local part
    (jwhite@ and jwhite2@), the same for all of that person's rows."""
    frame = pl.DataFrame({"email": email, "e": person})
    for _ in range(3):
        rank = frame.select(pl.col("e").rank("dense").over("email").cast(pl.Int64) - 1)
        rank = rank.to_series()
        if rank.max() == 0:
            break
        local, domain = frame["email"].str.split_exact("@", 1).struct.unnest()
        renamed = local + (rank + 1).cast(pl.String) + "@" + domain
        frame = frame.with_columns(
            pl.when(pl.lit(rank) > 0)
            .then(pl.lit(renamed))
            .otherwise(pl.col("email"))
            .alias("email")
        )
    return frame["email"]


def _valid_numbers(region: str, kind, count: int, rng: np.random.Generator) -> list[str]:
    """`count` distinct E.164 numbers valid for `region` (the example number's leading
    digits, the last six drawn at random, kept where phonenumbers says valid)."""
    example = phonenumbers.example_number_for_type(region, kind)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    head = e164[1 + len(str(example.country_code)) : -6]  # keeps Italy's leading zero
    if region == "US":  # 555 is fictional: a handful of real area codes and exchanges
        heads = ["2127", "4153", "3125", "6175", "2069", "5126", "3036", "7134"]
    else:
        heads = [head]
    out: set[str] = set()
    for _ in range(20):
        if len(out) >= count:
            break
        tails = rng.integers(0, 1_000_000, size=count * 2)
        for i, tail in enumerate(tails):
            number = f"{heads[i % len(heads)]}{tail:06d}"
            parsed = phonenumbers.parse(f"+{example.country_code}{number}")
            if phonenumbers.is_valid_number(parsed):
                out.add(f"+{example.country_code}{number}")
            if len(out) >= count:
                break
    if not out:
        raise RuntimeError(f"no valid {region} number from the prefixes {heads}")
    return sorted(out)


def _format_phone(e164: pl.Series, country_code: pl.Series, style: np.ndarray) -> pl.Series:
    """International with spaces, national with a trunk 0, 00-prefixed, or digits only."""
    frame = pl.DataFrame({"n": e164, "cc": country_code, "s": style})
    n, cc = pl.col("n"), pl.col("cc")
    national = n.str.slice(cc.str.len_chars() + 1)
    trunk = pl.when(cc == "1").then(national).otherwise(pl.concat_str(pl.lit("0"), national))
    spaced = pl.concat_str(
        trunk.str.slice(0, 3), pl.lit(" "), trunk.str.slice(3, 3), pl.lit(" "), trunk.str.slice(6)
    )
    return frame.select(
        pl.when(pl.col("s") == 0)
        .then(
            pl.concat_str(
                pl.lit("+"),
                cc,
                pl.lit(" "),
                national.str.slice(0, 3),
                pl.lit(" "),
                national.str.slice(3),
            )
        )
        .when(pl.col("s") == 1)
        .then(spaced)
        .when(pl.col("s") == 2)
        .then(pl.concat_str(pl.lit("00"), n.str.slice(1)))
        .otherwise(n)
    ).to_series()


def _pools(n_companies: int, rng: np.random.Generator, seed: int) -> dict:
    """Per locale: names, companies, streets, cities, phone numbers."""
    pools = {}
    for li, (locale, _, region, share, _) in enumerate(LOCALES):
        person = importlib.import_module(f"faker.providers.person.{locale}").Provider
        fake = Faker(locale)
        fake.seed_instance(seed + li)
        for provider in fake.providers:
            # Faker builds some city lists from a set (it_IT), so their order, and the cities
            # a seed draws, followed the process's hash seed: the same seed gave other data.
            if isinstance(getattr(provider, "cities", None), list):
                provider.cities = sorted(provider.cities)
        companies = max(20, int(n_companies * share))
        streets = [fake.street_address() for _ in range(min(20000, companies * 8))]
        cities = []
        for _ in range(200):
            state = fake.state_abbr() if region == "US" else None
            cities.append((fake.city(), fake.postcode(), state))
        names = [fake.company() for _ in range(companies)]
        pools[li] = {
            "male": _weighted(person.first_names_male),
            "female": _weighted(person.first_names_female),
            "last": _weighted(person.last_names),
            "companies": names,
            "streets": streets,
            "cities": cities,
            "fixed": _valid_numbers(
                region, phonenumbers.PhoneNumberType.FIXED_LINE, companies * 12, rng
            ),
            "mobile": _valid_numbers(
                region, phonenumbers.PhoneNumberType.MOBILE, companies * 20, rng
            ),
        }
    return pools


def generate_people(n_rows: int, seed: int = 11, noise: str = "standard") -> pl.DataFrame:
    """Messy lead rows with `true_entity_id` and `record_id`; deterministic per arguments."""
    cfg = NOISE[noise]
    rng = np.random.default_rng(seed)
    counts_p = np.array(cfg.count_p) / sum(cfg.count_p)
    mean = float((np.arange(1, len(counts_p) + 1) * counts_p).sum())
    counts = 1 + rng.choice(len(counts_p), size=int(n_rows / mean * 1.2) + 50, p=counts_p)
    cum = np.cumsum(counts)
    E = int(np.searchsorted(cum, n_rows)) + 1
    counts = counts[:E]
    counts[-1] -= int(cum[E - 1] - n_rows)
    n_companies = max(50, E // 25)
    pools = _pools(n_companies, rng, seed)

    # --- people ----------------------------------------------------------------------------
    shares = np.array([loc[3] for loc in LOCALES])
    locale = rng.choice(len(LOCALES), size=E, p=shares / shares.sum())
    female = rng.random(E) < 0.5
    first = np.empty(E, dtype=object)
    last = np.empty(E, dtype=object)
    company = np.empty(E, dtype=np.int64)
    comp_offset, comp_names, comp_locale = [], [], []
    for li in range(len(LOCALES)):
        pool = pools[li]
        comp_offset.append(len(comp_names))
        comp_names += pool["companies"]
        comp_locale += [li] * len(pool["companies"])
        m = np.flatnonzero(locale == li)
        for is_female, key in ((False, "male"), (True, "female")):
            rows = m[female[m] == is_female]
            names, p = pool[key]
            first[rows] = np.array(names, dtype=object)[rng.choice(len(names), len(rows), p=p)]
        names, p = pool["last"]
        last[m] = np.array(names, dtype=object)[rng.choice(len(names), len(m), p=p)]
        size = len(pool["companies"])
        weights = 1.0 / (np.arange(size) + 3.0) ** 1.1
        company[m] = comp_offset[li] + rng.choice(size, len(m), p=weights / weights.sum())
    comp_locale = np.array(comp_locale)
    C = len(comp_names)

    # Colleagues with similar names: same company, a first name one edit away or a
    # similar one, the same surname half the time. Namesakes: same name, another company.
    similar = np.flatnonzero(rng.random(E) < cfg.p_similar_colleague)
    model = rng.integers(0, E, len(similar))
    company[similar] = company[model]
    locale[similar] = locale[model]
    female[similar] = female[model]
    # A name of the same locale and gender sharing the first three letters (Jon / John,
    # Nicolas / Nicolasa, Anna / Annika), else a phonetic variant of the colleague's.
    by_prefix: dict[tuple[int, bool, str], list[str]] = {}
    for li in range(len(LOCALES)):
        for is_female, key in ((False, "male"), (True, "female")):
            for name in pools[li][key][0]:
                by_prefix.setdefault((li, is_female, name[:3].lower()), []).append(name)
    original = pl.Series(first[model].tolist(), dtype=pl.String)
    phonetic = _replace_one(
        original,
        PHONETIC,
        rng.integers(0, len(PHONETIC), len(similar)),
        np.ones(len(similar), bool),
    ).to_list()
    twist = []
    for k, (name, li, is_female) in enumerate(
        zip(original.to_list(), locale[model], female[model], strict=True)
    ):
        options = [
            n for n in by_prefix.get((int(li), bool(is_female), name[:3].lower()), []) if n != name
        ]
        if options:
            twist.append(options[int(rng.integers(0, len(options)))])
        elif phonetic[k] != name:
            twist.append(phonetic[k])
        else:  # no similar name at hand: another of the locale's names
            names = pools[int(li)]["female" if is_female else "male"][0]
            twist.append(names[int(rng.integers(0, len(names)))])
    twist = pl.Series(twist, dtype=pl.String)
    first[similar] = np.array(twist.to_list(), dtype=object)
    same_last = rng.random(len(similar)) < 0.5
    last[similar[same_last]] = last[model[same_last]]
    namesake = np.flatnonzero(rng.random(E) < cfg.p_namesake)
    model = rng.integers(0, E, len(namesake))
    first[namesake], last[namesake] = first[model], last[model]

    # Companies: domain, switchboard, office, email pattern.
    # Domains from the name's first two words (two firms may still share one, as in life).
    words = pl.Series(comp_names, dtype=pl.String).str.split(" ").list.head(2).list.join(" ")
    tlds = pl.Series([TLD[LOCALES[li][2]] for li in comp_locale], dtype=pl.String)
    comp_domain = _ascii(words) + tlds
    comp_pattern = rng.choice(5, size=C, p=[0.45, 0.2, 0.15, 0.1, 0.1])

    def draw(key: str, lis: np.ndarray) -> np.ndarray:
        out = np.empty(len(lis), dtype=object)
        for li in np.unique(lis):
            rows = np.flatnonzero(lis == li)
            values = pools[int(li)][key]
            out[rows] = np.array(values, dtype=object)[rng.choice(len(values), len(rows))]
        return out

    comp_switch = draw("fixed", comp_locale)
    comp_street = draw("streets", comp_locale)
    comp_city_ix = rng.integers(0, 200, C)

    # Per person: direct line, mobile, home, second office, emails, later company, new name.
    direct = draw("fixed", locale)
    mobile = draw("mobile", locale)
    home_street = draw("streets", locale)
    home_city_ix = rng.integers(0, 200, E)
    uses_switchboard = rng.random(E) < cfg.p_switchboard
    extension = rng.integers(100, 999, E).astype(str)
    changer = (counts >= 2) & (rng.random(E) < cfg.p_changer)
    company2 = np.where(changer, rng.integers(0, C, E), -1)
    switch_at = np.where(counts >= 2, rng.integers(1, np.maximum(counts, 2)), 1 << 30)
    married = (counts >= 2) & female & (rng.random(E) < cfg.p_married)
    new_last = np.empty(E, dtype=object)
    for li in range(len(LOCALES)):
        rows = np.flatnonzero(locale == li)
        names, p = pools[li]["last"]
        new_last[rows] = np.array(names, dtype=object)[rng.choice(len(names), len(rows), p=p)]
    hyphenate = rng.random(E) < 0.3
    married_at = np.where(married, rng.integers(1, np.maximum(counts, 2)), 1 << 30)
    second_email = rng.random(E) < cfg.p_second_email
    third_email = second_email & (rng.random(E) < cfg.p_third_email)
    second_address = rng.random(E) < cfg.p_second_address
    title = rng.integers(0, len(TITLES), E)
    source = rng.integers(0, len(SOURCES), E)
    first_day = rng.integers(0, 3 * 365, E)

    # --- rows --------------------------------------------------------------------------------
    R = n_rows
    e = np.repeat(np.arange(E), counts)
    sighting = np.arange(R) - np.repeat(np.cumsum(counts) - counts, counts)
    u = lambda: rng.random(R)  # noqa: E731
    moved = sighting >= switch_at[e]
    comp = np.where(changer[e] & moved, company2[e], company[e])
    is_married = sighting >= married_at[e]
    surname = pl.Series(last[e].tolist(), dtype=pl.String)
    after = pl.Series(new_last[e].tolist(), dtype=pl.String)
    hyphen = surname + "-" + after
    surname_now = pl.select(
        pl.when(pl.lit(is_married) & pl.lit(hyphenate[e]))
        .then(pl.lit(hyphen))
        .when(pl.lit(is_married))
        .then(pl.lit(after))
        .otherwise(pl.lit(surname))
    ).to_series()
    given = pl.Series(first[e].tolist(), dtype=pl.String)

    # Emails: work address from the current company's pattern and the name (the married
    # name in about half the cases), an alias at work, a personal one, an old work one.
    fa = _ascii(given)
    la = _ascii(
        pl.select(
            pl.when(pl.lit(u() < 0.5)).then(pl.lit(surname_now)).otherwise(pl.lit(surname))
        ).to_series()
    )
    pattern = comp_pattern[comp]
    domain = pl.Series(comp_domain.to_numpy()[comp])
    local = pl.select(
        pl.when(pl.lit(pattern) == 0)
        .then(pl.concat_str([pl.lit(fa), pl.lit("."), pl.lit(la)]))
        .when(pl.lit(pattern) == 1)
        .then(pl.concat_str([pl.lit(fa).str.slice(0, 1), pl.lit(la)]))
        .when(pl.lit(pattern) == 2)
        .then(pl.concat_str([pl.lit(la), pl.lit("."), pl.lit(fa)]))
        .when(pl.lit(pattern) == 3)
        .then(pl.concat_str([pl.lit(fa), pl.lit(la).str.slice(0, 1)]))
        .otherwise(pl.concat_str([pl.lit(fa), pl.lit("_"), pl.lit(la)]))
    ).to_series()
    work = local + "@" + domain
    alias = fa.str.slice(0, 1) + "." + la + "@" + domain
    provider = rng.integers(0, 4, E)  # one free-mail provider per person
    free = pl.Series(
        [
            LOCALES[li][4][k % len(LOCALES[li][4])]
            for li, k in zip(locale[e], provider[e], strict=True)
        ],
        dtype=pl.String,
    )
    digits = pl.Series(rng.integers(1, 99, E)[e]).cast(pl.String)
    personal = fa + la.str.slice(0, 3) + digits + "@" + free
    which = np.where(
        second_email[e] & (u() < cfg.p_use_other_email),
        np.where(third_email[e] & (u() < 0.5), 2, 1),
        0,
    )
    email = pl.select(
        pl.when(pl.lit(which) == 1)
        .then(pl.lit(personal))
        .when((pl.lit(which) == 2) & pl.lit(rng.random(R) < 0.5))
        .then(pl.lit(alias))
        .when(pl.lit(which) == 2)
        .then(pl.concat_str([pl.lit(fa), pl.lit(".work@"), pl.lit(free)]))
        .otherwise(pl.lit(work))
    ).to_series()
    email = _unique_per_person(email, e)
    typo = u() < cfg.p_typo_email
    at_domain = typo & (u() < 0.5)
    email = _replace_one(email, DOMAIN_TYPOS, rng.integers(0, len(DOMAIN_TYPOS), R), at_domain)
    email = _keyboard_typo(email, rng, typo & ~at_domain)

    # Names: initial, nickname, typo, case, swap.
    nick = np.array(
        [
            NICKNAMES.get(name, (None,))[k % len(NICKNAMES.get(name, (None,)))]
            for name, k in zip(first[e], rng.integers(0, 2, R), strict=True)
        ],
        dtype=object,
    )
    use_nick = (u() < cfg.p_nick) & (nick != None)  # noqa: E711
    given_row = given.scatter(np.flatnonzero(use_nick), nick[use_nick].tolist())
    given_row = _name_typo(given_row, rng, cfg.p_typo_name)
    surname_row = _name_typo(surname_now, rng, cfg.p_typo_name)
    initial = u() < cfg.p_initial
    dot = u() < 0.6
    given_row = pl.select(
        pl.when(pl.lit(initial) & pl.lit(dot))
        .then(pl.lit(given_row).str.slice(0, 1) + ".")
        .when(pl.lit(initial))
        .then(pl.lit(given_row).str.slice(0, 1))
        .otherwise(pl.lit(given_row))
    ).to_series()
    swap = u() < cfg.p_swap
    first_out = pl.select(
        pl.when(pl.lit(swap)).then(pl.lit(surname_row)).otherwise(pl.lit(given_row))
    ).to_series()
    last_out = pl.select(
        pl.when(pl.lit(swap)).then(pl.lit(given_row)).otherwise(pl.lit(surname_row))
    ).to_series()
    case = rng.choice(3, size=R, p=[1 - cfg.p_case, cfg.p_case * 0.7, cfg.p_case * 0.3])
    first_out = pl.select(
        pl.when(pl.lit(case) == 1)
        .then(pl.lit(first_out).str.to_uppercase())
        .when(pl.lit(case) == 2)
        .then(pl.lit(first_out).str.to_lowercase())
        .otherwise(pl.lit(first_out))
    ).to_series()
    last_out = pl.select(
        pl.when(pl.lit(case) == 1)
        .then(pl.lit(last_out).str.to_uppercase())
        .when(pl.lit(case) == 2)
        .then(pl.lit(last_out).str.to_lowercase())
        .otherwise(pl.lit(last_out))
    ).to_series()
    # Full name only (no parts) in a fifth of rows, 'Last, First' in some.
    full_only = u() < 0.2
    comma = u() < 0.3
    full = pl.select(
        pl.when(pl.lit(comma))
        .then(pl.concat_str([pl.lit(last_out), pl.lit(", "), pl.lit(first_out)]))
        .otherwise(pl.concat_str([pl.lit(first_out), pl.lit(" "), pl.lit(last_out)]))
    ).to_series()
    full = pl.select(pl.when(pl.lit(full_only | (u() < 0.3))).then(pl.lit(full))).to_series()
    first_out = pl.select(pl.when(pl.lit(~full_only)).then(pl.lit(first_out))).to_series()
    last_out = pl.select(pl.when(pl.lit(~full_only)).then(pl.lit(last_out))).to_series()

    # Company: abbreviations, typos, case.
    company_s = pl.Series(comp_names, dtype=pl.String).gather(comp)
    company_s = _replace_one(
        company_s,
        COMPANY_ABBREVIATIONS,
        rng.integers(0, len(COMPANY_ABBREVIATIONS), R),
        u() < cfg.p_abbrev * 3,
    )
    company_s = _keyboard_typo(company_s, rng, u() < cfg.p_typo_company)
    company_s = pl.select(
        pl.when(pl.lit(u() < cfg.p_case))
        .then(pl.lit(company_s).str.to_uppercase())
        .otherwise(pl.lit(company_s))
    ).to_series()
    website = pl.select(
        pl.when(pl.lit(u() < 0.5))
        .then(pl.concat_str([pl.lit("www."), pl.lit(domain)]))
        .when(pl.lit(u() < 0.5))
        .then(pl.concat_str([pl.lit("https://"), pl.lit(domain), pl.lit("/")]))
        .otherwise(pl.lit(domain))
    ).to_series()

    # Phones: switchboard (with an extension sometimes), direct line, or mobile as phone.
    region_cc = pl.Series([str(phonenumbers.country_code_for_region(loc[2])) for loc in LOCALES])
    cc = region_cc.gather(locale[e])
    board = pl.Series(comp_switch[comp].tolist(), dtype=pl.String)
    own = pl.Series(direct[e].tolist(), dtype=pl.String)
    mob = pl.Series(mobile[e].tolist(), dtype=pl.String)
    kind = np.where(uses_switchboard[e], 0, np.where(u() < 0.8, 1, 2))
    phone_e164 = pl.select(
        pl.when(pl.lit(kind) == 0)
        .then(pl.lit(board))
        .when(pl.lit(kind) == 1)
        .then(pl.lit(own))
        .otherwise(pl.lit(mob))
    ).to_series()
    phone = _format_phone(phone_e164, cc, rng.integers(0, 4, R))
    ext = pl.Series(extension[e].tolist(), dtype=pl.String)
    phone = pl.select(
        pl.when(pl.lit(kind == 0) & pl.lit(u() < 0.4))
        .then(pl.concat_str([pl.lit(phone), pl.lit(" ext. "), pl.lit(ext)]))
        .otherwise(pl.lit(phone))
    ).to_series()
    mobile_out = _format_phone(mob, cc, rng.integers(0, 4, R))

    # Addresses: office (the company's), home, or a second office.
    where = np.where(second_address[e] & (u() < 0.5), np.where(u() < 0.6, 1, 2), 0)
    street = np.where(where == 1, home_street[e], comp_street[comp])
    street = np.where(where == 2, draw("streets", locale[e]), street)
    city_ix = np.where(where == 1, home_city_ix[e], comp_city_ix[comp])
    lis = np.where(where == 0, comp_locale[comp], locale[e])
    city = np.array(
        [pools[int(li)]["cities"][int(c)] for li, c in zip(lis, city_ix, strict=True)], dtype=object
    )
    address = _replace_one(
        pl.Series(street.tolist(), dtype=pl.String),
        STREET_ABBREVIATIONS,
        rng.integers(0, len(STREET_ABBREVIATIONS), R),
        u() < cfg.p_abbrev * 2,
    )
    job = pl.Series(
        [TITLES[t][1 if a else 0] for t, a in zip(title[e], u() < cfg.p_abbrev, strict=True)],
        dtype=pl.String,
    )
    country = pl.Series(
        [LOCALES[li][1] if a else LOCALES[li][2] for li, a in zip(lis, u() < 0.5, strict=True)],
        dtype=pl.String,
    )
    days = first_day[e] + sighting * rng.integers(5, 90, R)
    created = pl.Series(
        [
            (datetime(2023, 1, 1) + timedelta(days=int(d), seconds=int(s))).isoformat(sep=" ")
            for d, s in zip(days, rng.integers(0, 86400, R), strict=True)
        ],
        dtype=pl.String,
    )
    out = pl.DataFrame(
        {
            "email": email,
            "first_name": first_out,
            "last_name": last_out,
            "full_name": full,
            "company": company_s,
            "website": website,
            "phone": phone,
            "mobile_phone": mobile_out,
            "job_title": job,
            "country": country,
            "city": pl.Series([c[0] for c in city], dtype=pl.String),
            "state": pl.Series([c[2] for c in city], dtype=pl.String),
            "postcode": pl.Series([c[1] for c in city], dtype=pl.String),
            "address": address,
            "lead_source": _take(list(SOURCES), source[e]),
            "created_at": created,
        }
    )
    out = out.with_columns(
        pl.when(pl.lit(u() >= p)).then(pl.col(col)).alias(col) for col, p in cfg.missing.items()
    )
    # Every row keeps something to identify it by: an email, a phone or a name.
    out = out.with_columns(
        pl.when(
            pl.all_horizontal(pl.col(c).is_null() for c in ("email", "phone"))
            & pl.col("first_name").is_null()
            & pl.col("full_name").is_null()
        )
        .then(pl.lit(work))
        .otherwise(pl.col("email"))
        .alias("email")
    )
    order = rng.permutation(R)
    return out.with_columns(true_entity_id=pl.lit(e.astype(np.int64)))[order].with_columns(
        record_id=pl.concat_str(pl.lit("P"), pl.int_range(1, R + 1).cast(pl.String).str.zfill(8))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--noise", choices=sorted(NOISE), default="standard")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    frame = generate_people(args.rows, args.seed, args.noise)
    frame.write_parquet(args.out)
    print(
        f"{frame.height:,} rows, {frame['true_entity_id'].n_unique():,} people -> {args.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
