"""Parse one lead file, whatever its format, delimiter or encoding, into canonical raw rows.

Everything comes out as strings: typing is normalization's job, and a raw table that never
coerces cannot lose a value. Every row keeps its file, sheet, row number and original values.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import fastexcel
import polars as pl
from charset_normalizer import from_bytes

from pipeline.config import DEFAULT_MAX_FIELD_CHARS
from pipeline.headers import field_of, header_score
from pipeline.schema import LEAD_FIELDS, RAW_LEADS_SCHEMA, conform

FileFormat = Literal["csv", "xlsx", "xls", "json", "ndjson"]
ExcelSheets = Literal["leads", "first", "all"]
DELIMITERS = (",", ";", "\t", "|")
IDENTITY_FIELDS = frozenset(
    {"email", "phone", "mobile_phone", "first_name", "last_name", "full_name"}
)
# The header is looked for among this many first rows (report banners, merged title rows).
HEADER_SEARCH_ROWS = 20
# C0 control characters other than tab and newlines: never lead data (Postgres text cannot
# even store NUL), often left behind by broken exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Above this share of control characters in the head, the text is binary, not a few stray NULs.
_BINARY_SHARE = 0.02
_MIN_BINARY_CONTROLS = 16
# Magic numbers of files people drop by mistake, named so the quarantine says what they are.
_KNOWN_BINARIES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
)
_EXCEL_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$")
# When several legacy code pages decode a file plausibly, Western European wins: it is what
# spreadsheet exports from sales teams here are written in.
LEGACY_PREFERENCE = ("cp1252", "iso8859_15", "latin_1", "cp1250", "iso8859_2", "mac_roman")
_SNIFF_BYTES = 64 * 1024


class FileParseError(ValueError):
    """A whole file cannot be read; the file goes to quarantine with this message."""

    def __init__(self, file_name: str, message: str) -> None:
        super().__init__(f"{file_name}: {message}")
        self.file_name = file_name


@dataclass
class Table:
    """One sheet (or the whole file) as strings, with the header row as the file wrote it."""

    frame: pl.DataFrame  # column names made unique; `headers` keeps the originals, in order
    headers: list[str]
    sheet: str | None = None
    # Data-row index (0-based) -> why the row itself is broken.
    row_errors: dict[int, str] = field(default_factory=dict)
    # Spreadsheet row number of the first data row (the header is the row above it).
    first_row_number: int = 2
    # Row numbers per data row, when blank rows were dropped (spreadsheets only).
    row_numbers: pl.Series | None = None
    # Rows above the header (report banners, a merged title row), skipped, never loaded.
    preamble_rows: int = 0
    # 0-based position of the sheet in its workbook (0 for text files): part of lead ids.
    sheet_index: int = 0


@dataclass
class ParsedFile:
    rows: pl.DataFrame
    file_format: FileFormat
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] = field(default_factory=list)
    # Sheets not read, with why (no lead header, hidden, empty).
    ignored_sheets: dict[str, str] = field(default_factory=dict)
    # Rows skipped above the header, per sheet ("" for a text file); only non-zero ones.
    preamble_rows: dict[str, int] = field(default_factory=dict)


def detect_format(name: str, data: bytes) -> FileFormat:
    """Decide by content first (magic bytes), by extension only to break ties."""
    if not data or data.isspace():  # (strip() would copy the whole file)
        raise FileParseError(name, "the file is empty")
    lower = name.lower()
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    for magic, what in _KNOWN_BINARIES:
        if data.startswith(magic):
            raise FileParseError(name, f"{what}, not a lead file")
    if lower.endswith((".xlsx", ".xlsm", ".xls")):
        raise FileParseError(name, "looks like a spreadsheet by its name but is not a valid one")
    text_head = _decode(name, data[:_SNIFF_BYTES], head_only=True)[0].lstrip()
    if lower.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    if text_head.startswith("["):
        return "json"
    if text_head.startswith("{"):
        lines = [line for line in text_head.splitlines() if line.strip()]
        try:
            json.loads(lines[0])
        except json.JSONDecodeError:
            return "json"  # an object spread over several lines
        return "ndjson" if len(lines) > 1 else "json"
    if lower.endswith(".json"):
        return "json"
    return "csv"


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte of the head is NUL (ASCII text in
    UTF-16 written without a byte-order mark), else None."""
    head = data[:4096]
    if len(head) < 8:
        return None
    odd, even = head[1::2], head[0::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decode(name: str, data: bytes, head_only: bool = False) -> tuple[str, str]:
    """Bytes -> text and the encoding used: BOMs, then strict UTF-8, then detection."""
    errors = "ignore" if head_only else "strict"
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors=errors), encoding
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        try:
            return data.decode(utf16, errors=errors), utf16
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if head_only and exc.start > len(data) - 4:
            return data[: exc.start].decode("utf-8"), "utf-8"
    results = from_bytes(data)
    candidates = {r.encoding: r for r in results}
    for encoding in LEGACY_PREFERENCE:
        if encoding in candidates:
            return str(candidates[encoding]), encoding
    best = results.best()
    if best is None:
        raise FileParseError(name, "binary content: no text encoding fits")
    return str(best), best.encoding


