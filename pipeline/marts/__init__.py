"""SQL models over the warehouse (`dbt_like_sql/`): discovery, lineage parsed with sqlglot,
YAML docs and tests, building in DuckDB. No Dagster here: `assets/marts.py` turns each model
into an asset, `python -m pipeline sql` lists and runs them from the terminal."""

from pipeline.marts.build import BuiltModel, build_model
from pipeline.marts.checks import TestOutcome, run_tests
from pipeline.marts.errors import BuildError, ModelError
from pipeline.marts.header import ColumnDoc, ModelDoc, ModelTest
from pipeline.marts.project import Relation, SqlModel, SqlProject, load_project

__all__ = [
    "BuildError",
    "BuiltModel",
    "ColumnDoc",
    "ModelDoc",
    "ModelError",
    "ModelTest",
    "Relation",
    "SqlModel",
    "SqlProject",
    "TestOutcome",
    "build_model",
    "load_project",
    "run_tests",
]
