"""The operational store: what processes write concurrently (webhook inbox, audit log, and
later the CRM ledger, enrichment cache and sequence state). SQLite (WAL) by default,
Postgres via `LEADS_DATABASE_URL`; one schema, migrated by Alembic on first use."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine

from pipeline.store.engine import create_store_engine, redact_url
from pipeline.store.migrate import upgrade


@cache
def open_store(url: str) -> Engine:
    """The engine for `url`, its schema brought to the latest revision (once per process)."""
    engine = create_store_engine(url)
    try:
        upgrade(engine)
    except Exception as exc:  # the URL may carry a password: never echo it unredacted
        raise RuntimeError(
            f"could not open the operational store at {redact_url(url)}: "
            f"{type(exc).__name__}: {str(exc).replace(url, redact_url(url))}"
        ) from exc
    return engine


__all__ = ["create_store_engine", "open_store", "redact_url"]