def decode_text(name: str, data: bytes) -> str:
    """The text of a small CSV a person saved (a review file back from Excel: UTF-8 with or
    without a BOM, UTF-16, or the machine's legacy code page), decoded as lead files are."""
    return _decode(name, data)[0]


def _clean_text(name: str, text: str, utf8: bytes | None = None) -> str:
    """One line ending (LF) whatever the file used (CRLF, CR alone, a mix), and no stray
    control characters; a text that is mostly control characters is binary. `utf8`: the
    text's UTF-8 bytes where the caller has them (the file itself), scanned instead of
    encoding the text again. The text itself is returned where nothing was to clean."""
    sample = text[:4096]
    controls = len(_CONTROL.findall(sample))
    if controls > max(_MIN_BINARY_CONTROLS, _BINARY_SHARE * len(sample)):
        raise FileParseError(name, "binary content, not a lead file")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if controls or _has_controls(text, utf8):
        text = _CONTROL.sub("", text)
    return text


def _has_controls(text: str, utf8: bytes | None = None) -> bool:
    """Whether any control character is in the text; bytes.translate scans 18 MB in ~35 ms
    where the regular expression takes ~85 ms (UTF-8 encodes them as the same bytes)."""
    encoded = utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")
    return len(encoded.translate(None, _CONTROL_BYTES)) != len(encoded)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records into the most consistent, widest rows."""
    sample = text[:_SNIFF_BYTES]
    lines = sample.splitlines(keepends=True)
    if len(sample) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # drop a record cut off by the sample boundary
    sample = "".join(lines[:200])
    best, best_score = ",", (-1, -1)
    for delim in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        except csv.Error:
            continue
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        consistency = widths.count(mode)
        score = (consistency if mode > 1 else 0, mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def _unique_names(headers: list[str]) -> list[str]:
    """Column names for the frame: blanks named by position, repeats numbered."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        h = (h or "").strip() or f"column_{i + 1}"
        if h in seen:
            seen[h] += 1
            h = f"{h}_{seen[h]}"
        else:
            seen[h] = 0
        out.append(h)
    return out


def header_row_index(rows: list[list[Any]], aliases: Mapping[str, str]) -> int:
    """Which of the first rows is the header: the one naming the most lead fields.

    The first row stays the header unless a later one names at least two fields and more
    than it does, so a title line, a "Run by ..." banner or a merged title cell above the
    real header is skipped, while an ordinary file is read exactly as before.
    """
    scores = [header_score(row, aliases) for row in rows[:HEADER_SEARCH_ROWS]]
    if not scores:
        return 0
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return best if best > 0 and scores[best] >= 2 and scores[best] > scores[0] else 0


def _csv_preamble(text: str, delimiter: str, aliases: Mapping[str, str]) -> tuple[int, int]:
    """(records above the header, character offset where the header record starts)."""
    reader = csv.reader(io.StringIO(text[:_SNIFF_BYTES]), delimiter=delimiter)
    rows: list[list[str]] = []
    lines_after: list[int] = []
    try:
        for record in reader:
            rows.append(record)
            lines_after.append(reader.line_num)
            if len(rows) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        pass  # a record cut off by the sample: the rows before it decide
    skip = header_row_index(rows, aliases)
    if skip == 0:
        return 0, 0
    offset = 0
    for _ in range(lines_after[skip - 1]):
        offset = text.index("\n", offset) + 1
    return skip, offset


