"""`python -m pipeline crm merges [approve ID...|--all-above WEIGHT] [deny ID...]`: duplicates
inside the CRM, each merge proposal decided by a person.

`crm merges` lists the proposals waiting for a decision, the contacts side by side with their
CRM record ids, the match weight and why. `approve` merges them at once through the CRM
backend in use (CRM_BACKEND; the kill switch applies); whatever it cannot send now, the next
sync does, each merge once. `deny` keeps the contacts apart for good (cannot-link labels for
the dedupe). The commands read the same environment as the demo (LEADS_DATA_DIR,
LEADS_DATABASE_URL, CRM_BACKEND).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from pipeline.config import load_settings
from pipeline.operations_cli import who

# Rows of a proposal's side-by-side view: (label, member field).
_ROWS = (
    ("record id", "crm_id"),
    ("email", "email"),
    ("first name", "first_name"),
    ("last name", "last_name"),
    ("phone", "phone"),
    ("company", "company"),
    ("job title", "job_title"),
    ("country", "country"),
    ("owner", "owner_id"),
    ("lifecycle", "lifecycle_stage"),
    ("created", "created_at"),
    ("fields set", "completeness"),
)
_WIDTH = 40


def add_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("crm", help="the CRM as a source: duplicates inside it, merges")
    cmds = top.add_subparsers(dest="crm_command", required=True)
    merges = cmds.add_parser(
        "merges",
        help="merge proposals for duplicates inside the CRM: list, approve, deny",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    merges.add_argument("--all", action="store_true", help="list every proposal, decided ones too")
    merges.set_defaults(func=run_list)
    actions = merges.add_subparsers(dest="merges_action")
    approve = actions.add_parser("approve", help="approve proposals and merge them now")
    approve.add_argument("ids", nargs="*", metavar="ID")
    approve.add_argument(
        "--all-above",
        type=float,
        metavar="WEIGHT",
        help="approve every pending proposal whose match weight is at least WEIGHT",
    )
    approve.add_argument("--by", default=None, help="who decides (default: user@host)")
    approve.add_argument(
        "--later",
        action="store_true",
        help="only record the approval; the next sync merges them",
    )
    approve.set_defaults(func=run_approve)
    deny = actions.add_parser("deny", help="deny proposals: the contacts stay apart for good")
    deny.add_argument("ids", nargs="+", metavar="ID")
    deny.add_argument("--by", default=None, help="who decides (default: user@host)")
    deny.add_argument("--reason", help="why, for the audit log")
    deny.set_defaults(func=run_deny)


def _store():  # type: ignore[no-untyped-def]
    from pipeline.store import open_store

    settings = load_settings()
    return settings, open_store(settings.store_url)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    text = str(value)
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":
        text = text[:10]  # a date is enough here
    return text if len(text) < _WIDTH - 1 else text[: _WIDTH - 2] + "…"


def render(proposal: dict) -> str:
    """One proposal: its contacts side by side (survivor first), then why."""
    members = proposal["members"]
    weight = proposal["match_weight"]
    shown = f"{weight:+.2f}" if weight is not None else "n/a"
    head = (
        f"{proposal['id']}  [{proposal['status']}]  match weight {shown} (log2 odds)  "
        f"entity {proposal['entity_id']}  {len(members)} contacts"
    )
    lines = [head]
    titles = ["keep (survivor)"] + ["merge into it"] * (len(members) - 1)
    lines.append(f"  {'':<12}" + "".join(f"{t:<{_WIDTH}}" for t in titles))
    for label, key in _ROWS:
        lines.append(f"  {label:<12}" + "".join(f"{_cell(m.get(key)):<{_WIDTH}}" for m in members))
    for pair in proposal["explanation"]:
        if "fields" not in pair:
            lines.append(f"  {pair['other']}: no explanation (the dedupe has not scored it)")
            continue
        how = "as the dedupe scored them" if pair.get("scored_in_run") else (
            "joined through other records; compared now, without term frequencies")  # fmt: skip
        lines.append(
            f"  why {pair['survivor']} ~ {pair['other']}: weight {pair['match_weight']:+.2f}, "
            f"probability {pair['match_probability']:.4f} ({how})"
            + ("; a veto says these two are different people" if pair.get("vetoed") else "")
        )
        for f in pair["fields"]:
            lines.append(
                f"    {f['comparison']:<13}{f['level'][:26]:<27}{f['weight']:+7.2f}  "
                f"{_cell(f['left'])} | {_cell(f['right'])}"
            )
    if proposal.get("result_id"):
        lines.append(f"  merged into {proposal['result_id']}")
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    from pipeline.crm.proposals import stored

    settings, engine = _store()
    statuses: Iterable[str] = () if args.all else ("pending", "approved")
    rows = stored(engine, settings.crm_backend, tuple(statuses))
    if not rows:
        print(
            "no merge proposal waits for a decision"
            + ("" if args.all else " (`--all` lists decided ones too)")
        )
        return 0
    pending = [r for r in rows if r["status"] == "pending"]
    print(
        f"{len(rows)} merge proposal(s) for the {settings.crm_backend} CRM"
        f" ({len(pending)} waiting for a decision); survivor rule: {rows[0]['rule']}\n"
    )
    for row in rows:
        print(render(row) + "\n")
    if pending:
        print(
            "Decide with: python -m pipeline crm merges approve ID... | --all-above WEIGHT; "
            "python -m pipeline crm merges deny ID..."
        )
    return 0


def run_approve(args: argparse.Namespace) -> int:
    from pipeline.crm.merges import DecisionError, approve

    if not args.ids and args.all_above is None:
        print("error: name the proposals to approve, or --all-above WEIGHT", file=sys.stderr)
        return 2
    settings, engine = _store()
    try:
        approved = approve(
            engine,
            args.ids,
            args.by or who(),
            all_above=args.all_above,
            backend=settings.crm_backend,
        )
    except DecisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"approved {len(approved)} proposal(s): {', '.join(approved) or 'none'}")
    if not approved or args.later:
        if approved:
            print("the next sync (crm_contacts) merges them")
        return 0
    return _merge_now(settings, engine, args.by or who())


def _merge_now(settings, engine, by: str) -> int:  # type: ignore[no-untyped-def]
    from pipeline.crm.connect import crm_client
    from pipeline.crm.merges import execute_approved
    from pipeline.crm.sync import merge_sender
    from pipeline.store.pause import SideEffectsPaused

    client = crm_client(settings, engine)
    try:
        report = execute_approved(client, engine, send=merge_sender(engine), by=by, progress=print)
    except SideEffectsPaused as exc:
        print(f"not merged now: {exc}. The next sync after resume-all merges them.")
        return 1
    finally:
        client.close()
    print(
        f"{client.backend}: {report.proposals} proposal(s) merged ({report.merges_sent} merge "
        f"call(s), {report.merges_found} found merged already)"
    )
    if report.failed:
        print("failed: " + "; ".join(report.failed), file=sys.stderr)
        return 1
    return 0


def run_deny(args: argparse.Namespace) -> int:
    from pipeline.crm.merges import DecisionError, deny

    settings, engine = _store()
    try:
        denied = deny(engine, args.ids, args.by or who(), args.reason, settings.crm_backend)
    except DecisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"denied {len(denied)} proposal(s): {', '.join(denied)}; their contacts are kept apart "
        "(cannot-link labels) from the next dedupe run on"
    )
    return 0
