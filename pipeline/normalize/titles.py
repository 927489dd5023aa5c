# ruff: noqa: E501  (keyword tables read best one rule per line)
"""Job titles -> seniority and department, by ordered keyword rules (first match wins)."""

from __future__ import annotations

import polars as pl

from pipeline.normalize import empty_to_null, squash_spaces

SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    ("c_level", r"\b(ceo|cfo|cto|coo|cmo|cio|ciso|cro|cpo|chief|founder|co-founder|cofounder|owner|president|managing director|geschaftsfuhrer|geschäftsführer|pdg|directeur general)\b"),
    ("vp", r"\b(vp|svp|evp|vice president|vice-president)\b"),
    ("director", r"\b(director|head of|head|directeur|directrice|leiter|leiterin)\b"),
    ("manager", r"\b(manager|lead|supervisor|team lead|responsable|teamleiter)\b"),
    ("senior", r"\b(senior|sr\.?|principal|staff)\b"),
    ("entry", r"\b(junior|jr\.?|intern|trainee|assistant|associate|graduate|apprentice|stagiaire|werkstudent)\b"),
)  # fmt: skip

DEPARTMENT_RULES: tuple[tuple[str, str], ...] = (
    ("sales", r"\b(sales|account executive|account manager|business development|bdr|sdr|revenue|vertrieb|commercial|ventes)\b|\bae\b"),
    ("marketing", r"\b(marketing|cmo|brand|growth|demand gen|content|seo|communications|pr)\b"),
    ("engineering", r"\b(engineer|engineering|developer|software|cto|devops|architect|programmer|entwickler|ingenieur)\b"),
    ("it", r"\b(it|cio|ciso|information technology|systems|sysadmin|infrastructure|security)\b"),
    ("finance", r"\b(finance|financial|cfo|accounting|accountant|controller|treasury|comptable)\b"),
    ("hr", r"\b(hr|human resources|people|talent|recruiter|recruiting|personal)\b"),
    ("operations", r"\b(operations|coo|ops|logistics|supply chain|procurement|purchasing)\b"),
    ("product", r"\b(product|cpo|ux|design)\b"),
    ("customer_success", r"\b(customer success|support|customer service|client services)\b"),
    ("legal", r"\b(legal|counsel|lawyer|attorney|compliance)\b"),
    ("executive", r"\b(ceo|founder|co-founder|owner|president|managing director|general manager)\b"),
)  # fmt: skip


def _classify(title: pl.Expr, rules: tuple[tuple[str, str], ...]) -> pl.Expr:
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for label, pattern in reversed(rules):
        expr = pl.when(title.str.contains(pattern)).then(pl.lit(label)).otherwise(expr)
    return expr


def title_columns(raw: pl.Expr) -> list[pl.Expr]:
    """job_title (cleaned), seniority, department."""
    title = squash_spaces(raw).str.strip_chars(" ,;")
    title = empty_to_null(title)
    lowered = title.str.to_lowercase()
    seniority = pl.when(title.is_not_null()).then(
        _classify(lowered, SENIORITY_RULES).fill_null("individual_contributor")
    )
    return [
        title.alias("job_title"),
        seniority.alias("seniority"),
        _classify(lowered, DEPARTMENT_RULES).alias("department"),
    ]
