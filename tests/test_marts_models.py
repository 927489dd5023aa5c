"""The SQL models engine (pipeline.marts, no Dagster): finding models, the tables they read
(sqlglot), their YAML docs and tests, building them in a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.marts import BuildError, ModelError, Relation, build_model, load_project

SOURCES = [
    ("leads", "normalized_leads"),
    ("leads", "drive_files"),
    ("leads", "rejected_rows"),
]


def _write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema leads")
    con.execute(
        "create table leads.normalized_leads as select * from (values "
        "('l1', 'f1', true), ('l2', 'f1', false), ('l3', 'f2', true)) t(lead_id, file_id, ok)"
    )
    con.execute(
        "create table leads.drive_files as select * from (values ('f1', 'a.csv'), "
        "('f2', 'b.csv')) t(file_id, name)"
    )
    con.execute("create table leads.rejected_rows (lead_id varchar, reason varchar)")
    return con


def test_an_unknown_table_stops_the_load_naming_the_file_and_line(tmp_path):
    _write(
        tmp_path,
        "marts/funnel.sql",
        "-- description: Leads per file.\n"
        "select n.file_id, count(*) as leads\n"
        "from leads.normalized_leads n\n"
        "join leads.drive_files f using (file_id)\n"
        "left join leads.normalised_leads x using (lead_id)\n"
        "group by all\n",
    )
    with pytest.raises(ModelError) as caught:
        load_project(tmp_path, SOURCES)
    message = str(caught.value)
    assert "funnel.sql, line 5" in message
    assert "unknown table leads.normalised_leads" in message
    assert "did you mean leads.normalized_leads" in message
    assert caught.value.line == 5 and caught.value.path.name == "funnel.sql"


def test_an_unknown_unqualified_table_and_an_unknown_relationships_target_name_their_line(
    tmp_path,
):
    _write(tmp_path, "a.sql", "select 1 as x\nunion all\nselect 2 from somewhere_else\n")
    with pytest.raises(ModelError, match=r"a\.sql, line 3: unknown table somewhere_else"):
        load_project(tmp_path, SOURCES)

    (tmp_path / "a.sql").unlink()
    _write(
        tmp_path,
        "b.sql",
        "-- columns:\n"
        "--   file_id:\n"
        "--     tests:\n"
        "--       - relationships: {to: leads.files, field: file_id}\n"
        "select file_id from leads.normalized_leads\n",
    )
    with pytest.raises(ModelError, match=r"b\.sql, line 4: unknown table leads\.files"):
        load_project(tmp_path, SOURCES)


def test_lineage_is_every_table_read_not_ctes_and_models_reading_models(tmp_path):
    _write(
        tmp_path,
        "marts/per_file.sql",
        "with valid as (select * from leads.normalized_leads where ok)\n"
        "select v.file_id, count(*) as leads\n"
        "from valid v\n"
        "where exists (select 1 from drive_files d where d.file_id = v.file_id)\n"
        "group by all\n",
    )
    _write(
        tmp_path,
        "marts/top_file.sql",
        "select * from per_file order by leads desc limit 1",
    )
    project = load_project(tmp_path, SOURCES)
    assert list(project.models) == ["per_file", "top_file"]  # build order
    per_file, top_file = project.models["per_file"], project.models["top_file"]
    assert per_file.upstream == (
        Relation("leads", "normalized_leads"),
        Relation("leads", "drive_files"),
    )
    assert top_file.upstream == (Relation("marts", "per_file"),)
    # Unqualified names are qualified in place: same text, same lines.
    assert 'from "leads".drive_files d' in per_file.executable
    assert per_file.executable.count("\n") == per_file.text.count("\n")
    assert top_file.executable == 'select * from "marts".per_file order by leads desc limit 1'


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("select * from read_csv('/etc/passwd')", r"line 1: table function READ_CSV"),
        ("select 1;\nselect 2", r"line 2: more than one statement"),
        ("create table x as select 1", r"a model is one SELECT"),
        ("select * from other.db.tbl", r"database-qualified"),
        ("select * from (select 1", r"SQL does not parse"),
    ],
)
def test_what_a_model_may_not_be(tmp_path, sql, error):
    _write(tmp_path, "m.sql", sql)
    with pytest.raises(ModelError, match=error):
        load_project(tmp_path, SOURCES)


def test_models_reading_each_other_in_a_cycle_are_refused(tmp_path):
    _write(tmp_path, "a.sql", "select * from b")
    _write(tmp_path, "b.sql", "select * from a")
    with pytest.raises(ModelError, match="cycle"):
        load_project(tmp_path, SOURCES)


def test_generators_are_not_tables(tmp_path):
    _write(
        tmp_path,
        "days.sql",
        "select d from range(date '2024-01-01', date '2024-01-03', interval 1 day) t(d)",
    )
    assert load_project(tmp_path, SOURCES).models["days"].upstream == ()


def test_header_yaml_errors_name_their_line_and_a_sidecar_works(tmp_path):
    _write(tmp_path, "m.sql", "-- description: ok\n-- columns: [unclosed\nselect 1 as x\n")
    with pytest.raises(ModelError, match=r"m\.sql, line 2: the YAML header does not parse"):
        load_project(tmp_path, SOURCES)
    _write(
        tmp_path,
        "m.sql",
        "-- description: x\n-- tests:\n--   - unique_together: [x]\nselect 1 as x",
    )
    with pytest.raises(ModelError, match=r"line 3: unknown test 'unique_together'"):
        load_project(tmp_path, SOURCES)

    _write(tmp_path, "m.sql", "/* Leads per file, from the sidecar. */\nselect 1 as x\n")
    _write(
        tmp_path,
        "m.yml",
        "description: From the sidecar.\ncolumns:\n  x:\n    description: One.\n"
        "    tests: [not_null, {accepted_values: [1, 2]}]\n",
    )
    doc = load_project(tmp_path, SOURCES).models["m"].doc
    assert doc.description == "From the sidecar."
    assert [c.description for c in doc.columns] == ["One."]
    assert [t.name for t in doc.tests] == ["not_null__x", "accepted_values__x"]

    _write(tmp_path, "m.sql", "-- description: In the header too.\nselect 1 as x\n")
    with pytest.raises(ModelError, match="both this sidecar and a YAML header"):
        load_project(tmp_path, SOURCES)


HEADER = """-- description: Leads per file.
-- columns:
--   file_id:
--     description: The file.
--     tests:
--       - not_null
--       - unique
--       - relationships: {to: leads.drive_files, field: file_id}
--   name:
--     description: Its name.
--     tests:
--       - accepted_values: {values: [a.csv], severity: warn}
--   leads: Leads that passed.
-- tests:
--   - row_count: {min: 1, max: 5}
"""


def test_tests_count_offending_rows_and_show_a_few(tmp_path):
    con = _warehouse(tmp_path / "wh.duckdb")
    con.execute(
        "insert into leads.normalized_leads values ('l4', 'ghost', true), ('l5', null, true)"
    )
    _write(
        tmp_path / "models",
        "marts/per_file.sql",
        HEADER + "select n.file_id, f.name, count(*) filter (where ok) as leads\n"
        "from leads.normalized_leads n left join leads.drive_files f using (file_id)\n"
        "group by all union all select 'f1', 'a.csv', 0\n",
    )
    project = load_project(tmp_path / "models", SOURCES)
    model = project.models["per_file"]
    assert model.upstream == (
        Relation("leads", "normalized_leads"),
        Relation("leads", "drive_files"),
    )
    built = build_model(con, project, model)
    assert built.rows == 5
    assert [c for c, _ in built.columns] == ["file_id", "name", "leads"]
    outcomes = {o.test.name: o for o in built.tests}
    assert outcomes["not_null__file_id"].failures == 1
    assert outcomes["unique__file_id"].failures == 1 and outcomes["unique__file_id"].sample == (
        "f1",
    )
    rel = outcomes["relationships__file_id__drive_files"]
    assert not rel.passed and rel.sample == ("ghost",)
    values = outcomes["accepted_values__name"]
    assert not values.passed and values.test.severity == "warn" and values.sample == ("b.csv",)
    assert outcomes["row_count"].passed and outcomes["row_count"].failures == 5
    assert outcomes["unique__file_id"].summary == "1 duplicated value(s), e.g. 'f1'"


def test_a_failed_build_names_the_file_and_keeps_the_previous_table(tmp_path):
    con = _warehouse(tmp_path / "wh.duckdb")
    models = tmp_path / "models"
    path = _write(
        models,
        "counts.sql",
        "-- columns:\n--   n: Leads.\nselect count(*) as n\nfrom leads.normalized_leads\n",
    )
    project = load_project(models, SOURCES)
    assert build_model(con, project, project.models["counts"]).rows == 1

    path.write_text(
        "-- columns:\n--   n: Leads.\nselect count(*) as n,\n  no_such_column\n"
        "from leads.normalized_leads\n"
    )
    project = load_project(models, SOURCES)
    with pytest.raises(BuildError) as caught:
        build_model(con, project, project.models["counts"])
    assert "counts.sql" in str(caught.value) and "no_such_column" in str(caught.value)
    assert "LINE 4" in str(caught.value)  # DuckDB's line is the file's line
    assert con.sql("select n from marts.counts").fetchall() == [(3,)]

    path.write_text("-- columns:\n--   n: Leads.\n--   m: Missing.\nselect 1 as n\n")
    project = load_project(models, SOURCES)
    with pytest.raises(BuildError, match=r"documents column\(s\) the query does not produce: m "):
        build_model(con, project, project.models["counts"])
    assert con.sql("select n from marts.counts").fetchall() == [(3,)]


def test_a_missing_upstream_table_says_what_to_materialize(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    _write(tmp_path / "models", "a.sql", "select * from leads.rejected_rows")
    project = load_project(tmp_path / "models", SOURCES)
    with pytest.raises(BuildError, match="materialize the asset rejected_rows first"):
        build_model(con, project, project.models["a"])


def test_layers_are_schemas(tmp_path):
    con = _warehouse(tmp_path / "wh.duckdb")
    _write(
        tmp_path / "models",
        "staging/valid_leads.sql",
        "select * from leads.normalized_leads where ok",
    )
    _write(
        tmp_path / "models",
        "marts/valid_count.sql",
        "select count(*) as n from staging.valid_leads",
    )
    project = load_project(tmp_path / "models", SOURCES)
    for model in project.models.values():
        build_model(con, project, model)
    assert con.sql("select n from marts.valid_count").fetchall() == [(2,)]
    frame = con.sql("select * from staging.valid_leads").pl()
    assert frame.sort("lead_id")["lead_id"].to_list() == ["l1", "l3"]
    assert isinstance(frame, pl.DataFrame)
