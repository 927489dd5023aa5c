"""A small seeded population of leads with known duplicates, for dedupe tests.

Deliberately independent of the benchmark generator so the tests pin behaviour on data
whose every row is easy to reason about.
"""

from __future__ import annotations

import random
from datetime import datetime

import polars as pl

from pipeline.normalize.leads import normalize_fields
from pipeline.schema import RAW_LEADS_SCHEMA, conform

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda William Elizabeth David Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty
Mark Margaret Steven Sandra Paul Ashley Andrew Kimberly Joshua Emily Kenneth Donna Kevin
Michelle Priya Arjun Lukas Sophie Hannah Felix Camille Hugo Chloe
Louis Emma Noah Olivia Liam Amelia""".split()
LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Muller Schmidt
Schneider Fischer Weber Meyer Wagner Becker Dubois Laurent Moreau Petit Patel Sharma""".split()
COMPANIES = """Acme Globex Initech Umbrella Hooli Vandelay Stark Wayne Wonka Cyberdyne Soylent
Tyrell Aperture Massive Dynamic Oscorp Gringotts Monarch Prestige Virtucon Zorg Nakatomi""".split()
NICK = {"Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Michael": "Mike",
        "James": "Jim", "Richard": "Rick", "Joseph": "Joe", "Thomas": "Tom", "Daniel": "Dan",
        "Matthew": "Matt", "Anthony": "Tony", "Steven": "Steve", "Andrew": "Andy"}  # fmt: skip


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + "x" + word[i:]


def population(n_people: int = 600, seed: int = 5) -> tuple[pl.DataFrame, dict[str, int]]:
    """(raw rows in canonical columns, lead_id -> true person)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    truth: dict[str, int] = {}
    seen: set[tuple[str, str, str]] = set()
    person = 0
    while person < n_people:
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
        if (first, last, company) in seen:
            continue
        seen.add((first, last, company))
        domain = f"{company.lower()}.com"
        phone = f"+1415{rng.randrange(2000000, 9999999)}"
        base = {
            "first_name": first,
            "last_name": last,
            "company": f"{company} Inc.",
            "website": domain,
            "email": f"{first.lower()}.{last.lower()}@{domain}",
            "phone": phone,
            "job_title": rng.choice(["VP Sales", "CTO", "Account Executive", "Engineer"]),
            "country": "US",
        }
        for copy in range(rng.choice([1, 1, 2, 2, 3])):
            row = dict(base)
            if copy:
                variant = rng.random()
                if variant < 0.25 and first in NICK:
                    row["first_name"] = NICK[first]
                elif variant < 0.5:
                    row["last_name"] = _typo(last, rng)
                elif variant < 0.7:
                    row["email"] = None
                elif variant < 0.85:
                    row["phone"] = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
                    row["email"] = row["email"].upper()
                else:
                    row["company"] = company.upper()
                    row["phone"] = None
            lead_id = f"p{person}-{copy}"
            rows.append({"lead_id": lead_id, **row})
            truth[lead_id] = person
        person += 1
    return pl.DataFrame(rows), truth


def normalized(rows: pl.DataFrame) -> pl.DataFrame:
    """Raw canonical rows -> the normalized columns the dedupe spec reads."""
    raw = rows.with_columns(
        pl.lit("people.csv").alias("source_file"),
        pl.int_range(2, rows.height + 2).alias("row_number"),
        pl.lit(datetime(2026, 11, 1)).alias("arrived_at"),
    )
    return normalize_fields(conform(raw, RAW_LEADS_SCHEMA))
