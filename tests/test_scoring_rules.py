"""Rule scoring on hand-made contract rows: points, reasons, nulls, clamping, grades, YAML."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipeline.scoring import IcpError, load_icp, outcome_codes, parse_icp, score_leads
from pipeline.scoring.drift import grade_counts, psi, score_bins
from pipeline.scoring.engine import _reason_stages
from pipeline.scoring.icp import read_yaml
from pipeline.scoring.synthetic import enriched_frame, synthetic_enriched_leads

AS_OF = datetime(2026, 11, 1, 12, 0)


def small_icp(**overrides) -> dict:
    """A compact ICP whose points are easy to add up by hand."""
    data = {
        "name": "test",
        "base": 40,
        "grades": {"A": 80, "B": 60, "C": 40, "D": 0},
        "max_reasons": 3,
        "rules": {
            "seniority": {
                "column": "seniority",
                "cases": [
                    {"equals": ["c_level", "vp"], "points": 25, "label": "VP-level title"},
                    {"equals": "entry", "points": -10, "label": "entry-level title"},
                ],
                "missing": {"points": -5, "label": "no job title"},
            },
            "email_type": {
                "column": "is_free_email",
                "cases": [
                    {"equals": True, "points": -20, "label": "free-mail address"},
                    {
                        "column": "is_role_email",
                        "equals": True,
                        "points": -10,
                        "label": "role address",
                    },
                ],
                "otherwise": {"points": 5, "label": "company email address"},
            },
            "country": {
                "column": "country",
                "cases": [{"equals": ["US", "CA"], "points": 10, "label": "in North America"}],
                "otherwise": {"points": -5, "label": "outside target countries"},
            },
            "recency": {
                "column": "created_at",
                "cases": [
                    {"within_days": 30, "points": 10, "label": "created in the last 30 days"},
                    {"older_than_days": 365, "points": -15, "label": "created over a year ago"},
                ],
            },
        },
    }
    data.update(overrides)
    return data


def scored(rows: list[dict], icp=None, **kwargs) -> pl.DataFrame:
    icp = icp or parse_icp(small_icp())
    return score_leads(enriched_frame(rows), icp, as_of=kwargs.get("as_of", AS_OF)).frame


def test_rules_add_up_to_the_expected_points_and_reasons():
    out = scored(
        [
            {
                "seniority": "vp",
                "is_free_email": False,
                "is_role_email": False,
                "country": "US",
                "created_at": AS_OF - timedelta(days=3),
            },
            {
                "seniority": "entry",
                "is_free_email": True,
                "country": "BR",
                "created_at": AS_OF - timedelta(days=100),  # neither recent nor old: 0
            },
        ]
    )
    assert out["lead_score"].to_list() == [40 + 25 + 5 + 10 + 10, 40 - 10 - 20 - 5]
    assert out["score_reasons"].to_list() == [
        ["+25 VP-level title", "+10 in North America", "+10 created in the last 30 days"],
        ["-20 free-mail address", "-10 entry-level title", "-5 outside target countries"],
    ]
    assert out["lead_grade"].to_list() == ["A", "D"]


def test_reasons_put_the_biggest_absolute_effect_first_and_stop_at_max_reasons():
    icp = parse_icp(small_icp(max_reasons=2))
    out = scored(
        [{"seniority": "vp", "is_free_email": True, "country": "US", "created_at": AS_OF}],
        icp,
    )
    # +25, -20, +10, +10: two shown, the bigger effect first whatever its sign.
    assert out["score_reasons"].to_list() == [["+25 VP-level title", "-20 free-mail address"]]
    assert out["lead_score"].item() == 40 + 25 - 20 + 10 + 10


def test_equal_effects_keep_rule_order():
    out = scored([{"country": "US", "created_at": AS_OF, "seniority": "manager"}])
    assert out["score_reasons"].to_list()[0] == [
        "+10 in North America",
        "+10 created in the last 30 days",
    ]


def test_first_matching_case_wins_across_columns():
    # Free mail is checked before the role address, so a free role address counts once.
    out = scored([{"is_free_email": True, "is_role_email": True, "seniority": "vp"}])
    assert "-20 free-mail address" in out["score_reasons"].to_list()[0]
    assert not any("role address" in r for r in out["score_reasons"].to_list()[0])
    out = scored([{"is_free_email": False, "is_role_email": True, "seniority": "vp"}])
    assert "-10 role address" in out["score_reasons"].to_list()[0]


def test_null_values_score_as_missing_not_as_otherwise():
    row = scored([{}])
    # seniority missing -5; email_type missing 0 (not the +5 otherwise); country missing 0
    # (not the -5 otherwise); recency missing 0.
    assert row["lead_score"].item() == 40 - 5
    assert row["score_reasons"].to_list()[0] == ["-5 no job title"]


def test_blank_strings_count_as_missing():
    out = scored([{"seniority": "  ", "country": ""}])
    assert out["lead_score"].item() == 40 - 5


def test_leads_with_no_inputs_are_counted():
    frame = enriched_frame([{}, {"country": "US"}, {}])
    result = score_leads(frame, parse_icp(small_icp()), as_of=AS_OF)
    assert result.no_input_count(parse_icp(small_icp())) == 2


def test_rule_columns_absent_from_the_input_score_as_missing():
    frame = pl.DataFrame({"entity_id": ["a"], "seniority": ["vp"]})
    result = score_leads(frame, parse_icp(small_icp()), as_of=AS_OF)
    assert result.absent_columns == ["country", "created_at", "is_free_email", "is_role_email"]
    assert result.frame["lead_score"].item() == 40 + 25


def test_scores_are_clamped_to_0_and_100():
    icp = parse_icp(small_icp(base=90))
    high = scored(
        [{"seniority": "vp", "is_free_email": False, "country": "US", "created_at": AS_OF}], icp
    )
    assert high["lead_score"].item() == 100  # 90 + 50
    icp = parse_icp(small_icp(base=5))
    low = scored(
        [
            {
                "seniority": "entry",
                "is_free_email": True,
                "country": "BR",
                "created_at": AS_OF - timedelta(days=999),
            }
        ],
        icp,
    )
    assert low["lead_score"].item() == 0  # 5 - 50
    assert low["lead_grade"].item() == "D"


@pytest.mark.parametrize(
    ("score", "grade"), [(0, "D"), (39, "D"), (40, "C"), (59, "C"), (60, "B"), (80, "A")]
)
def test_grade_thresholds_are_minimums(score: int, grade: str):
    icp = parse_icp(small_icp(base=score, rules={"none": {"column": "phone_e164"}}))
    assert scored([{}], icp)["lead_grade"].item() == grade


def test_grades_are_configurable():
    icp = parse_icp(
        small_icp(
            base=70, grades={"hot": 90, "warm": 50, "cold": 0}, rules={"x": {"column": "email"}}
        )
    )
    assert list(icp.grades) == ["hot", "warm", "cold"]
    assert scored([{}], icp)["lead_grade"].item() == "warm"


def test_string_matching_ignores_case_spaces_and_thousands_separators():
    icp = parse_icp(
        small_icp(
            rules={
                "size": {
                    "column": "employee_range",
                    "cases": [{"equals": "10001+", "points": 10, "label": "enterprise"}],
                },
                "source": {
                    "column": "lead_source",
                    "cases": [{"contains": ["referral"], "points": 15, "label": "referral"}],
                },
                "industry": {
                    "column": "industry",
                    "cases": [{"contains": ["it"], "points": 7, "label": "IT"}],
                },
            }
        )
    )
    out = scored(
        [
            {"employee_range": " 10,001+ ", "lead_source": "Customer REFERRALS"},
            {"industry": "Digital agency"},  # "it" only at a word start
            {"industry": "IT services"},
        ],
        icp,
    )
    assert out["lead_score"].to_list() == [40 + 10 + 15, 40, 40 + 7]


def test_list_columns_match_when_any_element_does():
    icp = parse_icp(
        small_icp(
            rules={
                "crm": {
                    "column": "technologies",
                    "cases": [{"equals": ["salesforce"], "points": 5, "label": "uses Salesforce"}],
                    "missing": {"points": -1, "label": "no technology data"},
                }
            }
        )
    )
    out = scored([{"technologies": ["Slack", "SalesForce"]}, {"technologies": ["slack"]}, {}], icp)
    assert out["lead_score"].to_list() == [45, 40, 39]
    assert scored([{"technologies": []}], icp)["lead_score"].item() == 39


def test_recency_counts_from_as_of_in_any_time_zone():
    icp = parse_icp(small_icp())
    aware = pl.DataFrame(
        {"created_at": [datetime(2026, 10, 20, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)]}
    ).with_columns(pl.col("created_at").dt.convert_time_zone("Europe/Paris"))
    out = score_leads(aware, icp, as_of=AS_OF).frame
    assert out["lead_score"].to_list() == [40 - 5 + 10, 40 - 5 - 15]
    # The same leads a year later: both are old.
    later = score_leads(aware, icp, as_of=AS_OF + timedelta(days=365)).frame
    assert later["lead_score"].to_list() == [40 - 5 - 15, 40 - 5 - 15]


def test_recency_can_count_from_each_leads_own_reference_time():
    frame = pl.DataFrame(
        {
            "created_at": [datetime(2024, 1, 1), datetime(2024, 1, 1)],
            "worked_at": [datetime(2024, 1, 15), datetime(2025, 6, 1)],
        }
    )
    out = score_leads(frame, parse_icp(small_icp()), as_of="worked_at").frame
    assert out["lead_score"].to_list() == [40 - 5 + 10, 40 - 5 - 15]


def test_condition_on_a_column_of_the_wrong_type_names_the_rule():
    icp = parse_icp(
        small_icp(
            rules={"fresh": {"column": "email_valid", "cases": [{"within_days": 3, "points": 1}]}}
        )
    )
    with pytest.raises(ValueError, match="rule 'fresh': email_valid"):
        scored([{"email_valid": True}], icp)


def test_default_icp_scores_a_textbook_lead():
    icp = load_icp()
    out = scored(
        [
            {
                "seniority": "vp",
                "department": "sales",
                "industry": "Computer Software",
                "employee_range": "201-500",
                "country": "US",
                "email_valid": True,
                "email_verification": "verified",
                "email_deliverability": "deliverable",
                "is_free_email": False,
                "is_role_email": False,
                "is_disposable_email": False,
                "lead_source": "Partner Referral",
                "created_at": AS_OF - timedelta(days=5),
                "phone_e164": "+14155550142",
                "technologies": ["HubSpot"],
            },
            {
                "seniority": "entry",
                "email_valid": True,
                "is_free_email": True,
                "is_disposable_email": True,
                "country": "BR",
                "lead_source": "Purchased List",
                "created_at": AS_OF - timedelta(days=500),
            },
        ],
        icp,
    )
    assert out["lead_score"].to_list() == [100, 0]
    assert out["lead_grade"].to_list() == ["A", "D"]
    assert out["score_reasons"].to_list() == [
        [
            "+25 VP-level title",
            "+15 sales team",
            "+15 target industry (software/internet)",
            "+15 mid-market company (51-500 staff)",
        ],
        [
            "-40 disposable email address",
            "-20 free-mail address",
            "-10 entry-level title",
            "-10 purchased list or cold outreach",
        ],
    ]


def test_output_types_and_existing_score_columns_are_replaced():
    frame = enriched_frame([{"seniority": "vp"}]).with_columns(
        pl.lit(1).alias("lead_score"), pl.lit("Z").alias("lead_grade")
    )
    out = score_leads(frame, parse_icp(small_icp()), as_of=AS_OF).frame
    assert out.schema["lead_score"] == pl.Int32
    assert out.schema["lead_grade"] == pl.String
    assert out.schema["score_reasons"] == pl.List(pl.String)
    assert out.columns.count("lead_score") == 1
    assert out["lead_grade"].item() != "Z"


def test_empty_frame_scores_to_an_empty_typed_frame():
    out = score_leads(enriched_frame([]), load_icp(), as_of=AS_OF).frame
    assert out.height == 0
    assert out.schema["score_reasons"] == pl.List(pl.String)


# --- the YAML --------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "icp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_norway_stays_a_country_code_in_yaml():
    assert read_yaml("equals: [NO, SE, yes, on]") == {"equals": ["NO", "SE", "yes", "on"]}
    assert read_yaml("equals: true") == {"equals": True}
    assert "NO" in load_icp().rules["country"].cases[1].equals


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base": "forty"}, r"base: Input should be a valid integer"),
        ({"grades": {"A": 80, "B": 50}}, r"grades: .*one grade needs minimum 0"),
        ({"grades": {"A": 80, "B": 80, "D": 0}}, r"grades: .*two grades share a minimum"),
        ({"grades": {"A": 180, "D": 0}}, r"grades: .*outside 0-100"),
        ({"max_reasons": 0}, r"max_reasons: Input should be greater than or equal to 1"),
        ({"rules": {}}, r"rules: .*at least 1 item"),
        (
            {"rules": {"s": {"column": "seniority", "cases": [{"equal": "vp", "points": 1}]}}},
            r"rules\.s\.cases\.0\.equal: Extra inputs are not permitted",
        ),
        (
            {"rules": {"s": {"column": "seniority", "cases": [{"equals": "vp", "points": "x"}]}}},
            r"rules\.s\.cases\.0\.points: Input should be a valid integer",
        ),
        (
            {"rules": {"s": {"column": "seniority", "cases": [{"equals": "vp", "points": 500}]}}},
            r"rules\.s\.cases\.0\.points: Input should be less than or equal to 100",
        ),
        (
            {
                "rules": {
                    "s": {
                        "column": "created_at",
                        "cases": [{"equals": "vp", "within_days": 3, "points": 1}],
                    }
                }
            },
            r"rules\.s\.cases\.0: .*exactly one condition",
        ),
        (
            {"rules": {"s": {"column": "seniority", "cases": [{"points": 1}]}}},
            r"rules\.s\.cases\.0: .*exactly one condition.*got none",
        ),
        ({"rules": {"s": {"cases": []}}}, r"rules\.s\.column: Field required"),
    ],
)
def test_invalid_icp_errors_name_the_key(change: dict, message: str):
    with pytest.raises(IcpError, match=message):
        parse_icp(small_icp(**change))


def test_missing_key_is_named():
    data = small_icp()
    del data["base"]
    with pytest.raises(IcpError, match=r"base: Field required"):
        parse_icp(data)


def test_icp_file_errors_name_the_file(tmp_path: Path):
    with pytest.raises(IcpError, match="no such file"):
        load_icp(tmp_path / "nope.yaml")
    with pytest.raises(IcpError, match=r"icp\.yaml: invalid YAML"):
        load_icp(write(tmp_path, "rules: [unclosed"))
    with pytest.raises(IcpError, match=r"icp\.yaml: rules\.x\.cases\.0\.points"):
        load_icp(
            write(
                tmp_path,
                "name: t\nbase: 1\ngrades: {A: 0}\nrules:\n  x:\n    column: c\n"
                "    cases:\n      - {equals: a, points: lots}\n",
            )
        )


def test_icp_round_trips_through_yaml(tmp_path: Path):
    icp = load_icp()
    again = load_icp(write(tmp_path, icp.to_yaml(header="a header\n\nwith a gap")))
    assert again == icp
    assert again.sha256() == icp.sha256()


# --- distribution and drift ------------------------------------------------------------------


def test_score_bins_and_grade_counts_include_empty_bins():
    bins = score_bins(pl.Series([0, 9, 10, 95, 100], dtype=pl.Int32))
    assert bins["0-9"] == 2 and bins["10-19"] == 1 and bins["90-100"] == 2
    assert sum(bins.values()) == 5 and len(bins) == 10
    icp = parse_icp(small_icp())
    assert grade_counts(pl.Series(["B", "B", "D"]), icp) == {"A": 0, "B": 2, "C": 0, "D": 1}


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    before = {"a": 50, "b": 50}
    assert psi(before, {"a": 5, "b": 5}) == pytest.approx(0.0)
    small = psi(before, {"a": 55, "b": 45})
    big = psi(before, {"a": 90, "b": 10})
    assert 0 < small < 0.1 < 0.25 < big
    assert psi(before, {"a": 100, "b": 0}) < float("inf")  # empty bins are floored


# --- the two top-reason methods ----------------------------------------------------------------


def test_bit_and_round_methods_pick_the_same_reasons():
    frame = synthetic_enriched_leads(20_000, seed=5)
    icp = load_icp()
    codes, _ = outcome_codes(frame, icp, as_of=AS_OF)
    results = []
    for method in ("bits", "rounds"):
        stages, reasons = _reason_stages(icp, method)
        plan = codes.lazy()
        for stage in stages:
            plan = plan.with_columns(stage)
        results.append(plan.select(reasons.alias("reasons")).collect())
    assert results[0].equals(results[1])
    assert results[0]["reasons"].list.len().max() == icp.max_reasons


def test_icps_with_more_than_64_scoring_outcomes_still_explain():
    icp = parse_icp(
        small_icp(
            base=0,
            rules={
                "code": {
                    "column": "revenue_range",
                    "cases": [
                        {"equals": f"r{i}", "points": i + 1, "label": f"range {i}"}
                        for i in range(70)
                    ],
                },
                "country": {
                    "column": "country",
                    "cases": [{"equals": "US", "points": 30, "label": "in the US"}],
                },
            },
        )
    )
    out = scored([{"revenue_range": "r69", "country": "US"}, {"revenue_range": "r3"}], icp)
    assert out["lead_score"].to_list() == [100, 4]
    assert out["score_reasons"].to_list() == [["+70 range 69", "+30 in the US"], ["+4 range 3"]]