def _parse_csv(
    name: str,
    text: str,
    delimiter: str,
    aliases: Mapping[str, str],
    utf8: bytes | None = None,
) -> Table:
    """`utf8`: the file's own bytes where they are the text unchanged (UTF-8, nothing
    cleaned), read as they are rather than encoded again (133 MB, 0.13 s at 1M rows)."""
    preamble, offset = _csv_preamble(text, delimiter, aliases)
    body = text[offset:] if offset else text
    encoded = utf8 if utf8 is not None and not offset else body.encode("utf-8")
    try:
        frame = pl.read_csv(
            io.BytesIO(encoded),
            separator=delimiter,
            infer_schema=False,
            has_header=False,
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError as exc:
        raise FileParseError(name, "the file has no header row") from exc
    except pl.exceptions.PolarsError:
        # Ragged or oddly quoted rows: the stdlib reader tells us which rows are broken.
        table = _parse_csv_tolerant(name, body, delimiter)
    else:
        if _quote_runs_to_the_end(frame, encoded):
            table = _parse_csv_tolerant(name, body, delimiter)
        else:
            headers = [v or "" for v in frame.row(0)]
            frame = frame.slice(1)
            frame.columns = _unique_names(headers)
            table = Table(frame, headers)
    table.preamble_rows = preamble
    table.first_row_number = preamble + 2
    return table


def _quote_runs_to_the_end(frame: pl.DataFrame, data: bytes) -> bool:
    """Whether a quote mark may open a value that never closes: the reader then takes the
    rest of the file as that one value, every later row lost in it. Its signs: an odd
    number of quote marks and a line break in the last row's values (a quote inside an
    unquoted value, 5" screen, is odd too but leaves the last row alone)."""
    if frame.height < 2 or not _has_line_break(frame.row(-1)):
        return False
    return data.count(b'"') % 2 == 1  # counted only then: 44 ms for a 130 MB file


def _has_line_break(values: Sequence[str | None]) -> bool:
    return any("\n" in v or "\r" in v for v in values if v)


UNCLOSED_QUOTE = "a quote mark opens a value that never closes; the row is read as written"


def _unclosed(lines: list[str], delimiter: str) -> bool:
    """Whether the record on these lines runs out of text inside a quoted value (the strict
    reader says so; the lenient one takes the end of the file as the quote's close)."""
    try:
        list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _parse_csv_tolerant(name: str, text: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise FileParseError(name, "the file has no header row") from exc
    except csv.Error as exc:
        raise FileParseError(name, f"unreadable header row: {exc}") from exc
    columns = _unique_names(header)
    width = len(columns)
    rows: list[list[str | None]] = []
    errors: dict[int, str] = {}

    def add(record: list[str], error: str | None = None) -> None:
        if len(record) > width and any(v.strip() for v in record[width:]):
            extra = json.dumps(record[width:], ensure_ascii=False)
            reason = (
                f"row has {len(record)} fields but the header has {width}; extra values: {extra}"
            )
            error = f"{error}; {reason}" if error else reason
        if error:
            errors[len(rows)] = error
        padded = [*record[:width], *([None] * (width - len(record)))]
        rows.append([v if v != "" else None for v in padded])

    rest, base = text, 0  # the text the reader reads, and the file lines before it
    while True:
        last: tuple[int, int, int, list[str]] | None = None  # the last record, its lines
        while True:
            starts = base + reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                add([], f"unreadable row: {exc}")
                continue
            last = (len(rows), starts, base + reader.line_num, record)
            add(record)
        if last is None or not rest.count('"') % 2:
            break
        index, starts, ends, record = last
        if ends == starts or not _has_line_break(record):
            break
        lines = io.StringIO(rest, newline="").readlines()[starts - base - 1 :]
        if not _unclosed(lines, delimiter):
            break  # a quoted line break in the last row, and a quote inside a value
        # A quote opened on line `starts` never closed and took the rest of the file: that
        # line is read with its quote marks as written and marked, the lines after it are
        # rows again (a second such quote is found the same way).
        del rows[index:]
        errors.pop(index, None)
        add(
            next(csv.reader(lines[:1], delimiter=delimiter, quoting=csv.QUOTE_NONE), []),
            UNCLOSED_QUOTE,
        )
        rest, base = "".join(lines[1:]), starts
        reader = csv.reader(io.StringIO(rest), delimiter=delimiter)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    return Table(frame, list(header), row_errors=errors)


def _sheet_table(name: str, frame: pl.DataFrame, aliases: Mapping[str, str]) -> Table | None:
    """A sheet read without a header -> its table below the detected header row."""
    if frame.width == 0 or frame.height == 0:
        return None
    # Dates and date-times read as ISO text; a date at midnight is a date.
    frame = frame.with_columns(pl.all().str.replace(_EXCEL_MIDNIGHT.pattern, "${1}"))
    head = frame.head(HEADER_SEARCH_ROWS).rows()
    at = header_row_index([list(r) for r in head], aliases)
    headers = ["" if v is None else str(v) for v in head[at]]
    data = frame.slice(at + 1)
    data.columns = _unique_names(headers)
    # Blank rows are layout in a spreadsheet, not data; the rest keep the row they are on.
    numbers = pl.int_range(at + 2, at + 2 + data.height, dtype=pl.Int64, eager=True)
    keep = ~pl.all_horizontal(pl.all().is_null() | (pl.all().str.strip_chars() == ""))
    mask = data.select(keep).to_series()
    if not mask.all():
        data, numbers = data.filter(mask), numbers.filter(mask)
    return Table(data, headers, first_row_number=at + 2, row_numbers=numbers, preamble_rows=at)


def _parse_excel(
    name: str, data: bytes, sheets: ExcelSheets, aliases: Mapping[str, str]
) -> tuple[list[Table], dict[str, str]]:
    try:
        book = fastexcel.read_excel(data)
        names = book.sheet_names
    except Exception as exc:  # calamine raises its own error types for corrupt workbooks
        raise FileParseError(
            name, f"corrupt or unreadable spreadsheet ({_first_line(exc)})"
        ) from exc
    tables: list[Table] = []
    ignored: dict[str, str] = {}
    for index, sheet_name in enumerate(names):
        if sheets == "first" and index > 0:
            ignored[sheet_name] = "not the first sheet (LEADS_EXCEL_SHEETS=first)"
            continue
        try:
            sheet = book.load_sheet(index, header_row=None, dtypes="string")
            table = _sheet_table(name, sheet.to_polars(), aliases)
        except fastexcel.FastExcelError as exc:
            raise FileParseError(name, f"sheet {sheet_name!r}: {_first_line(exc)}") from exc
        if table is None:
            ignored[sheet_name] = "empty"
            continue
        if sheets == "leads":
            if sheet.visible != "visible":
                ignored[sheet_name] = "hidden"
                continue
            named = {field_of(h, aliases) for h in table.headers}
            if not named & IDENTITY_FIELDS:
                ignored[sheet_name] = "no column maps to an email, phone or name"
                continue
        table.sheet, table.sheet_index = sheet_name, index
        tables.append(table)
    if not tables and not ignored:
        raise FileParseError(name, "the workbook has no data")
    return tables, ignored


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Lists longer than this stay one JSON value: a list of 500 tags is not 500 columns.
_MAX_LIST_COLUMNS = 10


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, str | None]:
    """Nested objects to dotted paths (`company.address.country`); short lists to indexed
    paths (`emails[1]`, `phones[0].number`) so each value can map to a field."""
    out: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, list) and 0 < len(value) <= _MAX_LIST_COLUMNS:
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    out.update(_flatten(item, f"{name}[{i}]."))
                elif isinstance(item, list):
                    out[f"{name}[{i}]"] = json.dumps(item, ensure_ascii=False)
                else:
                    out[f"{name}[{i}]"] = None if item is None else str(item)
        elif value is None:
            out[name] = None
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = str(value)
    return out


