"""Who enrols: scored (and CRM-synced) leads matching a sequence's rules, once per address.

Vectorized: the rules are polars filters, time zones and first due times are computed once
per distinct (country, state, phone) and (zone, country), and templates are test-rendered
only for leads missing a variable they use. A lead is skipped, with the reason counted,
when its address is suppressed, already in this sequence (ever), active in another one
(`exclusive`), or when a template needs a field it lacks.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from jinja2 import UndefinedError, meta
from sqlalchemy import Engine, insert, select

from pipeline.outreach.calendar import calendar_for
from pipeline.outreach.config import Sequence
from pipeline.outreach.states import ACTIVE
from pipeline.outreach.templates import _environment, render
from pipeline.outreach.timezones import recipient_zone
from pipeline.store.tables import (
    outreach_enrolments,
    outreach_transitions,
    suppression_list,
)

CONTEXT_EXCLUDE = ("member_ids", "enrichment_provenance", "alternate_values", "original")


@dataclass
class EnrolReport:
    sequence: str
    matched: int = 0
    enrolled: int = 0
    skipped: Counter = field(default_factory=Counter)


def template_variables(sequence: Sequence) -> set[str]:
    names: set[str] = set()
    for step in sequence.steps:
        texts = (
            [step.template.subject, step.template.text, step.template.html]
            if step.channel == "email" and step.template
            else [step.task.subject, step.task.body]
        )
        for text in texts:
            if text:
                names |= meta.find_undeclared_variables(_environment(False).parse(text))
    return names


def base_context(sequence: Sequence) -> dict[str, str]:
    name, _, _ = sequence.mailbox.from_.partition("<")
    return {
        "sequence": sequence.name,
        "sender_name": name.strip().strip('"') or sequence.mailbox.address,
        "sender_email": sequence.mailbox.address,
    }


def _renders(sequence: Sequence, context: dict[str, Any]) -> str | None:
    """None if every template renders for this lead, else the missing variable's name."""
    full = {**context, "unsubscribe_url": "x", "step_number": 1}
    for step in sequence.steps:
        texts = (
            [step.template.subject, step.template.text, step.template.html]
            if step.channel == "email" and step.template
            else [step.task.subject, step.task.body]
        )
        for text in texts:
            if not text:
                continue
            try:
                render(text, full)
            except UndefinedError as exc:
                return str(exc.message or "a variable").split("'")[1] if "'" in str(exc) else "?"
    return None


def select_leads(
    sequence: Sequence, leads: pl.DataFrame, crm: pl.DataFrame | None
) -> tuple[pl.DataFrame, Counter]:
    """Leads matching the rules (one row per address), and why others were left out."""
    rules = sequence.enrol
    skipped: Counter = Counter()
    frame = leads.filter(pl.col("email").is_not_null() & (pl.col("email").str.strip_chars() != ""))
    if "email_valid" in frame.columns:
        skipped["invalid email"] += frame.filter(~pl.col("email_valid").fill_null(False)).height
        frame = frame.filter(pl.col("email_valid").fill_null(False))
    frame = frame.with_columns(pl.col("email").str.strip_chars().str.to_lowercase())
    conditions = []
    reasons: list[pl.Expr] = []
    if rules.grades is not None:
        conditions.append(pl.col("lead_grade").is_in(rules.grades))
        reasons.append(pl.format("grade {}", pl.col("lead_grade")))
    if rules.min_score is not None:
        conditions.append(pl.col("lead_score") >= rules.min_score)
    if rules.max_score is not None:
        conditions.append(pl.col("lead_score") <= rules.max_score)
    if rules.min_score is not None or rules.max_score is not None or rules.grades is not None:
        reasons.append(pl.format("score {}", pl.col("lead_score")))
    for values, column, key in (
        (rules.segments, rules.segment_column, "segments"),
        (rules.owners, rules.owner_column, "owners"),
    ):
        if values is None:
            continue
        if column not in frame.columns:
            raise ValueError(
                f"sequence {sequence.name!r}: enrol.{key} filters on column {column!r}, which "
                f"the leads do not have (set enrol.{key[:-1]}_column)"
            )
        conditions.append(pl.col(column).cast(pl.String).is_in(values))
        reasons.append(pl.format(f"{key[:-1]} {{}}", pl.col(column)))
    if conditions:
        frame = frame.filter(pl.all_horizontal(conditions).fill_null(False))
    if rules.require_crm:
        if crm is None or crm.is_empty():
            skipped["not in the CRM"] += frame.height
            frame = frame.clear()
        else:
            synced = crm.filter(pl.col("status") == "synced").select(
                "entity_id", pl.col("crm_id").alias("_crm_id")
            )
            before = frame.height
            frame = frame.join(synced, on="entity_id", how="inner")
            skipped["not in the CRM"] += before - frame.height
    reason = (
        pl.concat_str(reasons, separator=", ", ignore_nulls=True)
        if reasons
        else pl.lit("all leads")
    )
    frame = frame.with_columns(reason.alias("_reason")).unique(
        "email", keep="first", maintain_order=True
    )
    return frame, skipped


