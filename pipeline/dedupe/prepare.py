"""Bring any lead table to the columns a spec matches on: map headers through the alias
table and normalize, unless the table is already normalized."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.dedupe.entities import all_distinct
from pipeline.dedupe.sources import Source
from pipeline.dedupe.spec import MatchSpec
from pipeline.headers import load_aliases, map_headers
from pipeline.normalize.leads import normalize_fields
from pipeline.schema import NORMALIZED_SCHEMA, RAW_LEADS_SCHEMA, conform


def read_table(path: Path, warn: Callable[[str], None] | None = None) -> pl.DataFrame:
    """The file's rows. A text file's blank lines are skipped, and its rows with more fields
    than the header are kept as the parser reads them (the header's fields), with `warn`
    naming their rows and the values left out."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".csv", ".tsv", ".txt"):
        from pipeline.parsing import read_tables

        table = read_tables(path.name, path.read_bytes(), load_aliases()).tables[0]
        say = warn or (lambda _: None)
        line = table.first_row_number  # the first data row's, the header being row 1
        for row, reason in sorted(table.row_errors.items())[:_WARNED]:
            say(f"warning: {path.name}: row {line + row}: {reason}")
        if len(table.row_errors) > _WARNED:
            say(f"warning: {path.name}: {len(table.row_errors) - _WARNED} more such row(s)")
        blank = table.frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
        if blank.any():
            lines = ", ".join(str(line + row) for row in blank.arg_true().to_list()[:_WARNED])
            say(
                f"{path.name}: skipped {blank.sum()} blank row(s) (row {lines}"
                f"{', ...' if blank.sum() > _WARNED else ''}); data rows below are counted "
                "without them"
            )
            return table.frame.filter(~blank)
        return table.frame
    raise ValueError(f"{path}: expected a .csv or .parquet file")


# Lines named in a warning: enough to find the problem, not a flood.
_WARNED = 5


# Rows normalized at a time by `prepare_leads`: 4 batches at 1M rows take as long as one
# (1.99 against 2.12 s) and hold ~0.4 GB less at the peak (benchmarks/dedupe/README.md).
ROWS_PER_BATCH = 250_000

_TRUE, _FALSE = ("true", "1", "yes", "y", "t"), ("false", "0", "no", "n", "f")


def typed_as_normalized(frame: pl.DataFrame, source_name: str = "input") -> pl.DataFrame:
    """A normalized table read back from text (a CSV export): its flags, dates and numbers
    typed again, as the engine reads them ('false' as text would count as a true flag).
    Columns already typed, and columns the normalized schema does not know, are left as
    they are. A value that is not one of its type names the file, row and column."""
    typed: list[pl.Expr] = []
    for name, dtype in NORMALIZED_SCHEMA.items():
        if name not in frame.columns or frame[name].dtype != pl.String or dtype == pl.String:
            continue
        text = pl.col(name).str.strip_chars()
        if dtype == pl.Boolean:
            lower = text.str.to_lowercase()
            value = pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False)
        elif dtype.is_temporal():
            value = text.str.to_datetime(time_unit="us", strict=False).cast(dtype)
        else:
            value = text.cast(dtype, strict=False)
        typed.append(value.alias(name))
    if not typed:
        return frame
    retyped = frame.with_columns(typed)
    for name in (expr.meta.output_name() for expr in typed):
        given = frame[name].str.strip_chars()
        bad = (given.is_not_null() & (given != "") & retyped[name].is_null()).arg_true()
        if len(bad):
            row, dtype = int(bad[0]), NORMALIZED_SCHEMA[name]
            kind = "true/false flag" if dtype == pl.Boolean else str(dtype)
            raise ValueError(
                f"{source_name}: row {row + 2}, column {name!r}: {frame[name][row]!r} is not a "
                f"{kind} ({len(bad)} such row(s))"
            )
    return retyped


