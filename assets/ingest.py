"""The `ingest` group: arrived files, their landed bytes, and the rows parsed from them."""

from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from assets.metadata import counts, preview, unique_ids_check
from assets.partitions import PARTITIONED, arrival_day, day_start, window_bounds
from pipeline.file_intake import FileIntake, failure_of, read_landed_file
from pipeline.headers import load_aliases
from pipeline.landing import quarantine
from pipeline.schema import (
    DRIVE_FILES_SCHEMA,
    QUARANTINED_FILES_SCHEMA,
    RAW_LEADS_SCHEMA,
    conform,
    empty_frame,
)
from pipeline.sources import FileUnavailable
from resources.lead_source import LeadSource
from resources.settings import PipelineSettings

GROUP = "ingest"


@asset(
    group_name=GROUP,
    partitions_def=arrival_day,
    metadata=PARTITIONED,
    kinds={"polars", "duckdb"},
    description=(
        "Manifest of lead files that arrived on the day (id, name, size, sha256, mime, "
        "arrival), with each file's bytes landed content-addressed under the landing zone."
    ),
)
def drive_files(
    context: AssetExecutionContext, lead_source: LeadSource, settings: PipelineSettings
) -> Output[pl.DataFrame]:
    start, end = window_bounds(context.partition_key)
    listing = lead_source.listing(start, end)
    files = listing.files
    source = lead_source.describe()
    context.log.info(f"{len(files)} file(s) from {source} for {context.partition_key}")
    rows = []
    unavailable: list[str] = []
    fetched = 0
    for i, file in enumerate(files, start=1):
        try:
            landed = lead_source.land(file, settings.landing_dir)
        except FileUnavailable as exc:  # one file never costs the day
            context.log.warning(f"skipped: {exc}")
            unavailable.append(str(exc))
            continue
        fetched += landed.fetched_bytes
        rows.append(
            {
                "file_id": file.file_id,
                "name": file.name,
                "mime_type": file.mime_type,
                "size_bytes": file.size_bytes or landed.path.stat().st_size,
                "sha256": landed.sha256,
                "version": file.version,
                "modified_at": file.modified_at,
                "arrived_at": file.arrived_at,
                "source": source,
                "landed_path": str(landed.path),
                "arrival_day": day_start(context.partition_key),
            }
        )
        if i % 100 == 0:
            context.log.info(f"landed {i}/{len(files)} files")
    manifest = (
        conform(pl.DataFrame(rows), DRIVE_FILES_SCHEMA) if rows else empty_frame(DRIVE_FILES_SCHEMA)
    )
    ignored = "\n".join(f"- {n} {why}" for why, n in sorted(listing.ignored.items()))
    return Output(
        manifest,
        metadata={
            "files": len(rows),
            "bytes": int(manifest["size_bytes"].sum() or 0),
            "bytes_fetched": fetched,
            "source": source,
            "files_preview": preview(manifest.select("name", "size_bytes", "sha256"), 20),
            "ignored_files": sum(listing.ignored.values()),
            "ignored": MetadataValue.md(ignored or "_none_"),
            "unavailable_files": MetadataValue.md(
                "\n".join(f"- {u}" for u in unavailable) or "_none_"
            ),
        },
    )


def _files_table(read: list[dict]) -> MetadataValue:
    """Per file: how it was read and what was skipped (banners, sheets), as a table."""
    columns = ("file", "format", "encoding", "delimiter", "sheets read", "sheets skipped")
    columns += ("preamble rows", "rows")
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for r in read:
        skipped = ", ".join(f"{s} ({why})" for s, why in r["ignored_sheets"].items())
        preamble = ", ".join(f"{s or 'file'}: {n}" for s, n in r["preamble_rows"].items())
        lines.append(
            f"| {r['file']} | {r['format']} | {r['encoding'] or ''} | "
            f"{repr(r['delimiter']) if r['delimiter'] else ''} | {', '.join(r['sheets'])} | "
            f"{skipped} | {preamble} | {r['rows']:,} |"
        )
    return MetadataValue.md("\n".join(lines) if read else "_no files_")


