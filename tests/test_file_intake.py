"""Real-world files that used to cost a day or lose leads, each built in code: line endings,
archives, report banners, title rows, NUL bytes, several lead sheets, typed cells, limits,
nested JSON, repeated headers, and a fault in the reader for one file of several."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from pipeline.file_intake import IntakeLimits, read_landed_file
from pipeline.normalize.leads import normalize_leads
from pipeline.parsing import FileParseError, parse_file

ARRIVED = dt.datetime(2026, 11, 1, 9, 30)
CSV_ROWS = [
    ["First Name", "Last Name", "Email", "Phone", "Company"],
    ["Ann", "Lee", "ann@acme.com", "+1 415 555 0134", "Acme, Inc."],
    ["Bob", "Ray", "bob@beta.io", "+44 20 7946 0958", "Beta"],
]


def _csv(newline: str, rows: list[list[str]] = CSV_ROWS) -> bytes:
    def cell(v: str) -> str:
        return f'"{v}"' if "," in v else v

    return newline.join(",".join(cell(v) for v in row) for row in rows).encode() + b"\n"


def _intake(tmp_path: Path, name: str, data: bytes, **kwargs):
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(data)
    return read_landed_file(
        path, name, _aliases(), file_id=name, sha256="ab" * 32, arrived_at=ARRIVED, **kwargs
    )


def _aliases():
    from pipeline.headers import load_aliases

    return load_aliases()


def _parse(name: str, data: bytes, **kwargs):
    return parse_file(
        name, data, _aliases(), file_id=name, sha256="cd" * 32, arrived_at=ARRIVED, **kwargs
    )


# --- line endings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR-only (classic Mac)"]
)
def test_csv_reads_the_same_whatever_the_line_endings(newline):
    rows = _parse("leads.csv", _csv(newline)).rows
    assert rows["email"].to_list() == ["ann@acme.com", "bob@beta.io"]
    assert rows["company"].to_list() == ["Acme, Inc.", "Beta"]
    assert rows["row_number"].to_list() == [2, 3]


def test_csv_with_mixed_line_endings():
    data = b"Email,Name\r\na@x.com,Ann\rb@x.com,Bob\nc@x.com,Cy\r\n"
    assert _parse("mixed.csv", data).rows["email"].to_list() == ["a@x.com", "b@x.com", "c@x.com"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_json_and_ndjson_read_whatever_the_line_endings(newline):
    records = [{"email": "a@x.com", "name": "Ann Lee"}, {"email": "b@x.com", "name": "Bo Ng"}]
    pretty = json.dumps(records, indent=2).replace("\n", newline).encode()
    assert _parse("form.json", pretty).rows["email"].to_list() == ["a@x.com", "b@x.com"]
    lines = newline.join(json.dumps(r) for r in records).encode()
    assert _parse("form.ndjson", lines).rows["email"].to_list() == ["a@x.com", "b@x.com"]


# --- archives --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "compress"), [("leads.csv.gz", gzip.compress), ("leads.csv.bz2", bz2.compress)]
)
def test_compressed_csv_is_read(tmp_path, name, compress):
    intake = _intake(tmp_path, name, compress(_csv("\n")))
    assert not intake.failures
    [(shown, parsed)] = intake.parsed
    assert shown == name
    assert parsed.rows["email"].to_list() == ["ann@acme.com", "bob@beta.io"]
    assert parsed.rows["source_file"].unique().to_list() == [name]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_members_are_files_of_their_own(tmp_path):
    data = _zip(
        {
            "east/leads.csv": _csv("\n"),
            "west.csv.gz": gzip.compress(b"Email,Name\ncy@gamma.de,Cy\n"),
            "__MACOSX/._leads.csv": b"\x00\x05\x16\x07",
        }
    )
    intake = _intake(tmp_path, "export.zip", data)
    assert not intake.failures
    shown = [name for name, _ in intake.parsed]
    assert shown == ["export.zip!east/leads.csv", "export.zip!west.csv.gz"]
    rows = pl.concat([p.rows for _, p in intake.parsed])
    assert rows["source_file"].to_list() == [
        "export.zip!east/leads.csv",
        "export.zip!east/leads.csv",
        "export.zip!west.csv.gz",
    ]
    assert rows["source_file_id"].unique().to_list() == ["export.zip"]  # the drive file
    assert rows["lead_id"].n_unique() == 3  # row 2 of both members: ids still distinct


def test_zip_bomb_is_quarantined_with_its_reason_and_nothing_else_is_affected(tmp_path):
    bomb = gzip.compress(b"\x00" * 20_000_000)  # 20 MB of zeros in ~20 KB
    limits = IntakeLimits(max_uncompressed_bytes=5_000_000)
    intake = _intake(tmp_path, "bomb.csv.gz", bomb, limits=limits)
    [failure] = intake.failures
    assert "LEADS_MAX_UNCOMPRESSED_BYTES" in failure.error
    assert "zip bomb" in failure.error
    assert failure.error.startswith("bomb.csv.gz: ")
    archive = _zip({"good.csv": _csv("\n"), "bomb.csv": b"\x00" * 20_000_000})
    intake = _intake(tmp_path, "mixed.zip", archive, limits=limits)
    assert [name for name, _ in intake.parsed] == ["mixed.zip!good.csv"]
    assert [f.name for f in intake.failures] == ["mixed.zip!bomb.csv"]
    assert "zip bomb" in intake.failures[0].error


def test_corrupt_and_misnamed_archives_are_quarantined_with_a_reason(tmp_path):
    truncated = gzip.compress(_csv("\n") * 50)[:-40]
    assert "truncated" in _intake(tmp_path, "cut.csv.gz", truncated).failures[0].error
    misnamed = _intake(tmp_path, "plain.csv.gz", _csv("\n")).failures[0]
    assert "named like a compressed file" in misnamed.error


# --- banners, title rows ---------------------------------------------------------------------

REPORT = (
    "Contacts by lifecycle stage\n"
    "Run by Jane Doe, Run date 2026-11-30 08:15\n"
    'Filters: "Lifecycle stage is Lead, MQL"\n'
    "\n"
    "First Name,Last Name,Email,Company\n"
    "Ann,Lee,ann@acme.com,Acme\n"
    "Bob,Ray,bob@beta.io,Beta\n"
)


def test_report_export_banner_lines_are_skipped_and_counted():
    parsed = _parse("report.csv", REPORT.encode())
    assert parsed.rows["email"].to_list() == ["ann@acme.com", "bob@beta.io"]
    assert parsed.rows["first_name"].to_list() == ["Ann", "Bob"]
    # Row numbers are where the rows are in the file (the header is on line 5).
    assert parsed.rows["row_number"].to_list() == [6, 7]
    assert parsed.preamble_rows == {"": 4}
    assert parsed.delimiter == ","


def _xlsx(build) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    build(workbook)
    workbook.close()
    return buffer.getvalue()


def test_xlsx_with_a_merged_title_row_finds_its_header():
    def build(wb):
        ws = wb.add_worksheet("Leads")
        ws.merge_range("A1:D1", "Trade show leads, Berlin 2026")
        ws.write_row(1, 0, ["Name", "Email", "Phone", "Signed up"])
        ws.write_row(2, 0, ["Ann Lee", "ann@acme.com"])
        ws.write_number(2, 2, 442079460958)
        ws.write_datetime(2, 3, dt.datetime(2026, 9, 5), wb.add_format({"num_format": "d/m/yy"}))
        ws.write_row(4, 0, ["Bo Ng", "bo@beta.io", "+49 40 1234567", "2026-09-24"])

    parsed = _parse("show.xlsx", _xlsx(build))
    rows = parsed.rows
    assert rows["email"].to_list() == ["ann@acme.com", "bo@beta.io"]
    assert parsed.preamble_rows == {"Leads": 1}
    # The blank row 4 is layout, not a lead; the others keep the row they are on.
    assert rows["row_number"].to_list() == [3, 5]
    # A numeric phone cell keeps its digits, a date cell becomes a date.
    assert rows["phone"][0] == "442079460958"
    assert rows["created_at"][0] == "2026-09-05"


def test_every_sheet_with_lead_headers_is_read_and_the_others_listed():
    def build(wb):
        wb.add_worksheet("Europe").write_column(0, 0, ["Email", "a@x.com"])
        wb.add_worksheet("Americas").write_column(0, 0, ["E-mail Address", "b@x.com", "c@x.com"])
        wb.add_worksheet("Lookup").write_column(0, 0, ["Region", "EMEA"])
        hidden = wb.add_worksheet("Old")
        hidden.write_column(0, 0, ["Email", "old@x.com"])
        hidden.hide()

    parsed = _parse("regions.xlsx", _xlsx(build))
    assert parsed.rows["email"].to_list() == ["a@x.com", "b@x.com", "c@x.com"]
    assert parsed.sheets == ["Europe", "Americas"]
    assert parsed.ignored_sheets == {
        "Lookup": "no column maps to an email, phone or name",
        "Old": "hidden",
    }


# --- NUL bytes and control characters --------------------------------------------------------


def test_nul_bytes_inside_values_are_stripped_not_taken_for_binary():
    data = (
        b"Name,Email,Company\n"
        b'Ann\x00 Lee,ann@acme.com\x00,"Acme\x00, Inc."\n'
        b"Bob Ray,bob@beta.io,Beta\x1b\n"
    )
    rows = _parse("nul.csv", data).rows
    assert rows["full_name"].to_list() == ["Ann Lee", "Bob Ray"]
    assert rows["email"].to_list() == ["ann@acme.com", "bob@beta.io"]
    assert rows["company"].to_list() == ["Acme, Inc.", "Beta"]
    assert "\x00" not in rows["original"][0]


def test_nul_escapes_in_json_are_stripped():
    data = json.dumps([{"email": "a@x.com\u0000", "name": "Ann\u0000 Lee"}]).encode()
    rows = _parse("nul.json", data).rows
    assert rows["email"].to_list() == ["a@x.com"]
    assert rows["full_name"].to_list() == ["Ann Lee"]


def test_a_real_binary_is_still_refused_by_name():
    with pytest.raises(FileParseError, match="a PDF document, not a lead file"):
        _parse("scan.csv", b"%PDF-1.7\n" + bytes(range(256)) * 4)
    with pytest.raises(FileParseError, match="binary content"):
        _parse("blob.csv", bytes(range(256)) * 20)


# --- limits ----------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_quarantined_unread(tmp_path):
    intake = _intake(tmp_path, "big.csv", _csv("\n") * 100, limits=IntakeLimits(max_file_bytes=500))
    [failure] = intake.failures
    assert "over the limit of 500 (LEADS_MAX_FILE_BYTES)" in failure.error
    assert failure.error_type == "FileParseError"
    assert not intake.parsed


def test_a_field_over_the_length_limit_quarantines_its_file_naming_row_and_field(tmp_path):
    data = b"Email,Notes\na@x.com,short\nb@x.com," + b"x" * 5000 + b"\n"
    intake = _intake(tmp_path, "notes.csv", data, limits=IntakeLimits(max_field_chars=1000))
    [failure] = intake.failures
    assert "row 3, field 'Notes': 5,000 characters" in failure.error
    assert "LEADS_MAX_FIELD_CHARS" in failure.error
    assert not intake.parsed


# --- nested JSON, repeated headers -----------------------------------------------------------

NESTED = [
    {
        "name": {"first": "Hans", "last": "Becker"},
        "contact": {"phone": "0049 40 41912345"},
        "company": {
            "name": "Hafen Logistik GmbH",
            "website": "https://hafen-logistik.de",
            "address": {"city": "Hamburg", "country": "Germany"},
        },
    },
    {
        "name": {"first": "Ann", "last": "Lee"},
        "contact": {"email": "ann@acme.com", "phone": "+1 415 555 0134"},
        "company": {"name": "Acme", "address": {"city": "Boston", "country": "USA"}},
    },
]


def test_nested_json_paths_map_by_their_meaningful_parts():
    rows = _parse("crm.json", json.dumps(NESTED).encode()).rows
    first = rows.row(0, named=True)
    assert (first["first_name"], first["last_name"]) == ("Hans", "Becker")
    assert first["company"] == "Hafen Logistik GmbH"  # company.name, not a person's name
    assert first["full_name"] is None
    assert (first["city"], first["country"]) == ("Hamburg", "Germany")
    assert first["website"] == "https://hafen-logistik.de"
    assert rows["email"].to_list() == [None, "ann@acme.com"]


def test_nested_json_person_without_email_is_a_lead_with_a_valid_german_phone():
    raw = _parse("crm.json", json.dumps(NESTED).encode()).rows
    leads, rejected = normalize_leads(raw, "US")
    assert rejected.height == 0
    hans = leads.filter(pl.col("last_name") == "Becker").row(0, named=True)
    assert hans["phone_e164"] == "+494041912345"
    assert hans["country"] == "DE"


def test_repeated_headers_first_non_blank_wins_and_the_rest_are_kept():
    data = (
        b"Name,Email,Phone,Email,Phone\n"
        b"Ann Lee,ann@acme.com,,ann.lee@gmail.com,+1 415 555 0134\n"
        b"Bob Ray,,+44 20 7946 0958,bob@beta.io,\n"
    )
    rows = _parse("dupes.csv", data).rows
    assert rows["email"].to_list() == ["ann@acme.com", "bob@beta.io"]
    assert rows["phone"].to_list() == ["+1 415 555 0134", "+44 20 7946 0958"]
    assert json.loads(rows["alternate_values"][0]) == {"email": ["ann.lee@gmail.com"]}
    assert rows["alternate_values"][1] is None
    leads, rejected = normalize_leads(rows, "US")
    assert rejected.height == 0
    # The second address is the same person's: kept, canonical, for dedupe and enrichment.
    assert leads["additional_emails"].to_list() == [["annlee@gmail.com"], None]  # canonical


def test_additional_emails_are_valid_distinct_and_not_the_primary():
    data = (
        b"Email,Email,Email,Name\n"
        b"Ann@Acme.com,ann@acme.com,a.n.n+x@gmail.com,Ann\n"
        b"bob@beta.io,not-an-email,bob@beta.io,Bob\n"
    )
    leads, _ = normalize_leads(_parse("three.csv", data).rows, "US")
    assert leads["additional_emails"].to_list() == [["ann@gmail.com"], None]


# --- per-file isolation ----------------------------------------------------------------------


def test_a_fault_in_the_reader_for_one_file_quarantines_only_that_file(tmp_path):
    def faulty(name, data, *args, **kwargs):
        if name == "cursed.csv":
            raise KeyError("an unexpected bug")
        return parse_file(name, data, *args, **kwargs)

    outcomes = {
        name: _intake(tmp_path, name, _csv("\n"), parse=faulty)
        for name in ("good.csv", "cursed.csv", "also_good.csv")
    }
    assert not outcomes["good.csv"].failures and not outcomes["also_good.csv"].failures
    [failure] = outcomes["cursed.csv"].failures
    assert failure.error_type == "KeyError"
    assert failure.error.startswith("cursed.csv: KeyError while reading the file")
    assert failure.error_where is not None and "in faulty" in failure.error_where
