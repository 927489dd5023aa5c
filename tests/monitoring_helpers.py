"""Shared pieces of the monitoring tests: accounts from YAML-like dicts, feed files, items."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import yaml

from pipeline.monitoring.accounts import ACCOUNT_SCHEMA
from pipeline.monitoring.config import AccountEntry, SourcesFile

DATA = Path(__file__).parent / "data" / "monitoring"


def accounts_frame(entries: list[dict], owners: dict[str, str] | None = None) -> pl.DataFrame:
    rows = []
    for raw in entries:
        e = AccountEntry(**raw)
        key = e.domain or f"name:{e.name}"
        rows.append(
            {
                "account_key": key,
                "name": e.name or e.domain,
                "domain": e.domain,
                "aliases": e.aliases,
                "owner": (owners or {}).get(key, e.owner),
                "owner_from": "test",
                "country": e.country,
                "source": "config",
                "lead_count": 0,
                "context": e.context,
                "exclude": e.exclude,
                "subsidiaries": json.dumps([s.model_dump() for s in e.subsidiaries]),
                "query": e.name or e.domain,
            }
        )
    return pl.DataFrame(rows, schema=ACCOUNT_SCHEMA)


def labelled() -> dict:
    return yaml.safe_load((DATA / "labelled_items.yaml").read_text())


def items_frame(rows: list[dict]) -> pl.DataFrame:
    """Fetched items as sources hand them over (ITEM_SCHEMA), defaults filled in."""
    from pipeline.monitoring.sources import ITEM_SCHEMA

    full = [
        {
            "source": r.get("source", "test"),
            "source_kind": r.get("source_kind", "folder"),
            "title": r["title"],
            "summary": r.get("summary", ""),
            "url": r.get("url"),
            "published_at": r.get("published_at", datetime(2026, 12, 3, 12, tzinfo=UTC)),
            "published_assumed": r.get("published_assumed", False),
            "publisher": r.get("publisher"),
            "raw_sha256": r.get("raw_sha256", "0" * 64),
        }
        for r in rows
    ]
    return pl.DataFrame(full, schema=ITEM_SCHEMA)


def sources_file(sources: list[dict]) -> SourcesFile:
    return SourcesFile.model_validate({"sources": sources})


def rss(title: str, items: list[dict], link: str = "https://news.example.com/") -> str:
    """An RSS 2.0 document; each item dict has title, link, and optionally description,
    pubDate (raw text)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>{link}</link><description>test</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{item['title']}</title>")
        if item.get("link") is not None:
            parts.append(f"<link>{item['link']}</link>")
        if item.get("description"):
            parts.append(f"<description>{item['description']}</description>")
        if item.get("pubDate"):
            parts.append(f"<pubDate>{item['pubDate']}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)