def prepare_leads(
    frame: pl.DataFrame,
    spec: MatchSpec,
    id_column: str | None,
    source_name: str = "input",
    rows_per_batch: int = ROWS_PER_BATCH,
) -> tuple[pl.DataFrame, str]:
    """(frame with only the spec's columns and the id: the rest of a normalized table, ~0.4
    GB at 1M rows, would only sit in memory; name of the id column in it). A table that is
    not normalized yet is normalized `rows_per_batch` rows at a time."""
    if id_column and id_column not in frame.columns:
        raise ValueError(f"--id-column {id_column!r} is not a column of {source_name}")
    if spec.input_columns() - {spec.id_column} <= set(frame.columns):
        frame = typed_as_normalized(frame, source_name)
        id_col = id_column or spec.id_column
        if id_col not in frame.columns:
            frame = frame.with_row_index(id_col, offset=1).with_columns(
                pl.col(id_col).cast(pl.String)
            )
        needed = spec.input_columns() | {id_col}
        return frame.select(c for c in frame.columns if c in needed), id_col
    if spec.name != "leads":
        missing = sorted(spec.input_columns() - set(frame.columns) - {spec.id_column})
        raise ValueError(f"{source_name} lacks column(s) the {spec.name!r} spec needs: {missing}")
    id_col = id_column or "lead_id"
    mapping = map_headers([c for c in frame.columns if c != id_col], load_aliases())
    raw = frame.select(
        (
            pl.col(id_col).cast(pl.String)
            if id_col in frame.columns
            else pl.int_range(1, frame.height + 1).cast(pl.String)
        ).alias("lead_id"),
        pl.lit(source_name).alias("source_file"),
        pl.int_range(2, frame.height + 2).alias("row_number"),
        pl.lit(datetime.now(UTC).replace(tzinfo=None)).alias("arrived_at"),
        *[pl.col(h).cast(pl.String).alias(f) for h, f in mapping.items()],
    )
    normalized = _normalized_in_batches(conform(raw, RAW_LEADS_SCHEMA), spec, rows_per_batch)
    return normalized.rename({"lead_id": id_col}) if id_col != "lead_id" else normalized, id_col


def _normalized_in_batches(raw: pl.DataFrame, spec: MatchSpec, batch: int) -> pl.DataFrame:
    """The columns the spec reads, of `raw` normalized `batch` rows at a time.

    Normalizing holds several times its input in intermediate columns (1.4 GB at 1M rows);
    a batch at a time, each reduced to what matching reads, holds a quarter of that."""
    needed = spec.input_columns() | {"lead_id"}
    if "created_at" in needed:
        # The one field read from its whole column (a file's day/month order).
        batch = max(raw.height, 1)
    else:
        # Unread, so not parsed at all.
        raw = raw.with_columns(pl.lit(None, pl.String).alias("created_at"))
    batches = []
    for start in range(0, max(raw.height, 1), batch):
        normalized = normalize_fields(raw.slice(start, batch))
        batches.append(normalized.select(c for c in normalized.columns if c in needed))
    return pl.concat(batches)


def prepared_source(
    path: Path, spec: MatchSpec, id_column: str | None, warn: Callable[[str], None] | None = None
) -> tuple[Source, str]:
    """(the table to dedupe, its id column). A parquet file that already has the spec's
    columns and the id column is scanned, not read: the engine then reads only the columns
    it needs, when it needs them (at 1M normalized leads, 0.9 GB less memory). Anything
    else is read and prepared in memory (`prepare_leads`)."""
    if path.exists() and path.suffix.lower() == ".parquet":
        lazy = pl.scan_parquet(path)
        names = set(lazy.collect_schema().names())
        id_col = id_column or spec.id_column
        if id_col in names and spec.input_columns() - {spec.id_column} <= names:
            return lazy, id_col
    return prepare_leads(read_table(path, warn), spec, id_column, path.name)


def latest_per_id(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """One row per id, the last one (a re-ingested lead counts once, as it was last read).
    The table itself when no id repeats: `unique` copies every column even then (0.7 GB
    for a 1M-row normalized table). Repeats are looked for on hashes first (a million ids:
    0.3 s by `is_duplicated`)."""
    if all_distinct(frame[id_col]):
        return frame
    return frame.unique(id_col, keep="last", maintain_order=True)
