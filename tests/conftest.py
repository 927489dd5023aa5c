"""Shared fixtures: isolated data folders and settings, never the developer's own `.data/`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

# Tests use arrival days from 2024 on; without this the first partition would be the oldest
# file's day in the developer's folder (assets/partitions.py), read when assets are imported.
os.environ.setdefault("LEADS_PARTITION_START", "2024-01-01")

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


# --- The operational store on both backends -------------------------------------------------
# Postgres comes from LEADS_TEST_DATABASE_URL (`make test` starts the machine's cluster through
# .ci/postgres.sh). Each xdist worker gets its own database; tables are emptied per test. Under
# CI a missing server is a failure, never a silent skip.


def _postgres_admin_url() -> str | None:
    url = os.environ.get("LEADS_TEST_DATABASE_URL", "").strip()
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI needs Postgres: LEADS_TEST_DATABASE_URL is not set (see .ci/run)")
        return None
    return url


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("Postgres not configured locally (LEADS_TEST_DATABASE_URL unset)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"leads_store_{worker_id}_{os.getpid()}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    from pipeline.store import open_store

    open_store(url).dispose()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty store on each backend."""
    from sqlalchemy import text

    from pipeline.store import open_store
    from pipeline.store.tables import metadata

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
        open_store(url)
        return url
    url = request.getfixturevalue("postgres_url")
    engine = open_store(url)
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
def store(store_url: str):
    from pipeline.store import open_store

    return open_store(store_url)


@pytest.fixture
def sqlite_store(tmp_path: Path):
    """A migrated SQLite store, for tests whose subject is not the backend."""
    from pipeline.store import open_store

    return open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