def _contexts(sequence: Sequence, frame: pl.DataFrame) -> list[dict[str, Any]]:
    columns = [
        c
        for c in frame.columns
        if not c.endswith("__source") and not c.startswith("_") and c not in CONTEXT_EXCLUDE
    ]
    base = base_context(sequence)

    def as_text(name: str) -> pl.Expr:
        dtype = frame.schema[name]
        if dtype == pl.String:
            return pl.col(name)
        if isinstance(dtype, pl.List):
            return pl.col(name).cast(pl.List(pl.String)).list.join("; ")
        if dtype.is_nested() or dtype == pl.Object:
            return pl.lit(None, pl.String).alias(name)
        return pl.col(name).cast(pl.String)

    strings = frame.select([as_text(c) for c in columns])
    return [
        {**base, **{k: v for k, v in row.items() if v is not None and v != ""}}
        for row in strings.iter_rows(named=True)
    ]


def enrol(
    engine: Engine,
    sequence: Sequence,
    leads: pl.DataFrame,
    crm: pl.DataFrame | None,
    now: datetime,
    actor: str = "sequence_state",
) -> EnrolReport:
    report = EnrolReport(sequence.name)
    frame, skipped = select_leads(sequence, leads, crm)
    report.skipped.update(skipped)
    report.matched = frame.height
    if frame.is_empty():
        return report
    t = outreach_enrolments
    with engine.connect() as conn:
        seen = {e for (e,) in conn.execute(select(t.c.email).where(t.c.sequence == sequence.name))}
        elsewhere = {
            e
            for (e,) in conn.execute(
                select(t.c.email).where(t.c.sequence != sequence.name, t.c.state.in_(ACTIVE))
            )
        }
        suppressed = {e for (e,) in conn.execute(select(suppression_list.c.email))}
    is_seen = pl.col("email").is_in(list(seen))
    report.skipped["already enrolled"] += frame.filter(is_seen).height
    frame = frame.filter(~is_seen)
    is_suppressed = pl.col("email").is_in(list(suppressed))
    report.skipped["suppressed"] += frame.filter(is_suppressed).height
    frame = frame.filter(~is_suppressed)
    if sequence.enrol.exclusive:
        busy = pl.col("email").is_in(list(elsewhere))
        report.skipped["active in another sequence"] += frame.filter(busy).height
        frame = frame.filter(~busy)
    if frame.is_empty():
        return report

    # Templates: only leads missing a variable some template uses can fail to render.
    contexts = _contexts(sequence, frame)
    needed = template_variables(sequence) - {"unsubscribe_url", "step_number"}
    keep = []
    for context in contexts:
        missing = None if needed <= context.keys() else _renders(sequence, context)
        if missing is None:
            keep.append(True)
        else:
            keep.append(False)
            report.skipped[f"template needs {missing}"] += 1
    mask = pl.Series(keep, dtype=pl.Boolean)
    frame = frame.filter(mask)
    contexts = [c for c, k in zip(contexts, keep, strict=True) if k]
    if frame.is_empty():
        return report

    default_zone = sequence.send_window.default_timezone
    place = frame.select(
        *(
            (pl.col(c) if c in frame.columns else pl.lit(None, pl.String)).alias(c)
            for c in ("country", "state", "phone_e164")
        )
    )
    distinct = place.unique()
    zones = {
        (country, state, phone): recipient_zone(country, state, phone, default_zone)
        for country, state, phone in distinct.iter_rows()
    }
    placed = [zones[key] for key in place.iter_rows()]
    countries = place["country"].to_list()
    first_due: dict[tuple[str, str | None], datetime] = {}
    delay = sequence.steps[0].delay_business_days
    rows, transitions = [], []
    for index, (context, (zone, source), country) in enumerate(
        zip(contexts, placed, countries, strict=True)
    ):
        key = (zone, country)
        if key not in first_due:
            first_due[key] = calendar_for(sequence, zone, country).due_after(now, delay)
        rows.append(
            {
                "sequence": sequence.name,
                "email": context["email"],
                "entity_id": context.get("entity_id"),
                "domain": context["email"].rpartition("@")[2],
                "stop_on_domain_reply": sequence.stop.reply_from_domain,
                "mailbox": sequence.mailbox.address,
                "state": "scheduled",
                "step": 0,
                "steps_total": len(sequence.steps),
                "next_due_at": first_due[key],
                "timezone": zone,
                "timezone_source": source,
                "country": country,
                "context": json.dumps(context, sort_keys=True, default=str),
                "reason": frame["_reason"][index],
                "enrolled_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(t), rows[start : start + 5000])
        ids = dict(
            conn.execute(
                select(t.c.email, t.c.id).where(
                    t.c.sequence == sequence.name, t.c.enrolled_at == now
                )
            ).all()
        )
        for row in rows:
            enrolment_id = ids[row["email"]]
            transitions.append(
                {
                    "enrolment_id": enrolment_id,
                    "at": now,
                    "from_state": None,
                    "to_state": "enrolled",
                    "step": None,
                    "cause": "matched the enrol rules",
                    "actor": actor,
                    "details": json.dumps({"reason": row["reason"]}),
                }
            )
            transitions.append(
                {
                    "enrolment_id": enrolment_id,
                    "at": now,
                    "from_state": "enrolled",
                    "to_state": "scheduled",
                    "step": 0,
                    "cause": "first step scheduled",
                    "actor": actor,
                    "details": json.dumps(
                        {"due": row["next_due_at"].isoformat(), "timezone": row["timezone"]}
                    ),
                }
            )
        for start in range(0, len(transitions), 5000):
            conn.execute(insert(outreach_transitions), transitions[start : start + 5000])
    report.enrolled = len(rows)
    return report
