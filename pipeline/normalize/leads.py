"""raw_leads -> normalized_leads + rejected_rows, as one vectorized pass per field."""

from __future__ import annotations

import polars as pl

from pipeline.normalize.companies import company_columns
from pipeline.normalize.countries import country_expr
from pipeline.normalize.dates import parse_datetimes
from pipeline.normalize.distinct import on_distinct
from pipeline.normalize.domains import host_expr, registrable_domains
from pipeline.normalize.emails import normalize_emails
from pipeline.normalize.names import normalize_names
from pipeline.normalize.phones import parse_phones
from pipeline.normalize.titles import title_columns
from pipeline.schema import LEAD_FIELDS, NORMALIZED_SCHEMA, REJECTED_ROWS_SCHEMA, conform

REJECT_REASONS = {
    "malformed_row": "the row itself is broken (wrong number of fields, invalid JSON)",
    "empty_row": "every field is empty",
    "no_identity": "no valid email, no valid phone and no person name",
}


def _clean_text(name: str) -> pl.Expr:
    text = pl.col(name).str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text).alias(name)


def normalize_fields(raw: pl.DataFrame, default_country: str = "US") -> pl.DataFrame:
    """Every canonical field cleaned and typed; flags instead of drops for bad values."""
    frame = normalize_names(raw, "first_name", "last_name", "full_name")
    frame = on_distinct(frame, "company", company_columns)
    frame = on_distinct(frame, "job_title", title_columns)
    frame = on_distinct(frame, "country", lambda c: [country_expr(c).alias("country")])
    frame = on_distinct(frame, "website", lambda c: [host_expr(c).alias("_website_host")])
    frame = normalize_emails(frame, "email")
    frame = (
        frame.lazy()
        .with_columns(
            parse_datetimes(frame["created_at"]).alias("created_at"),
            pl.coalesce(pl.col("phone"), pl.col("mobile_phone")).alias("phone_raw"),
            *[_clean_text(c) for c in ("city", "state", "postcode", "address", "lead_source")],
            _clean_text("notes"),
            _clean_text("linkedin_url"),
        )
        .collect()
    )
    # The mobile on its own too (a person's mobile follows them from job to job), parsed in
    # the same call so the phone tables and per-call overheads are paid once.
    n = frame.height
    both = parse_phones(
        pl.concat([frame["phone_raw"], frame["mobile_phone"]]),
        pl.concat([frame["country"], frame["country"]]),
        default_country,
    )
    phones, mobiles = both.slice(0, n), both.slice(n, n)
    # A company's domain: its website, else a work (non-free-mail) email's domain.
    host = frame.select(
        pl.coalesce(
            "_website_host",
            pl.when(~pl.col("is_free_email") & ~pl.col("is_role_email")).then("email_domain"),
            pl.when(~pl.col("is_free_email")).then("email_domain"),
        )
    ).to_series()
    frame = frame.with_columns(
        phones["phone_e164"],
        phones["phone_valid"],
        phones["phone_extension"],
        mobiles["phone_e164"].alias("mobile_e164"),
        pl.coalesce(pl.col("country"), phones["phone_region"]).alias("country"),
        registrable_domains(host).alias("domain"),
    )
    return frame


def _reject_detail() -> pl.Expr:
    """Plain words naming the file, row and fields, e.g. for a sales-ops person to fix."""
    where = pl.format("{} row {}", pl.col("source_file"), pl.col("row_number"))
    email_note = pl.when(pl.col("email").is_not_null()).then(
        pl.format("email '{}' is not a valid address", pl.col("email"))
    )
    phone_note = pl.when(pl.col("phone_raw").is_not_null()).then(
        pl.format("phone '{}' is not a valid number", pl.col("phone_raw"))
    )
    notes = pl.concat_str(email_note, phone_note, separator="; ", ignore_nulls=True)
    return (
        pl.when(pl.col("parse_error").is_not_null())
        .then(pl.format("{}: {}", where, pl.col("parse_error")))
        .when(pl.col("_reason") == "empty_row")
        .then(pl.format("{}: every field is empty", where))
        .otherwise(
            pl.concat_str(
                pl.format("{}: no usable identity (fields email, phone, name)", where),
                pl.when(notes.str.len_chars() > 0).then(notes),
                separator="; ",
                ignore_nulls=True,
            )
        )
    )


def normalize_leads(
    raw: pl.DataFrame, default_country: str = "US"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(normalized_leads, rejected_rows): every raw row lands in exactly one of the two."""
    all_empty = pl.all_horizontal(pl.col(list(LEAD_FIELDS)).is_null())
    frame = normalize_fields(raw, default_country).with_columns(
        pl.when(pl.col("parse_error").is_not_null())
        .then(pl.lit("malformed_row"))
        .when(all_empty)
        .then(pl.lit("empty_row"))
        .when(
            ~pl.col("email_valid")
            & ~pl.col("phone_valid")
            & pl.col("first_name").is_null()
            & pl.col("last_name").is_null()
        )
        .then(pl.lit("no_identity"))
        .alias("_reason")
    )
    accepted = conform(frame.filter(pl.col("_reason").is_null()), NORMALIZED_SCHEMA)
    rejected = frame.filter(pl.col("_reason").is_not_null())
    rejected = conform(
        rejected.with_columns(pl.col("_reason").alias("reason"), _reject_detail().alias("detail")),
        REJECTED_ROWS_SCHEMA,
    )
    return accepted, rejected
