"""Parse one lead file, whatever its format, delimiter or encoding, into canonical raw rows.

Everything comes out as strings: typing is normalization's job, and a raw table that never
coerces cannot lose a value. Every row keeps its file, sheet, row number and original values.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import polars as pl
from charset_normalizer import from_bytes

from pipeline.headers import map_headers
from pipeline.schema import LEAD_FIELDS, RAW_LEADS_SCHEMA, conform

FileFormat = Literal["csv", "xlsx", "xls", "json", "ndjson"]
DELIMITERS = (",", ";", "\t", "|")
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
    """One sheet (or the whole file) as strings with original headers."""

    frame: pl.DataFrame
    sheet: str | None = None
    # Data-row index (0-based) -> why the row itself is broken.
    row_errors: dict[int, str] = field(default_factory=dict)


@dataclass
class ParsedFile:
    rows: pl.DataFrame
    file_format: FileFormat
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] = field(default_factory=list)


def detect_format(name: str, data: bytes) -> FileFormat:
    """Decide by content first (magic bytes), by extension only to break ties."""
    if not data.strip():
        raise FileParseError(name, "the file is empty")
    lower = name.lower()
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
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


def _decode(name: str, data: bytes, head_only: bool = False) -> tuple[str, str]:
    """Bytes -> text and the encoding used: BOMs, then strict UTF-8, then detection."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            errors = "ignore" if head_only else "strict"
            return data.decode(encoding, errors=errors), encoding
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


