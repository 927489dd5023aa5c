"""Splink (DuckDB backend) configured for the benchmark: three leads configurations (the
project's first, the outside test's tuned one, the strongest found) and a person setup for
FEBRL. Train -> predict once at the lowest threshold -> cluster at each.

Everything Splink-specific lives here so the harness imports Splink only for that engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from common import say

# Columns Splink sees for each dataset kind (ids first). Names are lower-cased for
# comparisons, as our engine's fingerprints do.
LEADS_COLUMNS = [
    "lead_id",
    "email_canonical",
    "first_name",
    "last_name",
    "phone_e164",
    "company_key",
    "domain",
    "city",
    "postcode",
]
# The outside test's tuned configuration (issue 15) also compares the street address.
TUNED_COLUMNS = [*LEADS_COLUMNS, "address", "mobile_e164"]
PERSON_COLUMNS = [
    "rec_id",
    "given_name",
    "surname",
    "date_of_birth",
    "soc_sec_id",
    "street_number",
    "address_1",
    "suburb",
    "postcode",
    "state",
]


@dataclass
class SplinkRun:
    """Entities per threshold plus the scored pairs and stage timings."""

    entities: dict[float, pl.DataFrame]  # threshold -> (id, entity_id)
    pairs: pl.DataFrame  # id_l, id_r, match_probability (>= lowest threshold)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    cluster_seconds: dict[float, float] = field(default_factory=dict)


def _prepare(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    if kind in ("leads-tuned", "leads-strong"):
        lower = ["first_name", "last_name", "city", "address"]
        prepared = frame.select(TUNED_COLUMNS).with_columns(
            pl.col(lower).str.to_lowercase(),
            pl.col("email_canonical").str.extract(r"^([^@]+)@").alias("email_user"),
        )
        if kind == "leads-tuned":
            return prepared
        return prepared.with_columns(
            pl.concat_str("first_name", "last_name", separator=" ").alias("full_name")
        )
    if kind == "leads":
        lower = ["first_name", "last_name", "city"]
        return frame.select(LEADS_COLUMNS).with_columns(
            pl.col(lower).str.to_lowercase(),
            pl.col("postcode").str.to_uppercase(),
            pl.col("email_canonical").str.extract(r"^([^@]+)@").alias("email_user"),
        )
    return frame.select(PERSON_COLUMNS)


def _email_comparison(strict: bool = False):
    """Splink's EmailComparison levels, with TF on the username level too: `john.smith@` at
    two companies is common (namesakes), `zq.okafor@` is not. `strict`: the email as an
    identifier (the same address, one keying slip in it, or the same username), no
    Jaro-Winkler on the whole address: a shared domain alone puts colleagues' addresses
    above 0.88 (`k.jones@martindynamics.com` / `j.lloyd@martindynamics.com`)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    username = cll.ExactMatchLevel("email_user").configure(tf_adjustment_column="email_user")
    if strict:
        similar = [cll.LevenshteinLevel("email_canonical", 1), username]
    else:
        similar = [
            username,
            cll.JaroWinklerLevel("email_canonical", 0.88),
            cll.JaroWinklerLevel("email_user", 0.88),
        ]
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email_canonical"),
            cll.ExactMatchLevel("email_canonical").configure(
                tf_adjustment_column="email_canonical"
            ),
            *similar,
            cll.ElseLevel(),
        ],
    )


def _employer_comparison():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="employer",
        comparison_levels=[
            cll.And(cll.NullLevel("company_key"), cll.NullLevel("domain")).configure(
                is_null_level=True
            ),
            cll.And(cll.ExactMatchLevel("company_key"), cll.ExactMatchLevel("domain")),
            cll.ExactMatchLevel("domain").configure(tf_adjustment_column="domain"),
            cll.ExactMatchLevel("company_key"),
            cll.JaroWinklerLevel("company_key", 0.88),
            cll.ElseLevel(),
        ],
    )


def _location_comparison():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("city"), cll.NullLevel("postcode")).configure(is_null_level=True),
            cll.ExactMatchLevel("postcode"),
            cll.ExactMatchLevel("city"),
            cll.ElseLevel(),
        ],
    )


