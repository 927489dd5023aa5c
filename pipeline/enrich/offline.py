"""The offline provider: what can be known without a network or a key.

Free-mail, disposable and role addresses; a company name and website guessed from a business
email domain; a country from the phone number; and a deliverability guess from syntax and
domain class. All vectorized over the frame.
"""

from __future__ import annotations

import polars as pl

from pipeline.normalize.emails import email_columns
from pipeline.normalize.mail_domains import disposable_domains, free_mail_series
from pipeline.normalize.phones import parse_phones

OFFLINE = "offline"
OFFLINE_FIELDS = ("company", "website", "country")

# First labels of a registrable domain that are not company names.
_GENERIC_LABELS = ("mail", "email", "online", "web", "info", "www")


def company_from_domain(domain: pl.Expr) -> pl.Expr:
    """`acme-robotics.co.uk` -> `Acme Robotics`: the first label, words title-cased."""
    label = domain.str.split(".").list.first()
    return (
        pl.when(label.is_in(_GENERIC_LABELS) | (label.str.len_chars() < 2))
        .then(None)
        .otherwise(label.str.replace_all(r"[-_]+", " ").str.to_titlecase())
    )


def email_quality(frame: pl.DataFrame) -> pl.DataFrame:
    """email_valid, is_free_email, is_disposable_email, is_role_email, email_deliverability
    (a guess: undeliverable for bad syntax or a throwaway domain, risky for role addresses)."""
    flags = email_columns(frame.lazy().select("email")).collect()
    domain = flags["email_domain"]
    disposable = domain.is_in(list(disposable_domains())).fill_null(False)
    return pl.DataFrame(
        {
            "email_valid": flags["email_valid"],
            "is_free_email": flags["is_free_email"],
            "is_disposable_email": disposable,
            "is_role_email": flags["is_role_email"].fill_null(False),
            "_email_domain": domain,
        }
    ).with_columns(
        pl.when(flags["email"].is_null())
        .then(pl.lit("unknown"))
        .when(~pl.col("email_valid") | pl.col("is_disposable_email"))
        .then(pl.lit("undeliverable"))
        .when(pl.col("is_role_email"))
        .then(pl.lit("risky"))
        .otherwise(pl.lit("deliverable"))
        .alias("email_deliverability")
    )


def offline_fields(frame: pl.DataFrame, default_country: str = "US") -> pl.DataFrame:
    """The offline provider's answers, one row per row of `frame` (which needs `email`,
    `domain` and `phone_e164`): the email_quality columns plus company, website, country."""
    quality = email_quality(frame)
    domain = pl.col("domain")
    business_domain = (
        pl.when(domain.is_not_null() & ~domain.is_in(free_mail_series()))
        .then(domain)
        .when(~pl.col("is_free_email") & ~pl.col("is_disposable_email"))
        .then(pl.col("_email_domain"))
    )
    country = (
        parse_phones(frame["phone_e164"], None, default_country)["phone_region"]
        if frame.height
        else pl.Series([], dtype=pl.String)
    )
    return (
        pl.concat([frame.select("domain"), quality], how="horizontal")
        .with_columns(business_domain.alias("_business_domain"), country.alias("country"))
        .select(
            pl.exclude("domain", "_email_domain", "_business_domain", "country"),
            company_from_domain(pl.col("_business_domain")).alias("company"),
            pl.when(pl.col("_business_domain").is_not_null())
            .then(pl.lit("https://") + pl.col("_business_domain"))
            .alias("website"),
            pl.col("country"),
            pl.col("_business_domain").alias("business_domain"),
        )
    )
