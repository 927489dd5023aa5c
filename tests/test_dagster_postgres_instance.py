"""The documented Postgres instance (dagster.postgres.yaml) really stores runs in Postgres."""

from __future__ import annotations

import shutil

import pytest
import yaml
from dagster import DagsterInstance, job, op
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.config import PROJECT_ROOT


@op
def say_hello() -> str:
    return "hello"


@job
def hello_job() -> None:
    say_hello()


def test_postgres_instance_shares_every_setting_but_storage_with_the_default():
    default = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    postgres = yaml.safe_load((PROJECT_ROOT / "dagster.postgres.yaml").read_text())
    assert "postgres" in postgres.pop("storage")
    assert postgres == default


@pytest.mark.postgres
def test_runs_land_in_postgres_with_the_documented_yaml(postgres_url, tmp_path, monkeypatch):
    url = make_url(postgres_url)
    database = f"{url.database}_dagster"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        for name, value in {
            "DAGSTER_PG_HOST": url.host,
            "DAGSTER_PG_PORT": str(url.port or 5432),
            "DAGSTER_PG_USER": url.username,
            "DAGSTER_PG_PASSWORD": url.password,
            "DAGSTER_PG_DB": database,
        }.items():
            monkeypatch.setenv(name, value)
        shutil.copy(PROJECT_ROOT / "dagster.postgres.yaml", tmp_path / "dagster.yaml")
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            result = hello_job.execute_in_process(instance=instance)
            assert result.success
            assert instance.get_run_by_id(result.run_id) is not None
        stored = create_engine(url.set(database=database))
        with stored.connect() as conn:
            ids = {r[0] for r in conn.execute(text("SELECT run_id FROM runs"))}
        stored.dispose()
        assert result.run_id in ids
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
