"""Explainable 0-100 lead scoring from an ICP in YAML (no Dagster here).

`load_icp` reads and validates the rules, `score_leads` adds lead_score, lead_grade and
score_reasons to a frame of enriched leads, `drift` compares score distributions between
runs, and `learn.fit_icp` refits the ICP's points from historical outcomes.
"""

from pipeline.scoring.engine import SCORE_COLUMNS, Scored, outcome_codes, score_leads
from pipeline.scoring.icp import DEFAULT_ICP_PATH, Icp, IcpError, load_icp, parse_icp

__all__ = [
    "DEFAULT_ICP_PATH",
    "SCORE_COLUMNS",
    "Icp",
    "IcpError",
    "Scored",
    "load_icp",
    "outcome_codes",
    "parse_icp",
    "score_leads",
]
