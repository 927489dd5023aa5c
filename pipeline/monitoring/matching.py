"""Which items are about which accounts: vectorized, explainable matching.

Every account's names, aliases, subsidiaries, domains, company cues and exclusions are
searched in every item at once with polars' Aho-Corasick (`str.extract_many` and
`str.find_many` over the whole column), in the lower-cased text and, for names that need
capitals, in the case-kept text. The hits become a few group-bys: no Python per item.

A name hit inside a longer hit of another account ("Acme" inside "Acme Robotics") does not
count for the shorter name. What each match rests on is kept (`matched_by`, `match_text`,
`match_strength`, `in_title`), so a person can see why an item reached them.
"""

from __future__ import annotations

import polars as pl

from pipeline.monitoring.names import TIER_CAPITALIZED, TIER_CONTEXT, TIER_PLAIN, AccountIndex
from pipeline.monitoring.text import match_form

NAME_KINDS = ("name", "alias", "subsidiary")

EVENT_SCHEMA = {
    "item_idx": pl.Int64,
    "account_key": pl.String,
    "matched_by": pl.String,
    "match_text": pl.String,
    "match_strength": pl.Float64,
    "in_title": pl.Boolean,
}


def _hits(texts: pl.DataFrame, column: str, patterns: list[str]) -> pl.DataFrame:
    """(item_idx, pattern, start) of every occurrence (overlapping) of every pattern."""
    if not patterns or texts.is_empty():
        return pl.DataFrame(schema={"item_idx": pl.Int64, "pattern": pl.String, "start": pl.UInt32})
    return (
        texts.select(
            "item_idx",
            pl.col(column).str.extract_many(patterns, overlapping=True).alias("pattern"),
            pl.col(column).str.find_many(patterns, overlapping=True).alias("start"),
        )
        .explode(["pattern", "start"])
        .drop_nulls("pattern")
    )


