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

    @property
    def store_url(self) -> str:
        """LEADS_DATABASE_URL, or the embedded SQLite file beside the warehouse."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'ops.sqlite').resolve()}"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


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
        enrichment_config=Path(os.environ["LEADS_ENRICHMENT_CONFIG"])
        if os.environ.get("LEADS_ENRICHMENT_CONFIG")
        else None,
    )
