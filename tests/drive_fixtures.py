"""A fake Drive with a watched folder, and the pipeline's Drive source pointed at it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.config import Settings
from pipeline.drive.source import DriveSource
from pipeline.google.auth import GoogleAuth
from pipeline.store import open_store
from resources.lead_source import DriveLeadSource
from tests.fakes.drive_server import FakeDrive
from tests.fakes.google_api import GoogleApiServer

ACCOUNT = "leads@proj.iam.gserviceaccount.com"


@dataclass
class DriveWorld:
    google: GoogleApiServer
    drive: FakeDrive
    key_file: Path
    folder: str  # the watched folder, shared with the service account
    tmp: Path

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.tmp / 'ops.sqlite'}"

    @property
    def landing(self) -> Path:
        return self.tmp / "data" / "landing"

    def auth(self) -> GoogleAuth:
        return GoogleAuth(service_account_file=self.key_file, api_base_url=self.google.url)

    def source(self, folder_ids: list[str] | None = None) -> DriveSource:
        source = DriveSource(self.auth(), folder_ids or [self.folder], open_store(self.store_url))
        source.api.initial_backoff = 0.05  # Retry-After still holds: it is a minimum
        return source

    def resource(self, poll_seconds: int = 0) -> DriveLeadSource:
        """The Dagster resource, as backends.py builds it for LEADS_SOURCE=drive."""
        return DriveLeadSource(
            folder_ids=[self.folder],
            service_account_file=str(self.key_file),
            api_base_url=self.google.url,
            database_url=self.store_url,
            poll_seconds=poll_seconds,
        )

    def settings(self, **overrides) -> Settings:
        values = {
            "data_dir": self.tmp / "data",
            "lead_source": "drive",
            "drive_folder_ids": (self.folder,),
            "google_application_credentials": self.key_file,
            "google_api_base_url": self.google.url,
            "database_url": self.store_url,
            "header_aliases": None,
            **overrides,
        }
        return Settings(**values)

    def env(self) -> dict[str, str]:
        """The same configuration as environment variables (for the command line)."""
        return {
            "LEADS_DATA_DIR": str(self.tmp / "data"),
            "LEADS_SOURCE": "drive",
            "DRIVE_FOLDER_IDS": self.folder,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.key_file),
            "GOOGLE_API_BASE_URL": self.google.url,
            "LEADS_DATABASE_URL": self.store_url,
        }


@contextmanager
def drive_world(tmp_path: Path) -> Iterator[DriveWorld]:
    with GoogleApiServer() as google:
        drive = FakeDrive(google)
        folder = drive.folder("Lead drops", shared=True)
        yield DriveWorld(
            google, drive, google.service_account_file(tmp_path, ACCOUNT), folder, tmp_path
        )


def csv_bytes(*emails: str) -> bytes:
    return (
        "Email,Name\n" + "".join(f"{e},{e.split('@')[0].title()} Person\n" for e in emails)
    ).encode()


def xlsx_bytes(sheets: dict[str, list[str]]) -> bytes:
    """A workbook with one sheet of emails per entry (what a Sheet's XLSX export holds)."""
    import xlsxwriter

    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        for name, emails in sheets.items():
            frame = pl.DataFrame({"Email": emails, "Name": [e.split("@")[0] for e in emails]})
            frame.write_excel(book, worksheet=name)
    return buffer.getvalue()
