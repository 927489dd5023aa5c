"""Shared fixtures: isolated data folders and settings, never the developer's own `.data/`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, Settings
from pipeline.headers import load_aliases

SAMPLE_DRIVE = PROJECT_ROOT / "data" / "sample_drive"


@pytest.fixture
def aliases():
    return load_aliases()


@pytest.fixture
def parse_kwargs() -> dict:
    return {"file_id": "f1", "sha256": "ab" * 32, "arrived_at": datetime(2026, 11, 1, 9, 30)}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    source = tmp_path / "drive"
    source.mkdir()
    return Settings(
        data_dir=tmp_path / "data",
        source_dir=source,
        default_country="US",
        header_aliases=None,
    )
