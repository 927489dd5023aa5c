"""Merging duplicates inside the CRM: a person's decision on a proposal, then each merge once.

`approve` and `deny` record a person's decision (audited). Approved proposals are carried out
by `execute_approved`, called by `python -m pipeline crm merges approve` right away and by
every sync run before it writes, whichever comes first:

- a proposal is claimed first (one claimant at a time; a claim older than `CLAIM_EXPIRES`
  belongs to a run that died and may be taken over);
- each member is merged into the survivor through the CRM's merge endpoint (HubSpot may give
  the merged record a new id: the next member is merged into that one), through the sync's
  `_send`, so the kill switch stops merges like every other CRM write;
- before each merge the CRM is asked what the two ids are now: one record means the merge
  happened already (a run that died between HubSpot's answer and recording it) and it is
  recorded without being sent again;
- each step is recorded in `crm_merge_steps` with the audit entry and the sync ledger moved
  to the surviving id, in one transaction.

A denied proposal stays denied, and each pair of its contacts becomes a cannot-link label for
the dedupe (`dedupe_labels`, source `crm_merge`): they are never one entity, so never proposed
again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import combinations

import polars as pl
from sqlalchemy import Engine, and_, or_, select, update

from pipeline.crm.as_leads import ID_PREFIX
from pipeline.crm.client import CrmClient
from pipeline.store import audit
from pipeline.store.sql import dialect_insert, utcnow
from pipeline.store.tables import crm_merge_proposals, crm_merge_steps, crm_sync_ledger

CLAIM_EXPIRES = timedelta(minutes=15)
DENIED_SOURCE = "crm_merge"
STEPS_SCHEMA = {"primary_id": pl.String, "merged_id": pl.String, "result_id": pl.String}


@dataclass
class MergeReport:
    proposals: int = 0  # carried out to the end
    merges_sent: int = 0
    merges_found: int = 0  # had happened already (a crash before they were recorded)
    members_gone: int = 0
    failed: list[str] = field(default_factory=list)
    skipped_claimed: int = 0

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class DecisionError(ValueError):
    """A decision that cannot be taken (an unknown id, a proposal decided already)."""


def load_steps(engine: Engine, backend: str) -> pl.DataFrame:
    s = crm_merge_steps
    query = select(s.c.primary_id, s.c.merged_id, s.c.result_id).where(s.c.backend == backend)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(s.c.id)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=STEPS_SCHEMA, orient="row")


def _decide(
    engine: Engine,
    ids: Iterable[str],
    to: str,
    by: str,
    reason: str | None,
    backend: str | None = None,
) -> list[dict]:
    t = crm_merge_proposals
    wanted = list(dict.fromkeys(ids))
    now = utcnow()
    decided = []
    with engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(select(t).where(t.c.id.in_(wanted)))}
        unknown = [i for i in wanted if i not in rows]
        if unknown:
            raise DecisionError(f"no merge proposal {', '.join(unknown)}")
        for proposal_id in wanted:
            row = rows[proposal_id]
            if backend is not None and row.backend != backend:
                raise DecisionError(
                    f"proposal {proposal_id} is for the {row.backend} CRM, not {backend}"
                )
            if row.status != "pending":
                raise DecisionError(f"proposal {proposal_id} is {row.status}, not pending")
            conn.execute(
                update(t)
                .where(t.c.id == proposal_id, t.c.status == "pending")
                .values(status=to, decided_by=by[:120], decided_at=now, reason=reason,
                        updated_at=now)
            )  # fmt: skip
            audit.record(
                conn,
                actor=by,
                action=f"crm.merge_{'approved' if to == 'approved' else 'denied'}",
                subject=f"merge proposal {proposal_id}",
                details={
                    "members": json.loads(row.members),
                    "survivor": row.survivor_id,
                    "weight": row.match_weight,
                    **({"reason": reason} if reason else {}),
                },
            )
            decided.append({"id": proposal_id, "members": _member_ids(row.members)})
    return decided


def _member_ids(members_json: str) -> list[str]:
    return [str(m["crm_id"]) if isinstance(m, dict) else str(m) for m in json.loads(members_json)]


def approve(
    engine: Engine,
    ids: Iterable[str] = (),
    by: str = "unknown",
    *,
    all_above: float | None = None,
    backend: str | None = None,
) -> list[str]:
    """Approve pending proposals (the given ones, or every one weighing at least
    `all_above`); returns their ids."""
    ids = list(ids)
    if all_above is not None:
        t = crm_merge_proposals
        query = select(t.c.id).where(t.c.status == "pending", t.c.match_weight >= all_above)
        if backend is not None:
            query = query.where(t.c.backend == backend)
        with engine.connect() as conn:
            ids += [r for (r,) in conn.execute(query.order_by(t.c.id))]
    return [d["id"] for d in _decide(engine, ids, "approved", by, None, backend)]


def deny(
    engine: Engine,
    ids: Iterable[str],
    by: str = "unknown",
    reason: str | None = None,
    backend: str | None = None,
) -> list[str]:
    """Deny pending proposals; each pair of their contacts becomes a cannot-link label."""
    from pipeline.store.dedupe_labels import save_labels

    decided = _decide(engine, ids, "denied", by, reason, backend)
    pairs = [
        (f"{ID_PREFIX}{a}", f"{ID_PREFIX}{b}")
        for d in decided
        for a, b in combinations(d["members"], 2)
    ]
    if pairs:
        save_labels(
            engine,
            pl.DataFrame(
                {
                    "left_id": [a for a, _ in pairs],
                    "right_id": [b for _, b in pairs],
                    "label": ["no_match"] * len(pairs),
                },
            ),
            labelled_by=by,
            source=DENIED_SOURCE,
        )
    return [d["id"] for d in decided]


def _claim(engine: Engine, proposal_id: str, by: str) -> bool:
    t = crm_merge_proposals
    now = utcnow()
    with engine.begin() as conn:
        done = conn.execute(
            update(t)
            .where(
                t.c.id == proposal_id,
                t.c.status == "approved",
                or_(t.c.claimed_at.is_(None), t.c.claimed_at < now - CLAIM_EXPIRES),
            )
            .values(claimed_by=by[:120], claimed_at=now)
        )
        return done.rowcount == 1


def _release(engine: Engine, proposal_id: str, **values: object) -> None:
    t = crm_merge_proposals
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.id == proposal_id)
            .values(claimed_by=None, claimed_at=None, updated_at=utcnow(), **values)
        )


def _record_step(
    engine: Engine,
    proposal: dict,
    backend: str,
    primary: str,
    member: str,
    result: str | None,
    how: str,
    by: str,
    run_id: str | None,
    moved: Iterable[str],
) -> None:
    """The step, the proposal's current survivor, the ledger and the audit entry: at once."""
    now = utcnow()
    t, led = crm_merge_proposals, crm_sync_ledger
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, crm_merge_steps).on_conflict_do_nothing(
                index_elements=["proposal_id", "merged_id"]
            ),
            {
                "proposal_id": proposal["id"],
                "backend": backend,
                "primary_id": primary,
                "merged_id": member,
                "result_id": result,
                "how": how,
                "at": now,
                "run_id": run_id,
            },
        )
        if result is not None:
            conn.execute(update(t).where(t.c.id == proposal["id"]).values(result_id=result))
            old = [i for i in dict.fromkeys(moved) if i != result]
            if old:
                # The ledger follows the surviving id.
                conn.execute(
                    update(led)
                    .where(and_(led.c.backend == backend, led.c.crm_id.in_(old)))
                    .values(crm_id=result, synced_at=now)
                )
        audit.record(
            conn,
            actor=by,
            action=f"{backend}.merge_contacts" if how == "sent" else f"{backend}.merge_recorded",
            subject=f"{member} -> {result}",
            run_id=run_id,
            details={"proposal": proposal["id"], "primary": primary, "how": how},
        )


