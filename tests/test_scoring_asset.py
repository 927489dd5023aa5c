"""The `scored_leads` asset through Dagster: warehouse table, metadata, drift and input checks."""

from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, asset, materialize

from assets.scoring import scored_leads
from pipeline.scoring import IcpError
from pipeline.scoring.synthetic import AS_OF, enriched_frame
from resources.io_manager import LeadsWarehouseIOManager
from resources.scoring import IcpSource

RUN_CONFIG = {"ops": {"scored_leads": {"config": {"as_of": AS_OF.isoformat()}}}}

GOOD = {
    "seniority": "vp",
    "department": "sales",
    "industry": "Computer Software",
    "employee_range": "51-200",
    "country": "US",
    "email_valid": True,
    "is_free_email": False,
    "is_role_email": False,
    "email_deliverability": "deliverable",
    "lead_source": "Referral",
    "created_at": AS_OF - timedelta(days=3),
}
POOR = {
    "seniority": "entry",
    "department": "hr",
    "country": "BR",
    "email_valid": True,
    "is_free_email": True,
    "lead_source": "Purchased List",
    "created_at": AS_OF - timedelta(days=600),
}


def leads(rows: list[dict]) -> pl.DataFrame:
    frame = enriched_frame(rows)
    return frame.with_columns(
        pl.format("e{}", pl.int_range(pl.len())).alias("entity_id"),
        pl.format("p{}@example.com", pl.int_range(pl.len())).alias("email"),
    )


def upstream(frame: pl.DataFrame):
    """A stand-in for the enrichment stage's asset, returning a fixed frame."""

    @asset(name="enriched_leads", group_name="enrich")
    def enriched_leads() -> pl.DataFrame:
        return frame

    return enriched_leads


def run(tmp_path: Path, frame: pl.DataFrame, instance=None, icp: str | None = None):
    return materialize(
        [upstream(frame), scored_leads],
        instance=instance,
        run_config=RUN_CONFIG,
        resources={
            "io_manager": LeadsWarehouseIOManager(
                database=str(tmp_path / "wh.duckdb"), schema="leads"
            ),
            "icp": IcpSource(path=icp),
        },
    )


def checks(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_scored_leads_materializes_into_the_warehouse(tmp_path: Path):
    result = run(tmp_path, leads([GOOD, POOR, {}]))
    assert result.success
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        table = con.sql("select * from leads.scored_leads order by entity_id").pl()
    assert table["lead_score"].to_list() == [100, 0, 20]
    assert table["lead_grade"].to_list() == ["A", "D", "D"]
    assert table["score_reasons"].to_list()[0][0] == "+25 VP-level title"
    assert table["score_reasons"].to_list()[2] == ["-10 no email address"]

    metadata = result.asset_materializations_for_node("scored_leads")[0].metadata
    assert metadata["grade_counts"].value == {"A": 1, "B": 0, "C": 0, "D": 2}
    assert metadata["score_bins"].value["90-100"] == 1
    assert metadata["icp"].value == "default"
    assert metadata["as_of"].value.startswith("2026-11-01")


def test_drift_check_passes_on_the_first_run_and_warns_on_a_shifted_distribution(
    tmp_path: Path,
):
    instance = DagsterInstance.ephemeral()
    first = run(tmp_path, leads([GOOD] * 50 + [POOR] * 50), instance)
    drift = checks(first)["score_distribution_drift"]
    assert drift.passed
    assert drift.metadata["psi"].value == 0.0

    same = run(tmp_path, leads([POOR] * 50 + [GOOD] * 50), instance)  # same shares
    assert checks(same)["score_distribution_drift"].passed

    shifted = run(tmp_path, leads([GOOD] * 10 + [POOR] * 90), instance)
    drift = checks(shifted)["score_distribution_drift"]
    assert not drift.passed
    assert drift.severity == AssetCheckSeverity.WARN
    assert drift.metadata["psi"].value > 0.2
    assert drift.metadata["previous_score_bins"].value["90-100"] == 50
    assert drift.metadata["icp_changed"].value is False
    # A warning does not fail the run, and the latest distribution is the new one.
    assert shifted.success
    latest = instance.get_latest_materialization_event(AssetKey("scored_leads"))
    assert latest.asset_materialization.metadata["score_bins"].value["90-100"] == 10


def test_drift_check_notes_a_changed_icp(tmp_path: Path):
    instance = DagsterInstance.ephemeral()
    custom = tmp_path / "flat.yaml"
    custom.write_text(
        "name: flat\nbase: 50\ngrades: {A: 50, D: 0}\nrules:\n  any:\n    column: country\n",
        encoding="utf-8",
    )
    run(tmp_path, leads([GOOD, POOR]), instance)
    again = run(tmp_path, leads([GOOD, POOR]), instance, icp=str(custom))
    drift = checks(again)["score_distribution_drift"]
    assert drift.metadata["icp_changed"].value is True
    assert not drift.passed  # every lead moved to 50


def test_no_input_check_warns_when_many_leads_have_nothing_to_score(tmp_path: Path):
    ok = run(tmp_path, leads([GOOD] * 20 + [{}]))
    assert checks(ok)["leads_without_score_inputs"].passed
    bad = run(tmp_path, leads([GOOD] * 5 + [{}] * 5))
    evaluation = checks(bad)["leads_without_score_inputs"]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["leads_without_inputs"].value == 5


def test_icp_comes_from_leads_icp_unless_the_resource_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    custom = tmp_path / "mine.yaml"
    custom.write_text(
        "name: mine\nbase: 7\ngrades: {A: 0}\nrules:\n  any:\n    column: country\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LEADS_ICP", str(custom))
    assert IcpSource().resolved_path() == custom
    assert IcpSource().load().name == "mine"
    result = run(tmp_path, leads([GOOD]))
    assert result.asset_materializations_for_node("scored_leads")[0].metadata["icp"].value == (
        "mine"
    )
    monkeypatch.setenv("LEADS_ICP", str(tmp_path / "missing.yaml"))
    with pytest.raises(IcpError, match="no such file"):
        IcpSource().load()
    monkeypatch.delenv("LEADS_ICP")
    assert IcpSource().load().name == "default"
