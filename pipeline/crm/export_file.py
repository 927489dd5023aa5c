"""A HubSpot export file as the CRM (CRM_IMPORT_FILE): the local backend of `crm_records`.

HubSpot exports a view of contacts (or companies) as CSV or XLSX, one column per property,
headed by the property's label ("Record ID", "First Name", "Email", "Contact owner", ...) or,
when asked, its internal name (`hs_object_id`, `firstname`, ...): both are understood. The file
is the portal at the moment it was exported, so every read is a full read: a record read
before and missing now was deleted there. Rows that cannot be records (no record id, a
record id twice) are reported with the file, row and field, and left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipeline.crm.records import (
    COMPANY,
    COMPANY_PROPERTIES,
    CONTACT,
    CONTACT_PROPERTIES,
    READ_SCHEMA,
    RecordsRead,
    empty_read,
    parse_timestamp,
)
from pipeline.headers import header_key

# Export labels (and a few older spellings) -> HubSpot's internal property names.
_LABELS: dict[str, dict[str, list[str]]] = {
    CONTACT: {
        "hs_object_id": ["record id", "contact id", "vid"],
        "email": ["email", "email address"],
        "hs_additional_emails": ["additional email addresses", "additional emails"],
        "firstname": ["first name"],
        "lastname": ["last name"],
        "phone": ["phone number", "phone"],
        "mobilephone": ["mobile phone number", "mobile phone"],
        "company": ["company name", "company"],
        "website": ["website url", "website"],
        "jobtitle": ["job title"],
        "country": ["country/region", "country"],
        "city": ["city"],
        "hubspot_owner_id": ["contact owner", "owner", "hubspot owner"],
        "lifecyclestage": ["lifecycle stage"],
        "associatedcompanyid": ["associated company id", "primary associated company id"],
        "hs_merged_object_ids": ["merged record ids", "merged contact ids", "merged object ids"],
        "createdate": ["create date", "created date", "became a contact date"],
        "lastmodifieddate": ["last modified date", "last modified"],
    },
    COMPANY: {
        "hs_object_id": ["record id", "company id"],
        "name": ["company name", "name"],
        "domain": ["company domain name", "domain"],
        "website": ["website url", "website"],
        "country": ["country/region", "country"],
        "city": ["city"],
        "hubspot_owner_id": ["company owner", "owner"],
        "lifecyclestage": ["lifecycle stage"],
        "hs_merged_object_ids": ["merged record ids", "merged company ids", "merged object ids"],
        "createdate": ["create date", "created date"],
        "hs_lastmodifieddate": ["last modified date", "last modified"],
    },
}
# The contact's associated company name, in exports that add the association as a column.
_ASSOCIATED_COMPANY = ["associated company", "associated company name"]


class ExportFileError(ValueError):
    """The file cannot be read as a HubSpot export; the message names the file and why."""


def _header_map(object_type: str, headers: list[str]) -> dict[str, str]:
    """File column -> internal property name (labels and internal names alike)."""
    by_key: dict[str, str] = {}
    for name, labels in _LABELS[object_type].items():
        by_key.setdefault(header_key(name), name)
        for label in labels:
            by_key.setdefault(header_key(label), name)
    mapped: dict[str, str] = {}
    for header in headers:
        name = by_key.get(header_key(header))
        if name is not None and name not in mapped.values():
            mapped[header] = name
    return mapped


def read_export(path: Path, object_type: str) -> RecordsRead:
    """Every record of an export file, as a full read of its object type."""
    from pipeline.parsing import FileParseError, read_tables

    if not path.is_file():
        raise ExportFileError(f"{path}: no such file")
    try:
        tables = read_tables(path.name, path.read_bytes(), {}).tables
    except FileParseError as exc:
        raise ExportFileError(f"{path}: {exc}") from None
    if not tables:
        raise ExportFileError(f"{path}: no table in the file")
    table = tables[0]
    frame = table.frame
    columns = dict(zip(table.headers, frame.columns, strict=False))
    mapped = _header_map(object_type, table.headers)
    if "hs_object_id" not in mapped.values():
        raise ExportFileError(
            f"{path}: no 'Record ID' column: not a HubSpot {object_type} export (columns: "
            f"{', '.join(table.headers[:12])})"
        )
    source = f"export:{path.name}"
    mapping = CONTACT_PROPERTIES if object_type == CONTACT else COMPANY_PROPERTIES
    company_column = next(
        (columns[h] for h in table.headers if header_key(h) in {header_key(a) for a in
                                                                 _ASSOCIATED_COMPANY}),
        None,
    )  # fmt: skip
    rows, rejected, seen = [], [], set()
    first = table.first_row_number
    for index, values in enumerate(frame.iter_rows(named=True)):
        row_number = first + index
        props = {
            name: str(values[columns[header]]).strip()
            for header, name in mapped.items()
            if values[columns[header]] is not None and str(values[columns[header]]).strip()
        }
        record_id = props.get("hs_object_id", "")
        if not record_id:
            if any(v is not None and str(v).strip() for v in values.values()):
                rejected.append(_rejection(path, row_number, "Record ID", "no record id"))
            continue
        if record_id in seen:
            rejected.append(
                _rejection(path, row_number, "Record ID", f"record id {record_id} repeats")
            )
            continue
        seen.add(record_id)
        if object_type == CONTACT and not props.get("company") and company_column is not None:
            named = values[company_column]
            if named is not None and str(named).strip():
                props["company"] = str(named).strip()
        try:
            row = _row(object_type, record_id, props, mapping, source)
        except (ValueError, OverflowError) as exc:
            field = "Create Date / Last Modified Date"
            rejected.append(_rejection(path, row_number, field, f"not a date: {exc}"))
            continue
        rows.append(row)
    records = pl.DataFrame(rows, schema=READ_SCHEMA) if rows else empty_read()
    return RecordsRead(
        records=records,
        full=frozenset({object_type}),
        mode={object_type: "export"},
        rejected=rejected,
        notes=[f"{path.name}: {records.height} {object_type} record(s)"],
    )


def _row(object_type: str, record_id: str, props: dict[str, str], mapping: dict[str, str],
         source: str) -> dict:  # fmt: skip
    row: dict = {column: props.get(name) for name, column in mapping.items()}
    modified = "lastmodifieddate" if object_type == CONTACT else "hs_lastmodifieddate"
    row.update(
        object_type=object_type,
        crm_id=record_id,
        archived=False,
        archived_at=None,
        created_at=parse_timestamp(props.get("createdate")),
        modified_at=parse_timestamp(props.get(modified)),
        merged_ids=_ids(props.get("hs_merged_object_ids")),
        additional_emails=_ids(props.get("hs_additional_emails")),
        source=source,
        properties=json.dumps(props, sort_keys=True, ensure_ascii=False),
    )
    return row


def _ids(value: str | None) -> list[str] | None:
    if not value:
        return None
    parts = [p.strip() for p in value.replace(",", ";").split(";") if p.strip()]
    return parts or None


def _rejection(path: Path, row: int, field: str, reason: str) -> dict:
    return {"file": path.name, "row": row, "field": field, "reason": reason}


def read_exports(contacts: Path, companies: Path | None) -> RecordsRead:
    """The contacts export, and the companies export when there is one."""
    read = read_export(contacts, CONTACT)
    if companies is None:
        return read
    other = read_export(companies, COMPANY)
    return RecordsRead(
        records=pl.concat([read.records, other.records]),
        full=read.full | other.full,
        mode={**read.mode, **other.mode},
        rejected=read.rejected + other.rejected,
        notes=read.notes + other.notes,
    )