def _steps_of(engine: Engine, proposal_id: str) -> dict[str, str | None]:
    s = crm_merge_steps
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.c.merged_id, s.c.result_id).where(s.c.proposal_id == proposal_id)
        ).all()
    return {r.merged_id: r.result_id for r in rows}


def execute_approved(
    client: CrmClient,
    engine: Engine,
    *,
    send: Callable[[Callable[[], str]], str],
    by: str = "crm_sync",
    run_id: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    after_merge: Callable[[str, str], None] | None = None,
) -> MergeReport:
    """Carry out every approved proposal of the client's backend not merged yet. `send`
    wraps each merge call (the sync's `_send`: the kill switch). `after_merge(member,
    result)` runs between the CRM's answer and recording it (tests crash there)."""
    t = crm_merge_proposals
    report = MergeReport()
    with engine.connect() as conn:
        waiting = [
            dict(r._mapping)
            for r in conn.execute(
                select(t).where(t.c.backend == client.backend, t.c.status == "approved")
                .order_by(t.c.decided_at, t.c.id)
            )
        ]  # fmt: skip
    for proposal in waiting:
        if not _claim(engine, proposal["id"], by):
            report.skipped_claimed += 1
            continue
        outcome: dict[str, object] = {}
        try:
            outcome = _merge_one(client, engine, proposal, send, by, run_id, report, after_merge)
        finally:
            _release(engine, proposal["id"], **outcome)
        if outcome.get("status") == "merged":
            report.proposals += 1
            progress(f"merge proposal {proposal['id']}: merged into {outcome.get('result_id')}")
        elif outcome.get("status") == "failed":
            report.failed.append(f"{proposal['id']}: {outcome.get('error')}")
            progress(f"merge proposal {proposal['id']} failed: {outcome.get('error')}")
    return report


def _merge_one(
    client: CrmClient,
    engine: Engine,
    proposal: dict,
    send: Callable[[Callable[[], str]], str],
    by: str,
    run_id: str | None,
    report: MergeReport,
    after_merge: Callable[[str, str], None] | None,
) -> dict[str, object]:
    members = _member_ids(proposal["members"])
    survivor = proposal["result_id"] or proposal["survivor_id"]
    done = _steps_of(engine, proposal["id"])
    for member in members:
        if member == proposal["survivor_id"]:
            continue
        if member in done:
            survivor = done[member] or survivor
            continue
        now = client.current_contact_ids([survivor, member])
        if now.get(survivor) is None:
            return {
                "status": "failed",
                "error": f"the surviving record {survivor} no longer exists in the CRM",
            }
        primary, other = str(now[survivor]), now.get(member)
        if other is None:
            report.members_gone += 1
            _record_step(engine, proposal, client.backend, primary, member, primary, "gone", by,
                         run_id, [survivor])  # fmt: skip
            survivor = primary
            continue
        if other == primary:
            report.merges_found += 1
            how, result = "found", primary
        else:
            result = send(lambda p=primary, o=other: client.merge_contacts(p, o))
            report.merges_sent += 1
            how = "sent"
            if after_merge is not None:
                after_merge(member, result)
        _record_step(engine, proposal, client.backend, primary, member, result, how, by, run_id,
                     [survivor, primary, member, other])  # fmt: skip
        survivor = result
    return {"status": "merged", "result_id": survivor, "merged_at": utcnow()}