def _settings(id_col: str, rules: list, comparisons: list):
    """A dedupe-only Splink settings object with the given blocking rules and comparisons."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=id_col,
        blocking_rules_to_generate_predictions=rules,
        comparisons=comparisons,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _leads_prior() -> dict:
    """The prior of both leads configurations: deterministic rules, recall 0.7."""
    from splink import block_on

    return {
        "prior_rules": [
            block_on("email_canonical"),
            block_on("first_name", "last_name", "company_key"),
        ],
        "prior_recall": 0.7,
    }


def _leads_model(id_col: str) -> dict:
    import splink.comparison_library as cl
    from splink import block_on

    settings = _settings(
        id_col,
        [
            block_on("email_canonical"),
            block_on("phone_e164"),
            block_on("first_name", "last_name"),
            block_on("last_name", "company_key"),
            block_on("last_name", "domain"),
            block_on("substr(first_name, 1, 2)", "substr(last_name, 1, 3)", "postcode"),
        ],
        [
            _email_comparison(),
            cl.NameComparison("first_name"),  # exact level has TF adjustments
            cl.NameComparison("last_name"),
            cl.ExactMatch("phone_e164").configure(term_frequency_adjustments=True),
            # company_key, domain, city and postcode are strongly correlated (all describe
            # the employer); scored separately, Fellegi-Sunter counts that evidence 4 times
            # and colleagues sharing a switchboard score > 0.99. One comparison each for
            # "employer" and "location" keeps the independence assumption closer to true.
            _employer_comparison(),
            _location_comparison(),
        ],
    )
    return {
        "settings": settings,
        **_leads_prior(),
        # Not phone: its blocks are dominated by colleagues sharing a switchboard, and EM
        # then learns "same company" as the match class (m(else) ~ 0.45 on names and email).
        "em_rules": [block_on("email_canonical"), block_on("first_name", "last_name")],
    }


def _person_model(id_col: str) -> dict:
    import splink.comparison_library as cl
    from splink import block_on

    settings = _settings(
        id_col,
        [
            block_on("soc_sec_id"),
            block_on("given_name", "surname"),
            block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"),
            block_on("postcode", "street_number"),
            block_on("substr(surname, 1, 2)", "postcode"),
        ],
        [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.LevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("suburb", [0.88]),
            cl.LevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("state"),
        ],
    )
    return {
        "settings": settings,
        "prior_rules": [block_on("soc_sec_id", "date_of_birth")],
        "prior_recall": 0.6,
        "em_rules": [block_on("date_of_birth"), block_on("surname"), block_on("postcode")],
    }


def _organisation_comparison():
    """Company, domain and street address folded into one comparison (they describe one
    employer: scored apart, colleagues collect the same evidence three times), with term
    frequencies on the domain."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="organisation",
        comparison_levels=[
            cll.And(
                cll.NullLevel("company_key"), cll.NullLevel("domain"), cll.NullLevel("address")
            ).configure(is_null_level=True),
            cll.And(cll.ExactMatchLevel("company_key"), cll.ExactMatchLevel("domain")),
            cll.ExactMatchLevel("domain").configure(tf_adjustment_column="domain"),
            cll.ExactMatchLevel("company_key"),
            cll.ExactMatchLevel("address"),
            cll.JaroWinklerLevel("company_key", 0.88),
            cll.ElseLevel(),
        ],
    )


def _tuned_blocking() -> list:
    """The outside test's blocking rules (issue 15), which the strong configuration keeps."""
    from splink import block_on

    return [
        block_on("email_canonical"),
        block_on("phone_e164"),
        block_on("mobile_e164"),
        block_on("first_name", "last_name"),
        block_on("last_name", "company_key"),
        block_on("last_name", "domain"),
        block_on("substr(first_name, 1, 1)", "last_name", "city"),
    ]