def _records_table(records: list[Any], errors: dict[int, str]) -> Table:
    flat = [_flatten(r) if isinstance(r, Mapping) else {} for r in records]
    for i, r in enumerate(records):
        if not isinstance(r, Mapping) and i not in errors:
            errors[i] = f"expected an object, found {type(r).__name__}"
    headers: dict[str, None] = {}
    for r in flat:
        headers.update(dict.fromkeys(r))
    columns = {h: [r.get(h) for r in flat] for h in headers}
    frame = pl.DataFrame(columns, schema=dict.fromkeys(headers, pl.String))
    if frame.width == 0:
        frame = pl.DataFrame({"_empty": [None] * len(flat)}, schema={"_empty": pl.String})
    frame = frame.with_columns(pl.all().str.replace_all(_CONTROL_PATTERN, ""))
    return Table(frame, list(frame.columns), row_errors=errors)


def _parse_json(name: str, text: str) -> Table:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileParseError(name, f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if isinstance(doc, Mapping):
        # An export wrapper ({"results": [...]}) or a single record.
        lists = [v for v in doc.values() if isinstance(v, list)]
        doc = lists[0] if len(lists) == 1 else [doc]
    if not isinstance(doc, list):
        raise FileParseError(name, "JSON holds no list of records")
    return _records_table(doc, {})


def _parse_ndjson(name: str, text: str) -> Table:
    records: list[Any] = []
    errors: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            errors[len(records)] = f"invalid JSON: {exc.msg} at column {exc.colno}"
            records.append({})
    if not records:
        raise FileParseError(name, "the file has no records")
    return _records_table(records, errors)


@dataclass
class ReadTables:
    tables: list[Table]
    file_format: FileFormat
    encoding: str | None = None
    delimiter: str | None = None
    ignored_sheets: dict[str, str] = field(default_factory=dict)


def read_tables(
    name: str,
    data: bytes,
    aliases: Mapping[str, str],
    excel_sheets: ExcelSheets = "leads",
) -> ReadTables:
    """File bytes -> tables of strings with original headers, plus how they were read."""
    file_format = detect_format(name, data)
    if file_format in ("xlsx", "xls"):
        tables, ignored = _parse_excel(name, data, excel_sheets, aliases)
        return ReadTables(tables, file_format, ignored_sheets=ignored)
    decoded, encoding = _decode(name, data)
    # A UTF-8 file with nothing to clean is its text's bytes already.
    utf8 = data if encoding == "utf-8" else None
    text = _clean_text(name, decoded, utf8)
    if text is not decoded:
        utf8 = None
    del decoded
    if file_format == "json":
        return ReadTables([_parse_json(name, text)], file_format, encoding)
    if file_format == "ndjson":
        return ReadTables([_parse_ndjson(name, text)], file_format, encoding)
    delimiter = sniff_delimiter(text)
    table = _parse_csv(name, text, delimiter, aliases, utf8)
    return ReadTables([table], "csv", encoding, delimiter)


def _check_field_lengths(name: str, table: Table, limit: int) -> None:
    """A value longer than the limit quarantines the whole file (never half of it)."""
    if table.frame.height == 0:
        return
    longest = table.frame.select(pl.all().str.len_chars().max()).row(0)
    for column, header, length in zip(table.frame.columns, table.headers, longest, strict=True):
        if length is not None and length > limit:
            at = table.frame[column].str.len_chars().arg_max() or 0
            row = table.row_numbers[at] if table.row_numbers is not None else None
            row = row if row is not None else table.first_row_number + at
            where = f"sheet {table.sheet!r} " if table.sheet else ""
            raise FileParseError(
                name,
                f"{where}row {row}, field {header!r}: {length:,} characters, over the limit "
                f"of {limit:,} (LEADS_MAX_FIELD_CHARS)",
            )


def _blank_to_null(column: str) -> pl.Expr:
    value = pl.col(column)
    return pl.when(value.str.strip_chars() != "").then(value)


def _field_values(table: Table, aliases: Mapping[str, str]) -> tuple[list[pl.Expr], pl.Expr]:
    """One expression per canonical field, and the alternate values as JSON.

    Where several columns name one field (two `Email` columns, `Phone` and `Telephone`), the
    first non-blank value of the row wins and the others are kept, per field, in
    `alternate_values`: a second address is still the same person's.
    """
    by_field: dict[str, list[str]] = {}
    for column, header in zip(table.frame.columns, table.headers, strict=True):
        lead_field = field_of(header, aliases)
        if lead_field is not None:
            by_field.setdefault(lead_field, []).append(column)
    values = []
    alternates = []
    for lead_field in LEAD_FIELDS:
        columns = by_field.get(lead_field, [])
        if not columns:
            values.append(pl.lit(None, pl.String).alias(lead_field))
        elif len(columns) == 1:
            values.append(pl.col(columns[0]).alias(lead_field))
        else:
            values.append(pl.coalesce([_blank_to_null(c) for c in columns]).alias(lead_field))
            others = (
                pl.concat_list([_blank_to_null(c) for c in columns]).list.drop_nulls().list.slice(1)
            )
            alternates.append(pl.when(others.list.len() > 0).then(others).alias(lead_field))
    if not alternates:
        return values, pl.lit(None, pl.String).alias("alternate_values")
    # {"email": [...]} per field that has alternates in the row, joined into one object.
    fragments = [
        pl.when(a.is_not_null()).then(
            pl.struct(a).struct.json_encode().str.strip_prefix("{").str.strip_suffix("}")
        )
        for a in alternates
    ]
    joined = pl.concat_str(fragments, separator=",", ignore_nulls=True)
    encoded = pl.when(joined != "").then(pl.concat_str(pl.lit("{"), joined, pl.lit("}")))
    return values, encoded.alias("alternate_values")


def to_raw_rows(
    table: Table,
    aliases: Mapping[str, str],
    *,
    file_id: str,
    file_name: str,
    sha256: str,
    arrived_at: datetime,
    sheet_index: int | None = None,
    lead_id_prefix: str | None = None,
) -> pl.DataFrame:
    """Original headers -> canonical fields, keeping the original row as JSON."""
    frame = table.frame
    n = frame.height
    row_number = (
        table.row_numbers
        if table.row_numbers is not None
        else pl.int_range(
            table.first_row_number, table.first_row_number + n, dtype=pl.Int64, eager=True
        )
    )
    errors = pl.Series("parse_error", [table.row_errors.get(i) for i in range(n)], dtype=pl.String)
    values, alternates = _field_values(table, aliases)
    index = table.sheet_index if sheet_index is None else sheet_index
    return conform(
        frame.select(
            pl.lit(file_id).alias("source_file_id"),
            pl.lit(file_name).alias("source_file"),
            pl.lit(sha256).alias("source_sha256"),
            pl.lit(table.sheet, dtype=pl.String).alias("sheet"),
            row_number.alias("row_number"),
            pl.lit(arrived_at, dtype=pl.Datetime("us")).alias("arrived_at"),
            *values,
            alternates,
            pl.struct(pl.all()).struct.json_encode().alias("original"),
            errors,
        ).with_columns(
            pl.format(
                "{}-{}-{}", pl.lit((lead_id_prefix or sha256)[:16]), pl.lit(index), "row_number"
            ).alias("lead_id")
        ),
        RAW_LEADS_SCHEMA,
    )


def parse_file(
    name: str,
    data: bytes,
    aliases: Mapping[str, str],
    *,
    file_id: str,
    sha256: str,
    arrived_at: datetime,
    excel_sheets: ExcelSheets = "leads",
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
    display_name: str | None = None,
    lead_id_prefix: str | None = None,
) -> ParsedFile:
    """One file -> raw lead rows; raises FileParseError when the file as a whole is unusable.

    `display_name` is what rows cite (`archive.zip!member.csv`) when `name` is the name the
    format is read from; `lead_id_prefix` keeps the ids of two members of one archive apart.
    """
    shown = display_name or name
    try:
        read = read_tables(name, data, aliases, excel_sheets)
    except FileParseError as exc:
        if exc.file_name != shown:
            raise FileParseError(shown, str(exc).removeprefix(f"{exc.file_name}: ")) from exc
        raise
    for table in read.tables:
        _check_field_lengths(shown, table, max_field_chars)
    named = {field_of(h, aliases) for t in read.tables for h in t.headers}
    if not named & IDENTITY_FIELDS:
        headers = ", ".join(repr(h) for t in read.tables for h in t.headers[:12])
        skipped = "; ".join(f"sheet {s!r}: {why}" for s, why in read.ignored_sheets.items())
        raise FileParseError(
            shown,
            f"no column maps to an email, phone or name (headers: {headers or 'none'}"
            + (f"; {skipped}" if skipped else "")
            + "); add the spelling to the header alias table",
        )
    frames = [
        to_raw_rows(
            t,
            aliases,
            file_id=file_id,
            file_name=shown,
            sha256=sha256,
            arrived_at=arrived_at,
            lead_id_prefix=lead_id_prefix,
        )
        for t in read.tables
    ]
    return ParsedFile(
        rows=pl.concat(frames),
        file_format=read.file_format,
        encoding=read.encoding,
        delimiter=read.delimiter,
        sheets=[t.sheet for t in read.tables if t.sheet],
        ignored_sheets=read.ignored_sheets,
        preamble_rows={(t.sheet or ""): t.preamble_rows for t in read.tables if t.preamble_rows},
    )
