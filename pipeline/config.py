"""Settings read from the environment (and `.env`), with embedded defaults for a laptop."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Paths and defaults; every field has an environment variable of the same name."""

    data_dir: Path
    source_dir: Path
    default_country: str
    header_aliases: Path | None
    excel_sheets: str = "first"
    # The operational store (webhook inbox, audit log, ...); may carry a password, so it is
    # kept out of repr() and logged only through `pipeline.store.redact_url`.
    database_url: str | None = field(default=None, repr=False)
    webhook_max_attempts: int = 5
    enrichment: str = "offline"  # offline | http
    enrichment_config: Path | None = None
    crm_backend: str = "outbox"  # outbox | hubspot (HUBSPOT_ACCESS_TOKEN is read as an EnvVar)
    hubspot_base_url: str | None = None
    hubspot_requests_per_10s: int = 100
    hubspot_daily_limit: int | None = None
    crm_mapping: Path | None = None
    crm_max_rejected_rate: float = 0.05

    @property
    def store_url(self) -> str:
        """LEADS_DATABASE_URL, or the embedded SQLite file beside the warehouse."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'ops.sqlite').resolve()}"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


def _path(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    return Path(value) if value else None


def load_settings() -> Settings:
    """Read settings once per process; `.env` in the working directory is honoured."""
    load_dotenv(override=False)
    aliases = os.environ.get("LEADS_HEADER_ALIASES")
    data_dir = Path(os.environ.get("LEADS_DATA_DIR", PROJECT_ROOT / ".data"))
    return Settings(
        data_dir=data_dir,
        source_dir=Path(os.environ.get("LEADS_SOURCE_DIR", PROJECT_ROOT / "data" / "sample_drive")),
        default_country=os.environ.get("LEADS_DEFAULT_COUNTRY", "US").upper(),
        header_aliases=Path(aliases) if aliases else None,
        excel_sheets=os.environ.get("LEADS_EXCEL_SHEETS", "first").lower(),
        database_url=os.environ.get("LEADS_DATABASE_URL") or None,
        webhook_max_attempts=int(os.environ.get("LEADS_WEBHOOK_MAX_ATTEMPTS", "5")),
        enrichment=os.environ.get("LEADS_ENRICHMENT", "offline").strip().lower(),
        enrichment_config=_path("LEADS_ENRICHMENT_CONFIG"),
        crm_backend=os.environ.get("CRM_BACKEND", "outbox").strip().lower(),
        hubspot_base_url=os.environ.get("HUBSPOT_BASE_URL") or None,
        hubspot_requests_per_10s=int(os.environ.get("HUBSPOT_REQUESTS_PER_10S", "100")),
        hubspot_daily_limit=int(os.environ["HUBSPOT_DAILY_LIMIT"])
        if os.environ.get("HUBSPOT_DAILY_LIMIT")
        else None,
        crm_mapping=_path("CRM_MAPPING"),
        crm_max_rejected_rate=float(os.environ.get("CRM_MAX_REJECTED_RATE", "0.05")),
    )
