"""The accounts to watch: companies of the CRM-synced golden leads, plus MONITORING_ACCOUNTS.

One account per company domain (or per company name when no lead has a domain): its name is
the company as most leads write it, the other spellings are aliases. The owner, first found:
the accounts file, an `owner` column on the leads, the CRM's owner property as the CRM last
reported it (webhook changes, mapped from owner ids to addresses by `owners.crm_owner_ids`),
the file's territories by country, its default.
"""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy import Engine, select

from pipeline.monitoring.config import AccountEntry, AccountsFile
from pipeline.monitoring.names import strip_legal_cased
from pipeline.monitoring.text import fold
from pipeline.store.tables import crm_contact_changes

ACCOUNT_SCHEMA = {
    "account_key": pl.String,
    "name": pl.String,
    "domain": pl.String,
    "aliases": pl.List(pl.String),
    "owner": pl.String,
    "owner_from": pl.String,
    "country": pl.String,
    "source": pl.String,
    "lead_count": pl.Int64,
    "context": pl.List(pl.String),
    "exclude": pl.List(pl.String),
    "subsidiaries": pl.String,  # JSON: [{name, domain, aliases}]
    "query": pl.String,  # the phrase search APIs are asked for
}


def _key(domain: str | None, name: str | None) -> str:
    return domain if domain else f"name:{fold(name or '')}"


def crm_owners(engine: Engine | None, property_name: str) -> dict[str, str]:
    """crm_id -> the owner value the CRM last reported (HubSpot webhooks' property changes)."""
    if engine is None:
        return {}
    t = crm_contact_changes
    query = (
        select(t.c.crm_id, t.c.value)
        .where(t.c.property == property_name, t.c.change == "property")
        .order_by(t.c.occurred_at, t.c.id)
    )
    with engine.connect() as conn:
        return {crm_id: value for crm_id, value in conn.execute(query).all() if value}


def from_leads(
    leads: pl.DataFrame, crm: pl.DataFrame, owners_by_crm_id: dict[str, str]
) -> pl.DataFrame:
    """One row per company of the leads the CRM sync has (status synced)."""
    if leads.is_empty() or crm.is_empty() or "entity_id" not in crm.columns:
        return pl.DataFrame(schema=ACCOUNT_SCHEMA)
    synced = crm.filter(pl.col("status") == "synced").select("entity_id", "crm_id")
    cols = ["entity_id", "company", "domain", "country"]
    has_owner = "owner" in leads.columns
    frame = (
        leads.select(*cols, *(["owner"] if has_owner else []))
        .join(synced, on="entity_id", how="inner")
        .filter(pl.col("company").is_not_null() | pl.col("domain").is_not_null())
        .with_columns(
            company=pl.col("company").str.strip_chars(),
            crm_owner=pl.col("crm_id").replace_strict(owners_by_crm_id, default=None),
        )
    )
    if frame.is_empty():
        return pl.DataFrame(schema=ACCOUNT_SCHEMA)
    frame = frame.with_columns(
        account_key=pl.coalesce(
            pl.col("domain"),
            pl.lit("name:") + pl.col("company").map_elements(fold, return_dtype=pl.String),
        )
    )
    names = (
        frame.filter(pl.col("company").is_not_null())
        .group_by("account_key", "company")
        .agg(n=pl.len())
        .sort(["account_key", "n", "company"], descending=[False, True, False])
        .group_by("account_key", maintain_order=True)
        .agg(name=pl.col("company").first(), spellings=pl.col("company"))
    )
    grouped = frame.group_by("account_key").agg(
        domain=pl.col("domain").drop_nulls().first(),
        country=pl.col("country").drop_nulls().mode().sort().first(),
        lead_count=pl.len(),
        lead_owner=(
            pl.col("owner").drop_nulls().mode().sort().first()
            if has_owner
            else pl.lit(None, pl.String)
        ),
        crm_owner=pl.col("crm_owner").drop_nulls().mode().sort().first(),
    )
    accounts = grouped.join(names, on="account_key", how="left").with_columns(
        name=pl.coalesce("name", "domain")
    )
    rows = []
    for r in accounts.iter_rows(named=True):
        base = fold(strip_legal_cased(r["name"]))
        aliases = sorted({s for s in (r["spellings"] or []) if fold(strip_legal_cased(s)) != base})
        owner, owner_from = None, None
        if r["lead_owner"]:
            owner, owner_from = r["lead_owner"], "leads"
        elif r["crm_owner"]:
            owner, owner_from = r["crm_owner"], "crm"
        rows.append(
            {
                "account_key": r["account_key"],
                "name": r["name"],
                "domain": r["domain"],
                "aliases": aliases,
                "owner": owner,
                "owner_from": owner_from,
                "country": r["country"],
                "source": "crm",
                "lead_count": r["lead_count"],
                "context": [],
                "exclude": [],
                "subsidiaries": "[]",
                "query": None,
            }
        )
    return pl.DataFrame(rows, schema=ACCOUNT_SCHEMA)


