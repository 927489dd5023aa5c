"""Parsing: formats, delimiters, encodings, header mapping and broken input."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from pipeline.headers import AliasError, header_key, load_aliases, map_headers
from pipeline.parsing import FileParseError, detect_format, parse_file, sniff_delimiter
from pipeline.schema import RAW_LEADS_SCHEMA

ACCENTED = (
    "Prénom;Nom;Société;E-mail;Téléphone\r\n"
    "Jérôme;Müller;Café “Ünïon” SA;j@x.fr;01 42 68 53 00\r\n"
    "François;Straße;Bücher GmbH;;\r\n"
)


def test_header_key_folds_case_accents_and_punctuation():
    assert header_key("E-mail Address") == header_key("email_address") == "emailaddress"
    assert header_key("Société") == "societe"


def test_alias_table_maps_common_spellings(aliases):
    mapping = map_headers(["E-mail Address", "Company Name", "Organisation", "Full Name"], aliases)
    assert mapping == {
        "E-mail Address": "email",
        "Company Name": "company",
        "Full Name": "full_name",
    }


@pytest.mark.parametrize("header", ["Mobil", "Mobiel", "Mobiltelefon", "Handynummer"])
def test_german_dutch_and_nordic_mobile_headers_map_to_the_mobile(aliases, header):
    # A German file's 'Mobil' column was left unread: two people at one office with two
    # mobiles then merged, as the mobiles' cannot-link never saw them.
    assert map_headers(["Telefon", header], aliases) == {"Telefon": "phone", header: "mobile_phone"}


def test_first_column_claiming_a_field_wins(aliases):
    assert map_headers(["Phone", "Work Phone"], aliases) == {"Phone": "phone"}


def test_alias_override_rejects_unknown_fields(tmp_path):
    bad = tmp_path / "aliases.yaml"
    bad.write_text("shoe_size: [shoe]\n")
    with pytest.raises(AliasError, match="unknown field 'shoe_size'"):
        load_aliases(bad)


def test_alias_override_adds_spellings(tmp_path):
    extra = tmp_path / "aliases.yaml"
    extra.write_text("email: [courriel pro]\n")
    assert map_headers(["Courriel Pro"], load_aliases(extra)) == {"Courriel Pro": "email"}


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter):
    text = delimiter.join(["Name", "Email", "Company"]) + "\n"
    text += delimiter.join(['"Doe, Jane"', "j@x.com", "Acme; Inc"]) + "\n"
    text += delimiter.join(["Bob", "b@x.com", "Beta"]) + "\n"
    assert sniff_delimiter(text) == delimiter


def test_cp1252_is_detected_not_guessed(aliases, parse_kwargs):
    parsed = parse_file("paris.csv", ACCENTED.encode("cp1252"), aliases, **parse_kwargs)
    assert parsed.encoding == "cp1252"
    assert parsed.delimiter == ";"
    row = parsed.rows.row(0, named=True)
    assert (row["first_name"], row["last_name"]) == ("Jérôme", "Müller")
    assert row["company"] == "Café “Ünïon” SA"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_unicode_encodings_round_trip(aliases, parse_kwargs, encoding):
    parsed = parse_file("f.csv", ACCENTED.encode(encoding), aliases, **parse_kwargs)
    assert parsed.rows["last_name"].to_list() == ["Müller", "Straße"]


def test_quoted_fields_keep_embedded_newlines(aliases, parse_kwargs):
    data = 'Name\tEmail\tNotes\n"Bob"\tb@x.com\t"line one\nline two"\n'.encode("utf-8-sig")
    parsed = parse_file("f.tsv", data, aliases, **parse_kwargs)
    assert parsed.rows["notes"].to_list() == ["line one\nline two"]


def test_rows_keep_provenance_and_original_values(aliases, parse_kwargs):
    parsed = parse_file("paris.csv", ACCENTED.encode("utf-8"), aliases, **parse_kwargs)
    rows = parsed.rows
    assert rows.schema == pl.Schema(RAW_LEADS_SCHEMA)
    assert rows["row_number"].to_list() == [2, 3]
    assert rows["lead_id"].n_unique() == 2
    assert json.loads(rows["original"][0])["Société"] == "Café “Ünïon” SA"
    assert rows["source_file"].unique().to_list() == ["paris.csv"]


def test_ragged_row_is_marked_not_dropped(aliases, parse_kwargs):
    data = b"Name,Email\nA,a@x.com\nB,b@x.com,extra,more\nC,c@x.com\n"
    rows = parse_file("r.csv", data, aliases, **parse_kwargs).rows
    assert rows.height == 3
    error = rows.filter(pl.col("row_number") == 3)["parse_error"][0]
    assert "4 fields but the header has 2" in error and '"extra"' in error


def test_a_quote_never_closed_costs_its_row_a_mark_not_the_rest_of_the_file(aliases, parse_kwargs):
    # The reader took the quote to run to the end: rows 3 and 4 became part of one value.
    data = b'Name,Email\nA,a@x.com\n"Bob,b@x.com\nC,c@x.com\nD,d@x.com\n'
    rows = parse_file("q.csv", data, aliases, **parse_kwargs).rows
    assert rows["email"].to_list() == ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]
    assert rows["row_number"].to_list() == [2, 3, 4, 5]
    marked = rows.filter(pl.col("parse_error").is_not_null())
    assert marked["row_number"].to_list() == [3]
    assert "never closes" in marked["parse_error"][0]
    assert json.loads(marked["original"][0])["Name"] == '"Bob'  # as written


@pytest.mark.parametrize(
    "data",
    [
        b'Name,Email,Notes\nA,a@x.com,"two\nlines"\nB,b@x.com,5" screen\n',
        # An odd count of quote marks and a line break in the last row, yet nothing unclosed.
        b'Name,Email,Notes\nB,b@x.com,5" screen\nA,a@x.com,"two\nlines"\n',
    ],
)
def test_a_quote_inside_a_value_and_a_quoted_line_break_read_as_before(aliases, parse_kwargs, data):
    rows = parse_file("q.csv", data, aliases, **parse_kwargs).rows.sort("email", descending=True)
    assert rows["notes"].to_list() == ['5" screen', "two\nlines"]
    assert rows["parse_error"].null_count() == 2


def test_json_records_flatten_nested_objects(aliases, parse_kwargs):
    data = json.dumps(
        {"results": [{"email": "a@b.co", "name": "Ann Lee", "utm": {"source": "ads"}}]}
    ).encode()
    rows = parse_file("form.json", data, aliases, **parse_kwargs).rows
    assert rows["email"].to_list() == ["a@b.co"]
    assert json.loads(rows["original"][0])["utm.source"] == "ads"


def test_ndjson_bad_line_becomes_a_row_error(aliases, parse_kwargs):
    data = b'{"email": "a@b.co"}\n{oops\n{"email": "c@d.co"}\n'
    rows = parse_file("signups.ndjson", data, aliases, **parse_kwargs).rows
    assert rows["email"].to_list() == ["a@b.co", None, "c@d.co"]
    assert "invalid JSON" in rows["parse_error"][1]


def _xlsx_bytes(sheets: dict[str, pl.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    import xlsxwriter

    with xlsxwriter.Workbook(buffer) as workbook:
        for name, frame in sheets.items():
            frame.write_excel(workbook, worksheet=name)
    return buffer.getvalue()


def test_xlsx_every_lead_sheet_by_default_first_or_all_on_request(aliases, parse_kwargs):
    data = _xlsx_bytes(
        {
            "Leads": pl.DataFrame({"E-mail Address": ["a@b.co"], "Full Name": ["Ann Lee"]}),
            "More": pl.DataFrame({"Email": ["c@d.co", "e@f.co"]}),
            "Prices": pl.DataFrame({"Product": ["Pro"], "Price": ["49"]}),
        }
    )
    assert detect_format("partner.xlsx", data) == "xlsx"
    leads = parse_file("partner.xlsx", data, aliases, **parse_kwargs)
    assert leads.rows["email"].to_list() == ["a@b.co", "c@d.co", "e@f.co"]
    assert leads.rows["sheet"].to_list() == ["Leads", "More", "More"]
    assert leads.rows["lead_id"].n_unique() == 3
    assert leads.ignored_sheets == {"Prices": "no column maps to an email, phone or name"}
    first = parse_file("partner.xlsx", data, aliases, excel_sheets="first", **parse_kwargs)
    assert first.rows["email"].to_list() == ["a@b.co"]
    every = parse_file("partner.xlsx", data, aliases, excel_sheets="all", **parse_kwargs)
    assert every.rows["sheet"].unique(maintain_order=True).to_list() == ["Leads", "More", "Prices"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"   \n\n", "empty"),
        ("corrupt.xlsx", b"PK\x03\x04not really a zip", "corrupt or unreadable spreadsheet"),
        ("fake.xlsx", b"hello", "not a valid one"),
        ("image.csv", bytes(range(256)) * 20, "binary"),
        ("menu.csv", b"dish,price\nsoup,4\n", "no column maps to an email, phone or name"),
        ("broken.json", b'[{"email": ', "invalid JSON"),
    ],
)
def test_unusable_files_raise_a_clear_error_naming_the_file(
    aliases, parse_kwargs, name, data, message
):
    with pytest.raises(FileParseError, match=message) as exc:
        parse_file(name, data, aliases, **parse_kwargs)
    assert str(exc.value).startswith(name)