def match_items(
    items: pl.DataFrame,
    index: AccountIndex,
    domains: pl.DataFrame | None = None,
    source_accounts: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """Events (item, account) for `items` (columns item_idx, title, summary, and optionally
    link_domain and source). `domains` maps domain -> account_key (the accounts' and their
    subsidiaries' sites) for items that link to a company's own site."""
    if items.is_empty() or index.lower.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    title_l = match_form(pl.col("title"))
    texts = items.select(
        pl.col("item_idx").cast(pl.Int64),
        (title_l + match_form(pl.col("summary"))).alias("text"),
        (
            match_form(pl.col("title"), lowercase=False)
            + match_form(pl.col("summary"), lowercase=False)
        ).alias("cased"),
        title_l.str.len_bytes().alias("title_bytes"),
    )

    lower = index.lower
    hits = (
        _hits(texts, "text", lower.get_column("pattern").unique().to_list())
        .join(texts.select("item_idx", "title_bytes"), on="item_idx")
        .join(lower, on="pattern")
        .with_columns(
            end=pl.col("start").cast(pl.Int64) + pl.col("pattern").str.len_bytes().cast(pl.Int64),
            in_title=pl.col("start") < pl.col("title_bytes"),
        )
    )

    # A name inside a longer name or domain of another account is that other account's.
    spans = hits.filter(pl.col("kind").is_in([*NAME_KINDS, "domain"])).select(
        "item_idx", "account_key", "start", "end"
    )
    names = hits.filter(pl.col("kind").is_in(NAME_KINDS))
    dominated = (
        names.select("item_idx", "account_key", "start", "end", "pattern")
        .join(spans, on="item_idx", suffix="_other")
        .filter(
            (pl.col("account_key_other") != pl.col("account_key"))
            & (pl.col("start_other") <= pl.col("start"))
            & (pl.col("end_other") >= pl.col("end"))
            & ((pl.col("end_other") - pl.col("start_other")) > (pl.col("end") - pl.col("start")))
        )
        .select("item_idx", "account_key", "start", "pattern")
        .unique()
    )
    names = names.join(dominated, on=["item_idx", "account_key", "start", "pattern"], how="anti")

    # Capitals where a name needs them (case-kept text, case-kept patterns).
    need_caps = names.filter(pl.col("tier") != TIER_PLAIN)
    capitalized = pl.DataFrame(
        schema={"item_idx": pl.Int64, "account_key": pl.String, "has_caps": pl.Boolean}
    )
    if not need_caps.is_empty() and not index.cased.is_empty():
        cased_items = texts.join(need_caps.select("item_idx").unique(), on="item_idx")
        wanted = index.cased.join(need_caps.select("account_key").unique(), on="account_key")
        capitalized = (
            _hits(cased_items, "cased", wanted.get_column("pattern").unique().to_list())
            .join(wanted, on="pattern")
            .join(
                need_caps.select("item_idx", "account_key").unique(), on=["item_idx", "account_key"]
            )
            .select("item_idx", "account_key")
            .unique()
            .with_columns(has_caps=pl.lit(True))
        )
    names = names.join(capitalized, on=["item_idx", "account_key"], how="left").with_columns(
        pl.col("has_caps").fill_null(False)
    )
    names = names.filter((pl.col("tier") == TIER_PLAIN) | pl.col("has_caps"))

    # What else the item says about each account it names.
    signals = hits.group_by("item_idx", "account_key").agg(
        cue=(pl.col("kind") == "cue").any(),
        context=(pl.col("kind") == "context").any(),
        excluded=(pl.col("kind") == "exclude").any(),
    )
    domain_hits = hits.filter(pl.col("kind") == "domain")
    evidence = [
        names.join(signals, on=["item_idx", "account_key"], how="left")
        .filter(~pl.col("excluded").fill_null(False))
        .with_columns(
            corroborated=pl.col("cue").fill_null(False) | pl.col("context").fill_null(False)
        )
        .select(
            "item_idx",
            "account_key",
            "tier",
            "corroborated",
            matched_by=pl.col("kind"),
            match_text=pl.col("label"),
            in_title=pl.col("in_title"),
        ),
        _strong(domain_hits, "domain", pl.col("label"), pl.col("in_title")),
    ]
    if domains is not None and "link_domain" in items.columns and not domains.is_empty():
        evidence.append(
            items.select(pl.col("item_idx").cast(pl.Int64), pl.col("link_domain").cast(pl.String))
            .join(domains.rename({"domain": "link_domain"}), on="link_domain")
            .pipe(_strong, "link", pl.col("link_domain"), pl.lit(True))
        )
    if source_accounts and "source" in items.columns:
        pairs = pl.DataFrame(
            [(s, a) for s, keys in source_accounts.items() for a in keys],
            schema={"source": pl.String, "account_key": pl.String},
            orient="row",
        )
        evidence.append(
            items.select(pl.col("item_idx").cast(pl.Int64), "source")
            .join(pairs, on="source")
            .pipe(_strong, "source", pl.col("source"), pl.lit(True))
        )
    found = pl.concat(evidence, how="vertical_relaxed")
    # Proof beside a name that needs it: a cue, context word, the domain, a link or the source.
    strong = (
        found.filter(pl.col("matched_by").is_in(["domain", "link", "source"]))
        .select("item_idx", "account_key")
        .unique()
        .with_columns(strong=pl.lit(True))
    )
    found = (
        found.join(strong, on=["item_idx", "account_key"], how="left")
        .with_columns(pl.col("strong").fill_null(False))
        .filter((pl.col("tier") != TIER_CONTEXT) | pl.col("corroborated") | pl.col("strong"))
        .with_columns(match_strength=_strength())
    )
    return (
        found.sort("match_strength", "in_title", descending=True)
        .group_by("item_idx", "account_key", maintain_order=True)
        .first()
        .select(list(EVENT_SCHEMA))
        .cast(EVENT_SCHEMA)  # type: ignore[arg-type]
        .sort("item_idx", "account_key")
    )


def _strong(frame: pl.DataFrame, by: str, text: pl.Expr, in_title: pl.Expr) -> pl.DataFrame:
    """Evidence that needs no more proof (a domain, a link, the company's own source)."""
    return frame.select(
        "item_idx",
        "account_key",
        tier=pl.lit(TIER_PLAIN),
        corroborated=pl.lit(True),
        matched_by=pl.lit(by),
        match_text=text,
        in_title=in_title,
    )


def _strength() -> pl.Expr:
    """How sure the match is: what it rests on, and whether it is in the title."""
    by, title = pl.col("matched_by"), pl.col("in_title")
    base = (
        pl.when(by.is_in(["source", "link"]))
        .then(1.0)
        .when(by == "domain")
        .then(pl.when(title).then(0.95).otherwise(0.8))
        .when(pl.col("tier") == TIER_PLAIN)
        .then(pl.when(title).then(1.0).otherwise(0.75))
        .when(pl.col("tier") == TIER_CAPITALIZED)
        .then(pl.when(title).then(0.95).otherwise(0.7))
        .otherwise(pl.when(title).then(0.9).otherwise(0.65))
    )
    return pl.when(by == "subsidiary").then(base * 0.9).otherwise(base)


def domain_map(accounts: pl.DataFrame) -> pl.DataFrame:
    """domain -> account_key for the accounts' and their subsidiaries' sites."""
    import json

    rows = []
    for key, domain, subs in accounts.select("account_key", "domain", "subsidiaries").iter_rows():
        if domain:
            rows.append((domain, key))
        rows += [(s["domain"], key) for s in json.loads(subs or "[]") if s.get("domain")]
    return pl.DataFrame(rows, schema={"domain": pl.String, "account_key": pl.String}, orient="row")