def _merge(row: dict, entry: AccountEntry) -> dict:
    row = dict(row)
    if entry.name and fold(entry.name) != fold(row["name"] or ""):
        if row["source"] == "config" and not row["name"]:
            row["name"] = entry.name
        else:
            row["aliases"] = sorted({*row["aliases"], entry.name})
    row["aliases"] = sorted({*row["aliases"], *entry.aliases})
    row["context"] = sorted({*row["context"], *entry.context})
    row["exclude"] = sorted({*row["exclude"], *entry.exclude})
    subs = json.loads(row["subsidiaries"]) + [s.model_dump() for s in entry.subsidiaries]
    row["subsidiaries"] = json.dumps(subs, sort_keys=True)
    if entry.owner:
        row["owner"], row["owner_from"] = entry.owner, "accounts file"
    if entry.country:
        row["country"] = entry.country.upper()
    if row["source"] == "crm":
        row["source"] = "crm+config"
    return row


def monitored_accounts(
    leads: pl.DataFrame,
    crm: pl.DataFrame,
    config: AccountsFile,
    engine: Engine | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """(accounts, what the exclusions removed)."""
    crm_ids = crm_owners(engine, config.owners.crm_owner_property)
    mapped = {k: config.owners.crm_owner_ids.get(v, v) for k, v in crm_ids.items()}
    base = from_leads(leads, crm, mapped)
    rows = {r["account_key"]: r for r in base.iter_rows(named=True)}
    by_name = {fold(strip_legal_cased(r["name"] or "")): k for k, r in rows.items()}
    for entry in config.accounts:
        key = entry.domain or by_name.get(fold(strip_legal_cased(entry.name or "")))
        key = key or _key(None, entry.name)
        if key not in rows:
            rows[key] = {
                "account_key": key,
                "name": entry.name or entry.domain,
                "domain": entry.domain,
                "aliases": [],
                "owner": None,
                "owner_from": None,
                "country": None,
                "source": "config",
                "lead_count": 0,
                "context": [],
                "exclude": [],
                "subsidiaries": "[]",
                "query": None,
            }
        rows[key] = _merge(rows[key], entry)
    removed = []
    for ex in config.exclude:
        for key in list(rows):
            row = rows[key]
            hit_domain = ex.domain and row["domain"] == ex.domain
            hit_name = ex.name and fold(strip_legal_cased(ex.name)) in {
                fold(strip_legal_cased(n)) for n in [row["name"] or "", *row["aliases"]]
            }
            if hit_domain or hit_name:
                removed.append(f"{row['name']} ({key})")
                del rows[key]
    territories = {c: t.owner for t in config.owners.territories for c in t.countries}
    for row in rows.values():
        if not row["owner"] and row["country"] in territories:
            row["owner"], row["owner_from"] = territories[row["country"]], "territory"
        if not row["owner"] and config.owners.default:
            row["owner"], row["owner_from"] = config.owners.default, "default"
        if row["owner"]:
            row["owner"] = row["owner"].strip().lower()
        row["query"] = strip_legal_cased(row["name"] or row["domain"] or "")
    frame = pl.DataFrame(list(rows.values()), schema=ACCOUNT_SCHEMA).sort("account_key")
    return frame, removed


def query_phrases(accounts: pl.DataFrame) -> list[tuple[str, str]]:
    """(account_key, phrase) for the search APIs: each account's name, and its domain."""
    out = []
    for key, query, domain in accounts.select("account_key", "query", "domain").iter_rows():
        if query:
            out.append((key, query))
        if domain:
            out.append((key, domain))
    return out