def _reject_binary(name: str, text: str) -> None:
    sample = text[:4096]
    if "\x00" in sample or sum(ch < " " and ch not in "\r\n\t" for ch in sample) > 8:
        raise FileParseError(name, "binary content, not a lead file")


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records into the most consistent, widest rows."""
    sample = text[:_SNIFF_BYTES]
    lines = sample.splitlines(keepends=True)
    if len(sample) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # drop a record cut off by the sample boundary
    sample = "".join(lines[:200])
    best, best_score = ",", (-1, -1)
    for delim in DELIMITERS:
        widths = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        consistency = widths.count(mode)
        score = (consistency if mode > 1 else 0, mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def _dedupe_headers(headers: list[str]) -> list[str]:
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


def _parse_csv(name: str, text: str, delimiter: str) -> Table:
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=delimiter,
            infer_schema=False,
            has_header=True,
            raise_if_empty=True,
        )
        frame.columns = _dedupe_headers(frame.columns)
        return Table(frame)
    except pl.exceptions.NoDataError as exc:
        raise FileParseError(name, "the file has no header row") from exc
    except pl.exceptions.PolarsError:
        # Ragged or oddly quoted rows: the stdlib reader tells us which rows are broken.
        return _parse_csv_tolerant(name, text, delimiter)


def _parse_csv_tolerant(name: str, text: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise FileParseError(name, "the file has no header row") from exc
    except csv.Error as exc:
        raise FileParseError(name, f"unreadable header row: {exc}") from exc
    headers = _dedupe_headers(header)
    width = len(headers)
    rows: list[list[str | None]] = []
    errors: dict[int, str] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors[len(rows)] = f"unreadable row: {exc}"
            rows.append([None] * width)
            continue
        if len(record) > width and any(v.strip() for v in record[width:]):
            extra = json.dumps(record[width:], ensure_ascii=False)
            errors[len(rows)] = (
                f"row has {len(record)} fields but the header has {width}; extra values: {extra}"
            )
        padded = [*record[:width], *([None] * (width - len(record)))]
        rows.append([v if v != "" else None for v in padded])
    frame = pl.DataFrame(rows, schema=dict.fromkeys(headers, pl.String), orient="row")
    return Table(frame, row_errors=errors)


def _parse_excel(name: str, data: bytes, sheets: Literal["first", "all"]) -> list[Table]:
    try:
        book = pl.read_excel(
            io.BytesIO(data),
            sheet_id=0 if sheets == "all" else 1,
            engine="calamine",
            infer_schema_length=0,
            raise_if_empty=False,
        )
    except Exception as exc:  # calamine raises its own error types for corrupt workbooks
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileParseError(name, f"corrupt or unreadable spreadsheet ({detail})") from exc
    if isinstance(book, pl.DataFrame):
        book = {"sheet1": book}
    tables = []
    for sheet_name, frame in book.items():
        if frame.width == 0:
            continue
        frame.columns = _dedupe_headers(frame.columns)
        tables.append(Table(frame.select(pl.all().cast(pl.String)), sheet=sheet_name))
    if not tables:
        raise FileParseError(name, "the workbook has no data")
    return tables


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
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
    return Table(frame, row_errors=errors)


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


def read_tables(
    name: str, data: bytes, excel_sheets: Literal["first", "all"] = "first"
) -> tuple[list[Table], FileFormat, str | None, str | None]:
    """File bytes -> tables of strings with original headers, plus how they were read."""
    file_format = detect_format(name, data)
    if file_format in ("xlsx", "xls"):
        return _parse_excel(name, data, excel_sheets), file_format, None, None
    text, encoding = _decode(name, data)
    _reject_binary(name, text)
    if file_format == "json":
        return [_parse_json(name, text)], file_format, encoding, None
    if file_format == "ndjson":
        return [_parse_ndjson(name, text)], file_format, encoding, None
    delimiter = sniff_delimiter(text)
    return [_parse_csv(name, text, delimiter)], file_format, encoding, delimiter


def to_raw_rows(
    table: Table,
    aliases: Mapping[str, str],
    *,
    file_id: str,
    file_name: str,
    sha256: str,
    arrived_at: datetime,
    sheet_index: int,
) -> pl.DataFrame:
    """Original headers -> canonical fields, keeping the original row as JSON."""
    frame = table.frame
    mapping = map_headers(frame.columns, aliases)
    by_field = {f: h for h, f in mapping.items()}
    n = frame.height
    # Spreadsheet-style row numbers: the header is row 1.
    row_number = pl.int_range(2, n + 2, dtype=pl.Int64, eager=True)
    errors = pl.Series("parse_error", [table.row_errors.get(i) for i in range(n)], dtype=pl.String)
    return conform(
        frame.select(
            pl.lit(file_id).alias("source_file_id"),
            pl.lit(file_name).alias("source_file"),
            pl.lit(sha256).alias("source_sha256"),
            pl.lit(table.sheet, dtype=pl.String).alias("sheet"),
            row_number.alias("row_number"),
            pl.lit(arrived_at, dtype=pl.Datetime("us")).alias("arrived_at"),
            *[
                (pl.col(by_field[f]) if f in by_field else pl.lit(None, pl.String)).alias(f)
                for f in LEAD_FIELDS
            ],
            pl.struct(pl.all()).struct.json_encode().alias("original"),
            errors,
        ).with_columns(
            pl.format("{}-{}-{}", pl.lit(sha256[:16]), pl.lit(sheet_index), "row_number").alias(
                "lead_id"
            )
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
    excel_sheets: Literal["first", "all"] = "first",
) -> ParsedFile:
    """One file -> raw lead rows; raises FileParseError when the file as a whole is unusable."""
    tables, file_format, encoding, delimiter = read_tables(name, data, excel_sheets)
    frames = [
        to_raw_rows(
            t,
            aliases,
            file_id=file_id,
            file_name=name,
            sha256=sha256,
            arrived_at=arrived_at,
            sheet_index=i,
        )
        for i, t in enumerate(tables)
    ]
    mapped = [f for t in tables for f in map_headers(t.frame.columns, aliases).values()]
    if not set(mapped) & {"email", "phone", "mobile_phone", "first_name", "last_name", "full_name"}:
        headers = ", ".join(repr(h) for t in tables for h in t.frame.columns[:12])
        raise FileParseError(
            name,
            f"no column maps to an email, phone or name (headers: {headers}); "
            "add the spelling to the header alias table",
        )
    return ParsedFile(
        rows=pl.concat(frames),
        file_format=file_format,
        encoding=encoding,
        delimiter=delimiter,
        sheets=[t.sheet for t in tables if t.sheet],
    )