@multi_asset(
    group_name=GROUP,
    partitions_def=arrival_day,
    outs={
        "raw_leads": AssetOut(
            metadata=PARTITIONED,
            kinds={"polars", "duckdb"},
            description=(
                "Every row of every parsed file as strings, headers mapped to canonical "
                "fields, with source file, sheet, row number and the original values as JSON."
            ),
        ),
        "quarantined_files": AssetOut(
            metadata=PARTITIONED,
            kinds={"polars", "duckdb"},
            description=(
                "Files (and archive members) that could not be read at all, with the error, "
                "its class and where it was raised; copied aside to the quarantine folder."
            ),
        ),
    },
    check_specs=[
        AssetCheckSpec(
            "lead_ids_unique",
            asset="raw_leads",
            blocking=True,
            description="Every raw row has a distinct lead_id.",
        ),
        AssetCheckSpec(
            "raw_schema_matches_contract",
            asset="raw_leads",
            blocking=True,
            description="raw_leads has exactly the columns and types of the contract.",
        ),
        AssetCheckSpec(
            "no_files_quarantined",
            asset="quarantined_files",
            description="Warns when a file of the day could not be read (the rest loaded).",
        ),
    ],
)
def raw_leads(
    context: AssetExecutionContext, drive_files: pl.DataFrame, settings: PipelineSettings
):
    aliases = load_aliases(Path(settings.header_aliases) if settings.header_aliases else None)
    frames: list[pl.DataFrame] = [empty_frame(RAW_LEADS_SCHEMA)]
    quarantined: list[dict] = []
    read: list[dict] = []
    limits = settings.intake_limits
    for file in drive_files.iter_rows(named=True):
        landed = Path(file["landed_path"])
        try:
            intake = read_landed_file(
                landed,
                file["name"],
                aliases,
                file_id=file["file_id"],
                sha256=file["sha256"],
                arrived_at=file["arrived_at"],
                excel_sheets=settings.excel_sheets,
                limits=limits,
            )
        except Exception as exc:  # the intake catches its own; this is the last safety net
            intake = FileIntake(failures=[failure_of(file["name"], exc)])
        for failure in intake.failures:
            source = failure.member_data if failure.member_data is not None else landed
            target = quarantine(settings.quarantine_dir, source, failure.name, file["sha256"])
            context.log.warning(
                f"quarantined {failure.error} [{failure.error_type}"
                + (f" at {failure.error_where}" if failure.error_where else "")
                + f"] (copy at {target})"
            )
            quarantined.append(
                {
                    **file,
                    "name": failure.name,
                    "error": failure.error,
                    "error_type": failure.error_type,
                    "error_where": failure.error_where,
                    "quarantine_path": str(target),
                }
            )
        for shown, parsed in intake.parsed:
            context.log.info(
                f"{shown}: {parsed.rows.height} rows ({parsed.file_format}"
                + (f", {parsed.encoding}" if parsed.encoding else "")
                + (f", delimiter {parsed.delimiter!r}" if parsed.delimiter else "")
                + (f", sheets {parsed.sheets}" if parsed.sheets else "")
                + (
                    f", {sum(parsed.preamble_rows.values())} preamble row(s) skipped"
                    if parsed.preamble_rows
                    else ""
                )
                + ")"
            )
            read.append(
                {
                    "file": shown,
                    "format": parsed.file_format,
                    "encoding": parsed.encoding,
                    "delimiter": parsed.delimiter,
                    "sheets": parsed.sheets,
                    "ignored_sheets": parsed.ignored_sheets,
                    "preamble_rows": parsed.preamble_rows,
                    "rows": parsed.rows.height,
                }
            )
            frames.append(parsed.rows.with_columns(arrival_day=pl.lit(file["arrival_day"])))
    rows = pl.concat(frames)
    quarantine_frame = (
        conform(pl.DataFrame(quarantined), QUARANTINED_FILES_SCHEMA)
        if quarantined
        else empty_frame(QUARANTINED_FILES_SCHEMA)
    )
    yield Output(
        rows,
        output_name="raw_leads",
        metadata={
            "rows": rows.height,
            "files_parsed": len(read),
            "rows_per_file": counts(rows, "source_file"),
            "files": _files_table(read),
            "preamble_rows_skipped": sum(sum(r["preamble_rows"].values()) for r in read),
        },
    )
    errors = MetadataValue.md(
        "\n".join(f"- {q['error']} ({q['error_type']})" for q in quarantined) or "_none_"
    )
    yield Output(
        quarantine_frame,
        output_name="quarantined_files",
        metadata={"files": len(quarantined), "errors": errors},
    )
    yield unique_ids_check("lead_ids_unique", "raw_leads", rows, "lead_id")
    mismatched = [
        c for c, t in RAW_LEADS_SCHEMA.items() if c not in rows.schema or rows.schema[c] != t
    ]
    yield AssetCheckResult(
        check_name="raw_schema_matches_contract",
        asset_key="raw_leads",
        passed=not mismatched and len(rows.columns) == len(RAW_LEADS_SCHEMA),
        severity=AssetCheckSeverity.ERROR,
        metadata={"mismatched_columns": MetadataValue.json(mismatched)},
    )
    yield AssetCheckResult(
        check_name="no_files_quarantined",
        asset_key="quarantined_files",
        passed=not quarantined,
        severity=AssetCheckSeverity.WARN,
        metadata={"quarantined": len(quarantined), "errors": errors},
    )
