"""Column contracts between stages, in one place so checks and tests agree with the code."""

from __future__ import annotations

import polars as pl

# Canonical lead fields a source file can map its headers onto (see header_aliases.yaml).
LEAD_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "company",
    "website",
    "phone",
    "mobile_phone",
    "job_title",
    "country",
    "city",
    "state",
    "postcode",
    "address",
    "lead_source",
    "created_at",
    "linkedin_url",
    "notes",
)

# Provenance every raw row carries, so any value can be traced to a file, sheet and row.
PROVENANCE_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.String(),
    "source_file_id": pl.String(),
    "source_file": pl.String(),
    "source_sha256": pl.String(),
    "sheet": pl.String(),
    "row_number": pl.Int64(),
    "arrived_at": pl.Datetime("us"),
    # The arrival-day partition the row was loaded under (its start, UTC); the warehouse
    # replaces a partition's rows by this column, so re-runs never duplicate.
    "arrival_day": pl.Datetime("us"),
}

RAW_LEADS_SCHEMA: dict[str, pl.DataType] = {
    **PROVENANCE_SCHEMA,
    **{field: pl.String() for field in LEAD_FIELDS},
    # Further values of a field the file named twice (two Email columns), as JSON
    # {field: [values]}; the first non-blank value is the field's.
    "alternate_values": pl.String(),
    # The row exactly as it was in the file (original headers -> values), as JSON.
    "original": pl.String(),
    # Set when the row itself is broken (e.g. more fields than the header); routed to rejects.
    "parse_error": pl.String(),
}

DRIVE_FILES_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "name": pl.String(),
    "mime_type": pl.String(),
    "size_bytes": pl.Int64(),
    "sha256": pl.String(),
    "version": pl.String(),
    "modified_at": pl.Datetime("us"),
    "arrived_at": pl.Datetime("us"),
    "source": pl.String(),
    "landed_path": pl.String(),
    "arrival_day": pl.Datetime("us"),
}

QUARANTINED_FILES_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "name": pl.String(),
    "sha256": pl.String(),
    "arrived_at": pl.Datetime("us"),
    "error": pl.String(),
    # The exception's class (FileParseError for the expected ones) and where it was raised.
    "error_type": pl.String(),
    "error_where": pl.String(),
    "quarantine_path": pl.String(),
    "arrival_day": pl.Datetime("us"),
}

REJECTED_ROWS_SCHEMA: dict[str, pl.DataType] = {
    **PROVENANCE_SCHEMA,
    "reason": pl.String(),
    "detail": pl.String(),
    "original": pl.String(),
}

# Columns normalization adds; normalized_leads = provenance + raw fields kept + these.
NORMALIZED_SCHEMA: dict[str, pl.DataType] = {
    **PROVENANCE_SCHEMA,
    "email": pl.String(),
    "email_valid": pl.Boolean(),
    "email_canonical": pl.String(),
    # The person's other valid addresses, from a file that named the email twice.
    "additional_emails": pl.List(pl.String()),
    "email_domain": pl.String(),
    "is_role_email": pl.Boolean(),
    "is_free_email": pl.Boolean(),
    "name_prefix": pl.String(),
    "first_name": pl.String(),
    "middle_name": pl.String(),
    "last_name": pl.String(),
    "name_suffix": pl.String(),
    "full_name": pl.String(),
    "company": pl.String(),
    "company_key": pl.String(),
    "domain": pl.String(),
    "phone_raw": pl.String(),
    "phone_e164": pl.String(),
    "phone_valid": pl.Boolean(),
    "phone_extension": pl.String(),
    "mobile_e164": pl.String(),
    "country": pl.String(),
    "city": pl.String(),
    "state": pl.String(),
    "postcode": pl.String(),
    "address": pl.String(),
    "job_title": pl.String(),
    "seniority": pl.String(),
    "department": pl.String(),
    "lead_source": pl.String(),
    "created_at": pl.Datetime("us"),
    "linkedin_url": pl.String(),
    "notes": pl.String(),
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the contract's columns, so empty days still write a typed table."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast to a contract, adding missing columns as nulls."""
    return frame.select(
        [
            (
                pl.col(name).cast(dtype)
                if name in frame.columns
                else pl.lit(None, dtype=dtype).alias(name)
            )
            for name, dtype in schema.items()
        ]
    )