def _leads_tuned_model(id_col: str) -> dict:
    """The tuned configuration the outside test ran (issue 15): the organisation comparison
    above; Jaro-Winkler levels on first and last name; email and phone comparisons; m by EM
    on email blocks, then phone blocks; u from 1e7 random pairs; clusters at 0.99."""
    import splink.comparison_library as cl
    from splink import block_on

    settings = _settings(
        id_col,
        _tuned_blocking(),
        [
            _email_comparison(),
            cl.JaroWinklerAtThresholds("first_name", [0.92, 0.88, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("last_name", [0.92, 0.88, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("phone_e164").configure(term_frequency_adjustments=True),
            cl.ExactMatch("mobile_e164"),
            _organisation_comparison(),
        ],
    )
    return {
        "settings": settings,
        **_leads_prior(),
        "em_rules": [block_on("email_canonical"), block_on("phone_e164")],
    }


def _office_comparison():
    """Company, domain, street and switchboard as one comparison: colleagues share all four,
    so scored apart (as `leads-tuned` keeps the phone) they add up past 0.99. A shared
    number with no organisation in common is its own level (a direct line or a mobile
    written in the phone column), with term frequencies."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    same_org = cll.Or(cll.ExactMatchLevel("company_key"), cll.ExactMatchLevel("domain"))
    return cl.CustomComparison(
        output_column_name="office",
        comparison_levels=[
            cll.And(
                cll.NullLevel("company_key"),
                cll.NullLevel("domain"),
                cll.NullLevel("address"),
                cll.NullLevel("phone_e164"),
            ).configure(is_null_level=True),
            cll.And(same_org, cll.ExactMatchLevel("phone_e164")),
            cll.And(cll.ExactMatchLevel("company_key"), cll.ExactMatchLevel("domain")),
            cll.ExactMatchLevel("domain").configure(tf_adjustment_column="domain"),
            cll.ExactMatchLevel("company_key"),
            cll.ExactMatchLevel("phone_e164").configure(tf_adjustment_column="phone_e164"),
            cll.ExactMatchLevel("address"),
            cll.JaroWinklerLevel("company_key", 0.88),
            cll.ElseLevel(),
        ],
    )


def _name_comparison():
    """First and last name as one comparison, as Splink recommends for people
    (`ForenameSurnameComparison`: term frequencies on the full name, so a common full name
    such as Priya Patel counts for less than its parts' frequencies multiplied), with a level
    for a first name reduced to an initial ('J.' for John: Jaro-Winkler puts them apart)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    initial = (
        "substr(first_name_l, 1, 1) = substr(first_name_r, 1, 1) AND "
        "(length(replace(first_name_l, '.', '')) = 1 OR length(replace(first_name_r, '.', '')) = 1)"
    )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.And(cll.NullLevel("first_name"), cll.NullLevel("last_name")),
            cll.ExactMatchLevel("full_name").configure(tf_adjustment_column="full_name"),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True),
            cll.And(
                cll.JaroWinklerLevel("first_name", 0.92), cll.JaroWinklerLevel("last_name", 0.92)
            ),
            cll.And(
                cll.ExactMatchLevel("last_name"),
                cll.CustomLevel(initial, label_for_charts="an initial of the other"),
            ),
            cll.And(
                cll.JaroWinklerLevel("first_name", 0.8), cll.JaroWinklerLevel("last_name", 0.8)
            ),
            cll.ExactMatchLevel("last_name").configure(tf_adjustment_column="last_name"),
            cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
            cll.ElseLevel(),
        ],
    )


def _leads_strong_model(id_col: str) -> dict:
    """The strongest Splink configuration found for these lead sets (issue 15: "the
    strongest configuration of the peer tool"): the tuned one's blocking, names and mobile;
    the email as an identifier; company, domain, street and switchboard as one office
    comparison; EM on email blocks, then on full-name blocks (not phone blocks, whose pairs
    are mostly colleagues); reported at the best threshold of the sweep."""
    import splink.comparison_library as cl
    from splink import block_on

    settings = _settings(
        id_col,
        _tuned_blocking(),
        [
            _email_comparison(strict=True),
            _name_comparison(),
            cl.ExactMatch("mobile_e164").configure(term_frequency_adjustments=True),
            _office_comparison(),
        ],
    )
    return {
        "settings": settings,
        **_leads_prior(),
        "em_rules": [block_on("email_canonical"), block_on("first_name", "last_name")],
    }


MODELS: dict[str, Callable[[str], dict]] = {
    "leads": _leads_model,
    "leads-tuned": _leads_tuned_model,
    "leads-strong": _leads_strong_model,
    "person": _person_model,
}
# The threshold each configuration is reported at (None: the best of the sweep).
REPORTED_THRESHOLD: dict[str, float | None] = {"leads-tuned": 0.99}


def run_splink(
    frame: pl.DataFrame,
    kind: str,
    id_col: str,
    thresholds: Sequence[float],
    u_max_pairs: float = 1e7,
    em_max_pairs: float = 2e6,
    seed: int = 7,
) -> SplinkRun:
    """Train, predict at min(thresholds), then cluster (connected components) at each.

    EM runs on at most `em_max_pairs` blocked pairs per rule (Splink's own sampling): on 1M
    leads the first+last name block alone is ~15M pairs and EM on it took 60 s of 97.
    """
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.WARNING)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    say(f"splink: preparing {frame.height:,} records ({kind} settings)")
    data = _prepare(frame, kind).to_arrow(compat_level=pl.CompatLevel.oldest())
    db_api = DuckDBAPI()
    table = db_api.register(data, table_name="records")
    model = MODELS[kind](id_col)
    linker = Linker(table, model["settings"], log_level=logging.WARNING)
    lap("register")
    say("splink: estimating the prior from deterministic rules")
    linker.training.estimate_probability_two_random_records_match(
        model["prior_rules"], recall=model["prior_recall"]
    )
    lap("estimate_prior")
    say(f"splink: estimating u from {u_max_pairs:,.0f} random pairs")
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    lap("estimate_u")
    for rule in model["em_rules"]:
        say(f"splink: EM on blocking rule {rule.get_blocking_rule('duckdb').blocking_rule_sql}")
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, max_pairs=em_max_pairs
        )
    lap("em")
    lowest = min(thresholds)
    say(f"splink: predicting (match_probability >= {lowest})")
    predictions = linker.inference.predict(threshold_match_probability=lowest)
    lap("predict")
    pairs = pl.from_arrow(
        predictions.as_duckdbpyrelation()
        .select(f"{id_col}_l AS id_l, {id_col}_r AS id_r, match_probability")
        .arrow()
    )
    lap("export_pairs")
    entities: dict[float, pl.DataFrame] = {}
    cluster_seconds: dict[float, float] = {}
    for t in sorted(thresholds):
        start = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=t
        )
        rel = clusters.as_duckdbpyrelation().select(f"{id_col}, cluster_id AS entity_id")
        entities[t] = pl.from_arrow(rel.arrow())
        cluster_seconds[t] = round(time.perf_counter() - start, 3)
        say(f"splink: clustered at {t}: {entities[t]['entity_id'].n_unique():,} entities")
        clusters.drop_table_from_database_and_remove_from_cache()
    return SplinkRun(entities, pairs, timings, cluster_seconds)
