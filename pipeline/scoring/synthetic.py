"""The `enriched_leads` contract as scoring sees it, hand-made contract frames for tests, and
seeded synthetic frames for the benchmark and the learner's tests (volume and known ground
truth that hand-made rows cannot give, without depending on the enrichment code)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

INDUSTRIES = (
    "Computer Software",
    "Information Technology & Services",
    "Internet",
    "Financial Services",
    "Banking",
    "Insurance",
    "Marketing and Advertising",
    "Hospital & Health Care",
    "Retail",
    "Manufacturing",
    "Construction",
    "Education Management",
    "Non-profit Organization Management",
    "Government Administration",
    "Logistics and Supply Chain",
    "Real Estate",
    "Telecommunications",
    "Consumer Goods",
)
EMPLOYEE_RANGES = (
    "1-10",
    "11-50",
    "51-200",
    "201-500",
    "501-1000",
    "1001-5000",
    "5001-10000",
    "10001+",
)
REVENUE_RANGES = ("<$1M", "$1M-$10M", "$10M-$50M", "$50M-$100M", "$100M-$1B", "$1B+")
COUNTRIES = ("US", "CA", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "IN", "BR", "AU", "JP", "NO")
SENIORITIES = ("c_level", "vp", "director", "manager", "senior", "entry", "individual_contributor")
DEPARTMENTS = (
    "sales",
    "marketing",
    "engineering",
    "it",
    "finance",
    "hr",
    "operations",
    "product",
    "customer_success",
    "legal",
    "executive",
)
SOURCES = (
    "Website",
    "Inbound - Website",
    "Webinar",
    "Trade Show",
    "Referral",
    "Partner Referral",
    "LinkedIn",
    "Google Ads",
    "Content Download",
    "Cold Outreach",
    "Purchased List",
    "Newsletter",
)
DELIVERABILITY = ("deliverable", "risky", "undeliverable", "unknown")
VERIFICATION = ("verified", "risky", "invalid")
TECHNOLOGIES = (
    "salesforce",
    "hubspot",
    "pipedrive",
    "google workspace",
    "microsoft 365",
    "slack",
    "zendesk",
    "shopify",
    "wordpress",
    "aws",
    "stripe",
    "intercom",
)
AS_OF = datetime(2026, 11, 1)

# The columns scoring may read from `enriched_leads` (the enrichment stage's contract); any may
# be null. Scoring needs none of them in particular: an absent column scores as "missing".
ENRICHED_LEADS_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "email": pl.String(),
    "email_valid": pl.Boolean(),
    "is_free_email": pl.Boolean(),
    "is_role_email": pl.Boolean(),
    "is_disposable_email": pl.Boolean(),
    "email_deliverability": pl.String(),
    "email_verification": pl.String(),
    "company": pl.String(),
    "domain": pl.String(),
    "industry": pl.String(),
    "employee_range": pl.String(),
    "revenue_range": pl.String(),
    "country": pl.String(),
    "hq_country": pl.String(),
    "seniority": pl.String(),
    "department": pl.String(),
    "job_title": pl.String(),
    "lead_source": pl.String(),
    "created_at": pl.Datetime("us"),
    "phone_e164": pl.String(),
    "technologies": pl.List(pl.String()),
}


def enriched_frame(rows: list[dict]) -> pl.DataFrame:
    """Hand-made rows (any subset of the contract's columns) as a typed contract frame."""
    return pl.DataFrame(
        [{name: row.get(name) for name in ENRICHED_LEADS_SCHEMA} for row in rows],
        schema=ENRICHED_LEADS_SCHEMA,
    )


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int, null: float) -> pl.Series:
    """Values with a skewed (Zipf-like) frequency and a share of nulls."""
    weights = 1 / np.arange(1, len(values) + 1) ** 0.7
    codes = rng.choice(len(values), size=n, p=weights / weights.sum())
    series = pl.Series(values, dtype=pl.String).gather(codes)
    return series.scatter(np.flatnonzero(rng.random(n) < null), None) if null else series


def _flag(rng: np.random.Generator, share: float, n: int, null: float = 0.02) -> pl.Series:
    values = pl.Series(rng.random(n) < share)
    return values.scatter(np.flatnonzero(rng.random(n) < null), None)


def _technologies(rng: np.random.Generator, n: int) -> pl.Series:
    lengths = rng.integers(0, 5, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = rng.choice(len(TECHNOLOGIES), size=int(offsets[-1]))
    values = pa.array(np.asarray(TECHNOLOGIES, dtype=object)[flat], type=pa.string())
    mask = pa.array(rng.random(n) < 0.2)  # no technology data at all
    array = pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pl.Series("technologies", array)


def synthetic_enriched_leads(n: int, seed: int = 7, as_of: datetime = AS_OF) -> pl.DataFrame:
    """`n` leads with every contract column, realistic null shares and skewed values; about
    1% carry no scoring input at all."""
    rng = np.random.default_rng(seed)
    ids = pl.Series(np.arange(n)).cast(pl.String)
    free = _flag(rng, 0.25, n)
    frame = pl.DataFrame(
        {
            "entity_id": "e" + ids,
            "email": "person" + ids + "@example" + (ids.str.slice(-2)) + ".com",
            "email_valid": _flag(rng, 0.95, n),
            "is_free_email": free,
            "is_role_email": _flag(rng, 0.05, n),
            "is_disposable_email": _flag(rng, 0.01, n),
            "email_deliverability": _pick(rng, DELIVERABILITY, n, 0.1),
            "email_verification": _pick(rng, VERIFICATION, n, 0.6),
            "company": "Company " + (ids.str.slice(0, 4)),
            "domain": "company" + (ids.str.slice(0, 4)) + ".com",
            "industry": _pick(rng, INDUSTRIES, n, 0.15),
            "employee_range": _pick(rng, EMPLOYEE_RANGES, n, 0.2),
            "revenue_range": _pick(rng, REVENUE_RANGES, n, 0.4),
            "country": _pick(rng, COUNTRIES, n, 0.1),
            "hq_country": _pick(rng, COUNTRIES, n, 0.3),
            "seniority": _pick(rng, SENIORITIES, n, 0.1),
            "department": _pick(rng, DEPARTMENTS, n, 0.25),
            "job_title": _pick(rng, ("VP Sales", "Marketing Manager", "Engineer", "CEO"), n, 0.1),
            "lead_source": _pick(rng, SOURCES, n, 0.1),
            "created_at": (
                np.datetime64(as_of - timedelta(days=730), "us")
                + rng.integers(0, 730 * 86_400, size=n).astype("timedelta64[s]")
            ).astype("datetime64[us]"),
            "phone_e164": (
                "+1" + pl.Series(rng.integers(2_000_000_000, 9_999_999_999, size=n)).cast(pl.String)
            ).scatter(np.flatnonzero(rng.random(n) < 0.4), None),
            "technologies": _technologies(rng, n),
        }
    )
    # ~1% of leads: nothing the rules can use (only an id).
    blank = pl.Series(rng.random(n) < 0.01)
    keep = {"entity_id", "email", "company", "domain", "job_title"}
    frame = frame.with_columns(
        pl.when(~pl.lit(blank)).then(pl.col(c)).alias(c) for c in frame.columns if c not in keep
    )
    return frame.select([pl.col(c).cast(t) for c, t in ENRICHED_LEADS_SCHEMA.items()])
