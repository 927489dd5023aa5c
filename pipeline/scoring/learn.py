"""Learn the ICP's points from historical outcomes (won/lost, converted or not).

The rules' structure (which cases exist) comes from a base ICP; the data decide the points.
Each rule outcome (case, otherwise, missing) is one 0/1 feature, fitted by an L2-regularised
logistic regression whose strength is chosen by cross-validation. The log-odds are then
scaled to points and written back as an ICP of the same shape, so the learned score reads
exactly like the hand-written one ("+12 VP-level title").

Honesty about quality: the cross-validated AUC of the learned ICP (as deployed: integer
points, clamped) is reported against the base rules' AUC on the same folds.

    python -m pipeline score-fit --outcomes won_lost.csv --out learned_icp.yaml
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from pipeline.scoring.engine import outcome_codes, score_from_codes
from pipeline.scoring.icp import MAX_POINTS, Icp, IcpError, Outcome, load_icp

ID_COLUMNS = ("entity_id", "email")
OUTCOME_NAMES = ("outcome", "won", "is_won", "converted", "is_converted", "label", "target", "y")
TRUE_WORDS = {"1", "true", "t", "yes", "y", "won", "closed won", "converted", "win"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "lost", "closed lost", "not converted", "loss"}
C_GRID = tuple(float(c) for c in np.logspace(-3, 2, 8))


class FitError(ValueError):
    """Outcomes that cannot be used; the message says what to fix."""


@dataclass
class FitReport:
    """What the fit found, with the per-fold AUCs behind the summary."""

    leads: int
    positives: int
    unmatched_outcomes: int
    id_column: str
    outcome_column: str
    folds: int
    auc_rules: list[float]
    auc_learned: list[float]
    auc_learned_model: list[float]
    regularization_c: float
    points_per_doubling: float
    grade_rates_rules: dict[str, float] = field(default_factory=dict)
    grade_rates_learned: dict[str, float] = field(default_factory=dict)

    @property
    def auc_rules_mean(self) -> float:
        return statistics.fmean(self.auc_rules)

    @property
    def auc_learned_mean(self) -> float:
        return statistics.fmean(self.auc_learned)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(auc_rules_mean=self.auc_rules_mean, auc_learned_mean=self.auc_learned_mean)
        return out

    def render(self) -> str:
        def spread(values: list[float]) -> str:
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.fmean(values):.3f} +/- {sd:.3f}"

        lines = [
            f"{self.leads:,} leads with an outcome ({self.positives:,} positive), matched on "
            f"{self.id_column}; {self.unmatched_outcomes:,} outcome rows matched no lead",
            f"cross-validated AUC over {self.folds} folds (same folds for both):",
            f"  rules ICP (base):          {spread(self.auc_rules)}",
            f"  learned ICP (points):      {spread(self.auc_learned)}",
            f"  learned model (log-odds):  {spread(self.auc_learned_model)}",
            f"regularisation C = {self.regularization_c:g}; "
            f"{self.points_per_doubling:.1f} points double the odds",
        ]
        if self.grade_rates_learned:
            lines.append("positive rate per grade (all leads; learned is in-sample):")
            for grade in self.grade_rates_learned:
                lines.append(
                    f"  {grade}: rules {self.grade_rates_rules.get(grade, float('nan')):.1%}"
                    f"  learned {self.grade_rates_learned[grade]:.1%}"
                )
        return "\n".join(lines)


# --- outcomes --------------------------------------------------------------------------------


def read_table(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FitError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pl.read_parquet(path)
    return pl.read_csv(path, infer_schema_length=10_000)


def _outcome_values(series: pl.Series, name: str) -> pl.Series:
    """0/1 from booleans, 0/1 numbers or words (won/lost, true/false, yes/no, ...)."""
    if series.dtype == pl.Boolean:
        return series.cast(pl.Int8)
    if series.dtype.is_numeric():
        bad = series.drop_nulls().filter(~series.drop_nulls().is_in([0, 1]))
        if bad.len():
            raise FitError(
                f"outcome column {name!r}: needs 0/1, found {bad.unique()[:5].to_list()}"
            )
        return series.cast(pl.Int8)
    words = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    unknown = words.drop_nulls().filter(~words.drop_nulls().is_in([*TRUE_WORDS, *FALSE_WORDS]))
    if unknown.len():
        raise FitError(
            f"outcome column {name!r}: cannot read {unknown.unique()[:5].to_list()} as an outcome "
            "(use true/false, 1/0, won/lost, yes/no or converted/not converted)"
        )
    return pl.select(
        pl.when(words.is_not_null()).then(words.is_in(list(TRUE_WORDS)).cast(pl.Int8))
    ).to_series()


def join_outcomes(
    leads: pl.DataFrame,
    outcomes: pl.DataFrame,
    id_column: str | None = None,
    outcome_column: str | None = None,
    carry: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, str, str, int]:
    """Leads that have an outcome, with it in `__y` (and the outcomes' `carry` columns); the
    id and outcome columns used, and the number of outcome rows that matched no lead."""
    if id_column is None:
        found = [c for c in ID_COLUMNS if c in outcomes.columns and c in leads.columns]
        if not found:
            raise FitError(
                f"outcomes need an id column shared with the leads: one of {list(ID_COLUMNS)} "
                f"(outcome columns: {outcomes.columns})"
            )
        id_column = found[0]
    for frame, what in ((outcomes, "outcomes"), (leads, "leads")):
        if id_column not in frame.columns:
            raise FitError(f"id column {id_column!r} is not in the {what}")
    if outcome_column is None:
        others = [c for c in outcomes.columns if c != id_column]
        named = [c for c in others if c.lower() in OUTCOME_NAMES]
        if len(named) == 1 or len(others) == 1:
            outcome_column = named[0] if len(named) == 1 else others[0]
        else:
            raise FitError(
                f"which column is the outcome? pass --outcome-column (candidates: {others})"
            )
    if outcome_column not in outcomes.columns:
        raise FitError(f"outcome column {outcome_column!r} is not in the outcomes")

    key = pl.col(id_column).cast(pl.String)
    if id_column == "email":
        key = key.str.strip_chars().str.to_lowercase()
    y = _outcome_values(outcomes[outcome_column], outcome_column)
    labelled = (
        outcomes.select(key.alias("__id"), *carry)
        .with_columns(y.alias("__y"))
        .drop_nulls(["__id", "__y"])
        .unique("__id", keep="last", maintain_order=True)
    )
    joined = leads.with_columns(key.alias("__id")).join(labelled, on="__id", how="inner")
    unmatched = labelled.height - labelled.join(joined.select("__id"), on="__id", how="semi").height
    return joined.drop("__id"), id_column, outcome_column, unmatched


# --- design matrix and the ICP it maps back to -------------------------------------------------


def _design(codes: pl.DataFrame, icp: Icp) -> sparse.csr_matrix:
    """One-hot of every rule outcome: one column per (rule, code), one 1 per rule and row."""
    n = codes.height
    blocks = []
    offset = 0
    for name, rule in icp.rules.items():
        width = len(rule.cases) + 2
        blocks.append(codes[name].cast(pl.Int64).to_numpy() + offset)
        offset += width
    cols = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
    rows = np.tile(np.arange(n), len(blocks))
    data = np.ones(len(cols), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, offset))


def _fit(x: sparse.csr_matrix, y: np.ndarray, seed: int):
    """L2 logistic regression; C picked by inner stratified CV on log-loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    search = GridSearchCV(
        LogisticRegression(max_iter=2000),
        {"C": list(C_GRID)},
        scoring="neg_log_loss",
        cv=inner,
    )
    search.fit(x, y)
    return search.best_estimator_


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else 0.0


def _to_icp(
    model,
    base: Icp,
    codes: pl.DataFrame,
    base_scores: np.ndarray,
    base_grades: pl.Series,
    keep_grades: bool,
) -> tuple[Icp, float]:
    """The fitted model as an ICP of the base's shape, and its points per log-odds unit.

    - Per rule, points are centred on the average lead (that log-odds moves into the base):
      a reason says how a lead differs from the average one, "+" better, "-" worse.
    - Log-odds scale to points so the learned scores spread like the base ICP's did on these
      leads (5th and 95th percentiles), keeping the 0-100 numbers familiar.
    - Grade minimums are set so each grade holds the share of leads it held under the base
      ICP (the sales team's A-list keeps its size), unless `keep_grades`.
    """
    coef = model.coef_.ravel()
    intercept = float(model.intercept_[0])
    per_rule: dict[str, np.ndarray] = {}
    offset = 0
    for name, rule in base.rules.items():
        width = len(rule.cases) + 2
        betas = coef[offset : offset + width].copy()
        counts = np.bincount(codes[name].cast(pl.Int64).to_numpy(), minlength=width)
        average = float(counts @ betas / max(counts.sum(), 1))
        intercept += average
        per_rule[name] = betas - average
        offset += width

    logits = np.full(codes.height, intercept)
    for name, betas in per_rule.items():
        logits += betas[codes[name].cast(pl.Int64).to_numpy()]
    lo_target, hi_target = _quantile(base_scores, 0.05), _quantile(base_scores, 0.95)
    if hi_target - lo_target < 10:
        lo_target, hi_target = 10.0, 90.0
    lo, hi = _quantile(logits, 0.05), _quantile(logits, 0.95)
    factor = (hi_target - lo_target) / (hi - lo) if hi - lo > 1e-9 else 10.0
    shift = lo_target - factor * lo

    def points(value: float) -> int:
        return int(np.clip(round(value), -MAX_POINTS, MAX_POINTS))

    rules = {}
    for name, rule in base.rules.items():
        betas = per_rule[name] * factor
        k = len(rule.cases)
        cases = [
            c.model_copy(update={"points": points(b)})
            for c, b in zip(rule.cases, betas[:k], strict=True)
        ]
        rules[name] = rule.model_copy(
            update={
                "cases": cases,
                "otherwise": Outcome(
                    points=points(betas[k]), label=rule.otherwise.label or f"other {name}"
                ),
                "missing": Outcome(
                    points=points(betas[k + 1]), label=rule.missing.label or f"no {name}"
                ),
            }
        )
    base_points = int(np.clip(round(shift + factor * intercept), -MAX_POINTS, 2 * MAX_POINTS))
    learned = base.model_copy(
        update={"name": f"{base.name}-learned", "base": base_points, "rules": rules}
    )
    if not keep_grades:
        learned = learned.model_copy(
            update={"grades": _share_preserving_grades(learned, codes, base, base_grades)}
        )
    return Icp.model_validate(learned.model_dump()), factor


def _share_preserving_grades(
    learned: Icp, codes: pl.DataFrame, base: Icp, base_grades: pl.Series
) -> dict[str, int]:
    """Minimums that give each grade the share of leads the base ICP gave it; the base's own
    minimums when the learned scores are too tied to separate the grades."""
    scores = score_from_codes(codes, learned)["lead_score"].to_numpy()
    n = max(len(scores), 1)
    grades: dict[str, int] = {}
    at_least = 0
    previous = MAX_POINTS + 1
    for grade, minimum in base.grades.items():  # best first; the 0 grade is last
        if minimum == 0:
            grades[grade] = 0
            continue
        at_least += int((base_grades == grade).sum())
        wanted = np.ceil(np.quantile(scores, 1 - at_least / n)) if at_least else MAX_POINTS
        grades[grade] = min(max(int(wanted), 1), previous - 1)
        previous = grades[grade]
    if previous < 1:
        return dict(base.grades)
    return grades


def _positive_rates(grades: pl.Series, y: np.ndarray, icp: Icp) -> dict[str, float]:
    frame = pl.DataFrame({"g": grades, "y": y})
    rates = dict(frame.group_by("g").agg(pl.col("y").mean()).iter_rows())
    return {g: float(rates.get(g, float("nan"))) for g in icp.grades}


# --- the fit -----------------------------------------------------------------------------------


def fit_icp(
    leads: pl.DataFrame,
    outcomes: pl.DataFrame,
    base_icp: Icp,
    *,
    id_column: str | None = None,
    outcome_column: str | None = None,
    folds: int = 5,
    seed: int = 0,
    as_of: datetime | date | str | None = None,
    keep_grades: bool = False,
) -> tuple[Icp, FitReport]:
    """Refit `base_icp`'s points from outcomes; returns the learned ICP and the report.

    `as_of` is "now" for the recency rules; with historical outcomes pass the name of a column
    (in the leads or the outcomes) holding when each lead was worked, or a fixed date.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    carry = (as_of,) if isinstance(as_of, str) and as_of not in leads.columns else ()
    joined, id_col, y_col, unmatched = join_outcomes(
        leads, outcomes, id_column, outcome_column, carry
    )
    y = joined["__y"].to_numpy().astype(int)
    positives = int(y.sum())
    if min(positives, len(y) - positives) < max(folds, 2) * 2:
        raise FitError(
            f"need at least {max(folds, 2) * 2} positive and negative outcomes for {folds}-fold "
            f"cross-validation; have {positives} positive, {len(y) - positives} negative "
            f"among {len(y)} matched leads"
        )

    codes, _absent = outcome_codes(joined, base_icp, as_of)
    x = _design(codes, base_icp)
    base_scored = score_from_codes(codes, base_icp)
    base_scores = base_scored["lead_score"].to_numpy()

    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    auc_rules, auc_learned, auc_model = [], [], []
    for train, test in outer.split(np.zeros(len(y)), y):
        model = _fit(x[train], y[train], seed)
        train_codes = codes[train]
        fold_icp, _ = _to_icp(
            model,
            base_icp,
            train_codes,
            base_scores[train],
            base_scored["lead_grade"][train],
            keep_grades,
        )
        learned_scores = score_from_codes(codes[test], fold_icp)["lead_score"].to_numpy()
        auc_rules.append(float(roc_auc_score(y[test], base_scores[test])))
        auc_learned.append(float(roc_auc_score(y[test], learned_scores)))
        auc_model.append(float(roc_auc_score(y[test], model.decision_function(x[test]))))

    model = _fit(x, y, seed)
    learned, factor = _to_icp(
        model, base_icp, codes, base_scores, base_scored["lead_grade"], keep_grades
    )
    learned_scored = score_from_codes(codes, learned)
    report = FitReport(
        leads=len(y),
        positives=positives,
        unmatched_outcomes=unmatched,
        id_column=id_col,
        outcome_column=y_col,
        folds=folds,
        auc_rules=auc_rules,
        auc_learned=auc_learned,
        auc_learned_model=auc_model,
        regularization_c=float(model.C),
        points_per_doubling=float(factor * np.log(2)),
        grade_rates_rules=_positive_rates(base_scored["lead_grade"], y, base_icp),
        grade_rates_learned=_positive_rates(learned_scored["lead_grade"], y, learned),
    )
    description = (
        f"Learned from {len(y):,} outcomes on {datetime.now(UTC):%Y-%m-%d}; points refitted "
        f"on the rules of {base_icp.name!r}. Cross-validated AUC {report.auc_learned_mean:.3f} "
        f"(rules {report.auc_rules_mean:.3f})."
    )
    return learned.model_copy(update={"description": description}), report


# --- command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outcomes", type=Path, required=True, help="CSV/parquet: an id column and an outcome"
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the learned ICP")
    parser.add_argument(
        "--leads",
        type=Path,
        help="CSV/parquet of enriched leads (default: the warehouse's enriched_leads table)",
    )
    parser.add_argument("--icp", help="the base ICP YAML (default: LEADS_ICP or the packaged one)")
    parser.add_argument("--id-column", help="entity_id or email (default: whichever is there)")
    parser.add_argument("--outcome-column", help="default: outcome/won/converted/... or the other")
    parser.add_argument(
        "--as-of",
        help="recency reference: a date (YYYY-MM-DD) or a column with each lead's own date "
        "(default: today)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep-grades",
        action="store_true",
        help="keep the base ICP's grade minimums (default: keep its grade shares)",
    )


def _warehouse_leads() -> pl.DataFrame:
    import duckdb

    from pipeline.config import load_settings

    path = load_settings().warehouse_path
    if not path.exists():
        raise FitError(f"no warehouse at {path}; pass --leads FILE")
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            return con.sql("select * from leads.enriched_leads").pl()
        except duckdb.CatalogException as exc:
            raise FitError(
                f"{path} has no leads.enriched_leads table; materialize it or pass --leads FILE"
            ) from exc


def _parse_as_of(value: str | None) -> date | str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return value  # a column name


def run(args: argparse.Namespace) -> int:
    import os

    try:
        base = load_icp(args.icp or os.environ.get("LEADS_ICP") or None)
        outcomes = read_table(args.outcomes)
        leads = read_table(args.leads) if args.leads else _warehouse_leads()
        learned, report = fit_icp(
            leads,
            outcomes,
            base,
            id_column=args.id_column,
            outcome_column=args.outcome_column,
            folds=args.folds,
            seed=args.seed,
            as_of=_parse_as_of(args.as_of),
            keep_grades=args.keep_grades,
        )
    except (FitError, IcpError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = report.render()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        learned.to_yaml(header=f"Written by `python -m pipeline score-fit`.\n\n{summary}"),
        encoding="utf-8",
    )
    print(summary)
    print(f"wrote {args.out}; use it with LEADS_ICP={args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline score-fit", description="Learn the ICP's points from outcomes."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
