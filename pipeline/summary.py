"""A plain-words summary of what the warehouse holds, for the end of `make demo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.normalize.leads import REJECT_REASONS

SCHEMA = "leads"


@dataclass
class IngestSummary:
    files_read: int = 0
    files_quarantined: list[tuple[str, str]] = field(default_factory=list)
    rows_parsed: int = 0
    rows_rejected: dict[str, int] = field(default_factory=dict)
    leads_normalized: int = 0
    valid_emails: int = 0
    valid_phones: int = 0
    entities: int = 0
    enriched: dict[str, int] = field(default_factory=dict)
    grades: dict[str, int] = field(default_factory=dict)
    crm_synced: int = 0

    def render(self) -> str:
        lines = [
            "Lead ingestion summary",
            "----------------------",
            f"Files read:         {self.files_read}"
            + (f" ({len(self.files_quarantined)} quarantined)" if self.files_quarantined else ""),
            f"Rows parsed:        {self.rows_parsed}",
            f"Rows rejected:      {sum(self.rows_rejected.values())}",
        ]
        for reason, n in sorted(self.rows_rejected.items(), key=lambda kv: -kv[1]):
            lines.append(f"  - {n} {reason}: {REJECT_REASONS.get(reason, reason)}")
        lines += [
            f"Leads normalized:   {self.leads_normalized}"
            f" ({self.valid_emails} with a valid email, {self.valid_phones} with a valid phone)",
        ]
        if self.entities:
            lines.append(
                f"People after dedupe: {self.entities}"
                f" ({self.leads_normalized - self.entities} duplicate leads merged)"
            )
        if self.enriched:
            done = ", ".join(f"{n} {status}" for status, n in sorted(self.enriched.items()))
            lines.append(f"Enrichment:         {done}")
        if self.grades:
            grades = ", ".join(f"{n} {grade}" for grade, n in sorted(self.grades.items()))
            lines.append(f"Lead grades:        {grades}")
        if self.crm_synced:
            lines.append(f"CRM contacts:       {self.crm_synced} in the sync ledger")
        if self.files_quarantined:
            lines.append("Quarantined files (fix and drop them in again):")
            lines += [f"  - {error}" for _name, error in self.files_quarantined]
        return "\n".join(lines)


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    query = (
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    )
    return bool(con.execute(query, [SCHEMA, table]).fetchall()[0][0])


def _scalar(con: duckdb.DuckDBPyConnection, table: str, expr: str = "count(*)") -> int:
    if not _table_exists(con, table):
        return 0
    return int(con.sql(f"select {expr} from {SCHEMA}.{table}").fetchall()[0][0] or 0)


def summarize(warehouse: Path) -> IngestSummary:
    """Read the warehouse (read-only, so it can run beside `dagster dev`)."""
    summary = IngestSummary()
    if not warehouse.exists():
        return summary
    with duckdb.connect(str(warehouse), read_only=True) as con:
        summary.files_read = _scalar(con, "drive_files")
        summary.rows_parsed = _scalar(con, "raw_leads")
        summary.leads_normalized = _scalar(con, "normalized_leads")
        summary.valid_emails = _scalar(con, "normalized_leads", "count_if(email_valid)")
        summary.valid_phones = _scalar(con, "normalized_leads", "count_if(phone_valid)")
        summary.entities = _scalar(con, "golden_leads")
        if _table_exists(con, "rejected_rows"):
            summary.rows_rejected = dict(
                con.execute(
                    f"select reason, count(*) from {SCHEMA}.rejected_rows group by 1"
                ).fetchall()
            )
        for table, column, target in (
            ("enriched_leads", "enrichment_status", summary.enriched),
            ("scored_leads", "lead_grade", summary.grades),
        ):
            if _table_exists(con, table):
                target.update(
                    con.execute(
                        f"select {column}, count(*) from {SCHEMA}.{table} group by 1"
                    ).fetchall()
                )
        summary.crm_synced = _scalar(con, "crm_contacts", "count_if(status = 'synced')")
        if _table_exists(con, "quarantined_files"):
            summary.files_quarantined = con.sql(
                f"select name, error from {SCHEMA}.quarantined_files order by name"
            ).fetchall()
    return summary
