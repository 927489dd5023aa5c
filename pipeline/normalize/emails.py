"""Email cleanup, validity, a canonical form for matching, and role / free-mail flags
(free-mail: the maintained list in `mail_domains`)."""

from __future__ import annotations

import polars as pl

from pipeline.normalize import ENGINE, empty_to_null
from pipeline.normalize.mail_domains import free_mail_series

# Pragmatic syntax check (RFC 5322 is far looser than what mail servers accept in practice).
LOCAL_PATTERN = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
# The top-level label: letters, or an internationalized TLD in its ASCII form (.xn--p1ai).
DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24}|xn--[a-z0-9-]{1,59})$"
EMAIL_PATTERN = LOCAL_PATTERN[:-1] + "@" + DOMAIN_PATTERN[1:]

# Providers that ignore dots in the local part.
DOT_INSENSITIVE_DOMAINS = ("gmail.com", "googlemail.com")

ROLE_LOCAL_PARTS = (
    "info", "sales", "contact", "admin", "support", "hello", "office", "marketing", "team",
    "enquiries", "enquiry", "inquiries", "help", "noreply", "no-reply", "billing", "accounts",
    "hr", "jobs", "careers", "press", "media", "webmaster", "postmaster", "service", "mail",
    "kontakt", "vertrieb", "bonjour", "contato", "reception", "general", "orders",
)  # fmt: skip


def email_columns(frame: pl.LazyFrame, column: str = "email") -> pl.LazyFrame:
    """email (cleaned), email_valid, email_canonical, email_domain, is_role_email and
    is_free_email, one row per row of `frame` (so it can run beside other stages).

    Why one regex: neither part's pattern admits an '@', so EMAIL_PATTERN matching is the
    same as "exactly one '@', the local part matches LOCAL_PATTERN and the domain
    DOMAIN_PATTERN"; the parts are then the two sides of that '@', cut at its offset (a
    byte offset, which is also the character offset: a valid address is ASCII).
    """
    # Lower-cased before the "mailto:" prefix is cut, so "MAILTO:" goes too (schemes are
    # case-insensitive); lower-casing neither makes nor changes the stripped marks.
    cleaned = (
        pl.col(column)
        .str.strip_chars()
        .str.to_lowercase()
        .str.strip_prefix("mailto:")
        .str.strip_chars(" <>\"'.,;")
    )
    email, valid, at = pl.col("email"), pl.col("email_valid"), pl.col("_e_at")
    local, domain, untagged = pl.col("_e_local"), pl.col("_e_domain"), pl.col("_e_untagged")
    return (
        frame.select(cleaned.alias("email"))
        .with_columns(empty_to_null(email).alias("email"))
        .with_columns(email.str.contains(EMAIL_PATTERN).fill_null(False).alias("email_valid"))
        # Only valid addresses are taken apart: the rest stay null, which costs nothing.
        .with_columns(pl.when(valid).then(email.str.find("@", literal=True)).alias("_e_at"))
        .with_columns(
            email.str.head(at).alias("_e_local"), email.str.slice(at + 1).alias("_e_domain")
        )
        .with_columns(  # the local part up to its first '+' (a sub-address tag)
            local.str.head(local.str.find("+", literal=True).fill_null(1 << 40)).alias(
                "_e_untagged"
            )
        )
        .select(
            "email",
            "email_valid",
            pl.when(domain.is_in(DOT_INSENSITIVE_DOMAINS))
            .then(untagged.str.replace_all(".", "", literal=True) + "@gmail.com")
            .otherwise(untagged + "@" + domain)
            .alias("email_canonical"),
            domain.alias("email_domain"),
            (valid & local.is_in(ROLE_LOCAL_PARTS)).alias("is_role_email"),
            (valid & domain.is_in(free_mail_series())).alias("is_free_email"),
        )
    )


def normalize_emails(frame: pl.DataFrame, column: str = "email") -> pl.DataFrame:
    """Adds (or replaces) the `email_columns` columns."""
    return frame.with_columns(
        email_columns(frame.lazy(), column).collect(engine=ENGINE).get_columns()
    )


def additional_emails(alternates: pl.Series, primary: pl.Series) -> pl.Series:
    """Each row's other valid addresses, canonical and distinct, from `alternate_values`
    (a file that names the email twice: a second address is still the same person's);
    the row's own canonical email is left out. Only rows that have alternates are worked on.
    """
    empty = pl.Series("additional_emails", [None] * len(alternates), dtype=pl.List(pl.String))
    rows = alternates.is_not_null()
    if not rows.any():
        return empty
    decoded = alternates.str.json_decode(pl.Struct({"email": pl.List(pl.String)}))
    others = (
        pl.DataFrame({"_row": pl.int_range(0, len(alternates), eager=True), "email": decoded})
        .filter(rows)
        .with_columns(pl.col("email").struct.field("email"))
        .explode("email")
        .drop_nulls("email")
    )
    if others.is_empty():
        return empty
    canonical = (
        email_columns(others.lazy(), "email").collect().select("email_valid", "email_canonical")
    )
    found = (
        others.select("_row")
        .hstack(canonical)
        .filter(pl.col("email_valid"))
        .join(
            pl.DataFrame({"_row": pl.int_range(0, len(primary), eager=True), "_own": primary}),
            on="_row",
        )
        .filter(pl.col("email_canonical") != pl.col("_own").fill_null(""))
        .group_by("_row", maintain_order=True)
        .agg(pl.col("email_canonical").unique(maintain_order=True).alias("additional_emails"))
    )
    return (
        pl.DataFrame({"_row": pl.int_range(0, len(alternates), eager=True)})
        .join(found, on="_row", how="left")
        .sort("_row")["additional_emails"]
    )
