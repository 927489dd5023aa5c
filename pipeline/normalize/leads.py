"""raw_leads -> normalized_leads + rejected_rows, as one vectorized pass per field."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from pipeline.normalize import ENGINE, empty_to_null, squash_spaces
from pipeline.normalize.companies import company_columns
from pipeline.normalize.countries import country_expr
from pipeline.normalize.dates import parse_dates
from pipeline.normalize.distinct import attach, collect_distinct
from pipeline.normalize.domains import host_expr, registrable_domains
from pipeline.normalize.emails import additional_emails, email_columns
from pipeline.normalize.mail_domains import personal_mail_series
from pipeline.normalize.names import name_columns, name_specs
from pipeline.normalize.phones import parse_phones
from pipeline.normalize.titles import title_columns
from pipeline.schema import LEAD_FIELDS, NORMALIZED_SCHEMA, REJECTED_ROWS_SCHEMA, conform

REJECT_REASONS = {
    "malformed_row": "the row itself is broken (wrong number of fields, invalid JSON)",
    "empty_row": "every field is empty",
    "no_identity": "no valid email, no valid phone and no person name",
}


# normalize_fields' columns after the raw ones, in the order callers have always seen.
_ADDED_COLUMNS = (
    "name_prefix",
    "middle_name",
    "name_suffix",
    "company",
    "company_key",
    "job_title",
    "seniority",
    "department",
    "country",
    "_website_host",
    "email_valid",
    "email_canonical",
    "email_domain",
    "is_role_email",
    "is_free_email",
    "phone_raw",
    "phone_e164",
    "phone_valid",
    "phone_extension",
    "mobile_e164",
    "domain",
)
_TEXT_COLUMNS = ("city", "state", "postcode", "address", "lead_source", "notes", "linkedin_url")


def _clean_text(name: str) -> pl.Expr:
    text = squash_spaces(pl.col(name)).str.strip_chars()
    return empty_to_null(text).alias(name)


def _country(raw: pl.Expr) -> list[pl.Expr]:
    return [country_expr(raw).alias("country")]


def _website(raw: pl.Expr) -> list[pl.Expr]:
    return [host_expr(raw).alias("_website_host")]


def _parse_phones(frame: pl.DataFrame, default_country: str) -> pl.DataFrame:
    """phone_e164, phone_valid, phone_extension, phone_region, mobile_e164.

    The mobile on its own too (a person's mobile follows them from job to job), parsed in
    the same call so the phone tables and per-call overheads are paid once. A mobile that
    is the phone_raw text itself (there is no phone, or the same number twice) is not parsed
    again: same text and region, same answer.
    """
    n = frame.height
    same = (frame["mobile_phone"] == frame["phone_raw"]).fill_null(False)
    both = parse_phones(
        pl.concat([frame["phone_raw"], frame["mobile_phone"].set(same, None)]),
        pl.concat([frame["country"], frame["country"]]),
        default_country,
    )
    phones = both.slice(0, n)
    mobile = phones["phone_e164"].zip_with(same, both["phone_e164"].slice(n, n))
    return phones.with_columns(mobile.alias("mobile_e164"))


@dataclass(frozen=True)
class NormalizedLeads:
    """normalize_leads' answer. It still unpacks as `leads, rejected = normalize_leads(...)`,
    the pair it used to be."""

    leads: pl.DataFrame  # NORMALIZED_SCHEMA
    rejected: pl.DataFrame  # REJECTED_ROWS_SCHEMA
    # How numeric dates were read, per source file and column (dates.ORDER_SCHEMA).
    date_orders: pl.DataFrame

    def __iter__(self) -> Iterator[pl.DataFrame]:
        return iter((self.leads, self.rejected))


def normalize_fields(raw: pl.DataFrame, default_country: str = "US") -> pl.DataFrame:
    """Every canonical field cleaned and typed; flags instead of drops for bad values."""
    return _normalize_fields(raw, default_country)[0]


def _normalize_fields(raw: pl.DataFrame, default_country: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """normalize_fields' frame, and the day/month orders its dates were read in.

    The fields are independent, so they are computed as one batch of lazy plans
    (`collect_all` runs them side by side on the cores). The phones need only the country
    and the dates nothing: both run in threads meanwhile, so that their Python steps overlap
    polars' work.
    """
    lazy = raw.lazy()
    first = attach(
        raw.select("mobile_phone"),
        collect_distinct(
            raw,
            [("country", _country)],
            [lazy.select(pl.coalesce("phone", "mobile_phone").alias("phone_raw"))],
        ),
    )
    with ThreadPoolExecutor(2) as pool:
        phones = pool.submit(_parse_phones, first, default_country)
        dates = pool.submit(parse_dates, raw["created_at"], raw["source_file"], default_country)
        specs = [
            *name_specs("first_name", "last_name", "full_name"),
            ("company", company_columns),
            ("job_title", title_columns),
            ("website", _website),
        ]
        parts = collect_distinct(
            raw,
            specs,
            [email_columns(lazy, "email"), lazy.select(*[_clean_text(c) for c in _TEXT_COLUMNS])],
        )
        frame = attach(raw, [*parts, first.select("country", "phone_raw")])
        # A company's domain: its website, else a work email's domain (not a free-mail or
        # throwaway provider's; a personal address before a role one).
        work_mail = ~pl.col("email_domain").is_in(personal_mail_series())
        host = frame.select(
            pl.coalesce(
                "_website_host",
                pl.when(work_mail & ~pl.col("is_role_email")).then("email_domain"),
                pl.when(work_mail).then("email_domain"),
            )
        ).to_series()
        domain = registrable_domains(host).alias("domain")
        parsed, created_at = phones.result(), dates.result()
    frame = (
        frame.lazy()
        .pipe(name_columns)
        .with_columns(
            created_at.values.alias("created_at"),
            parsed["phone_e164"],
            parsed["phone_valid"],
            parsed["phone_extension"],
            parsed["mobile_e164"],
            pl.coalesce(pl.col("country"), parsed["phone_region"]).alias("country"),
            domain,
        )
        .collect(engine=ENGINE)
    )
    added = [c for c in _ADDED_COLUMNS if c in frame.columns]
    return frame.select([c for c in frame.columns if c not in added] + added), created_at.orders


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


def normalize_leads(raw: pl.DataFrame, default_country: str = "US") -> NormalizedLeads:
    """normalized_leads and rejected_rows (every raw row lands in exactly one of the two),
    and how each file's numeric dates were read (`default_country`: LEADS_DEFAULT_COUNTRY,
    for phone numbers without a country and dates no value of the file decides)."""
    all_empty = pl.all_horizontal(pl.col(list(LEAD_FIELDS)).is_null())
    fields, date_orders = _normalize_fields(raw, default_country)
    frame = fields.with_columns(
        additional_emails(fields["alternate_values"], fields["email_canonical"]),
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
        .alias("_reason"),
    )
    if frame["_reason"].null_count() == frame.height:  # the usual case: no copies
        accepted, rejected = frame, frame.clear()
    else:
        accepted = frame.filter(pl.col("_reason").is_null())
        rejected = frame.filter(pl.col("_reason").is_not_null())
    accepted = conform(accepted, NORMALIZED_SCHEMA)
    rejected = conform(
        rejected.with_columns(pl.col("_reason").alias("reason"), _reject_detail().alias("detail")),
        REJECTED_ROWS_SCHEMA,
    )
    return NormalizedLeads(accepted, rejected, date_orders)
