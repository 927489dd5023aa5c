"""The dedupe core: declarative matching spec, blocking, vectorized comparison,
Fellegi-Sunter scoring with EM-estimated weights, anti-chaining clustering, stable entity
ids and golden records. No Dagster here: it runs from a script, a notebook or the CLI.

    from pipeline.dedupe import dedupe
    result = dedupe(normalized_leads, spec="leads", id_column="lead_id")
    result.entities   # id_column, entity_id
    result.pairs      # scored candidate pairs with per-field levels and match_probability
    result.golden     # one golden record per entity

    # A table on disk, for the least memory: only the columns needed are read, when needed,
    # and the fingerprint table (`result.work`, for explaining pairs) is not kept.
    result = dedupe(pl.scan_parquet("normalized.parquet"), keep_work=False)
"""

from pipeline.dedupe.engine import DedupeResult, dedupe
from pipeline.dedupe.find_matches_to_new_records import match_incremental
from pipeline.dedupe.spec import MatchSpec, SpecError, load_spec

__all__ = ["DedupeResult", "MatchSpec", "SpecError", "dedupe", "load_spec", "match_incremental"]
