"""The CRM as a source at scale: a portal of 200,000 contacts read through `HubSpotCrm` from
the fake HubSpot (tests/fakes/hubspot_server.py), then matched with 100,000 new leads.

Data: `generate_leads` (seeded, messy, with the truth) of `--generate` rows. The portal holds
one row per person for `--contacts` less `--portal-duplicates` people, plus a second row of
`--portal-duplicates` of them (duplicates inside the CRM); the new leads are other rows of
people already in the portal (`--known` of them: a lead the CRM has under other values) and
rows of people it does not have.

Phases, each timed (wall and this process's CPU; the fake runs in a thread of this process,
so its CPU is counted too):

1. full read (`HubSpotSource`, list endpoints) with the client's limiter raised out of the
   way ("capacity": what client and fake can do), and, with `--rate N`, at the portal's real
   limit of N requests per 10 s;
2. incremental reads: `--changes` contacts edited, some archived, merged, added; then
   `--big-changes` edited (more than one search query may page through: windows);
3. CRM contacts -> leads (`crm_leads`, the normalizers), and the new leads normalized;
4. matching: the dedupe on the new leads alone (the dedupe's own figure at that size), on
   leads and contacts together (full), and the way it runs in production: the portal
   resolved first, then the leads matched incrementally against it;
5. merge proposals, and the sync's plan on the outbox (updates by id vs creates);
6. quality against the truth: leads whose person is in the portal that end in an entity
   holding that person's contact (recall) and leads in an entity holding a contact that is
   someone else (false updates); planted duplicates inside the portal proposed.

    flock /work/helpers/bench.lock .venv/bin/python benchmarks/crm/bench_source.py \
        --contacts 200000 --leads 100000 --rate 190
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_leads import generate_leads  # noqa: E402

from pipeline.crm.as_leads import crm_leads  # noqa: E402
from pipeline.crm.client import OutboxCrm  # noqa: E402
from pipeline.crm.hubspot import HubSpotCrm  # noqa: E402
from pipeline.crm.mapping import load_mapping  # noqa: E402
from pipeline.crm.matches import entity_contacts  # noqa: E402
from pipeline.crm.proposals import build_proposals  # noqa: E402
from pipeline.crm.records import apply_read, summary  # noqa: E402
from pipeline.crm.source import HubSpotSource  # noqa: E402
from pipeline.crm.sync import sync_contacts  # noqa: E402
from pipeline.dedupe import dedupe  # noqa: E402
from pipeline.dedupe.provenance import (  # noqa: E402
    address_links,
    combined,
    lead_entities_only,
)
from pipeline.dedupe.runs import PreviousRun, resolve  # noqa: E402
from pipeline.normalize.leads import normalize_leads  # noqa: E402
from pipeline.schema import RAW_LEADS_SCHEMA, conform  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from tests.fakes.hubspot_server import HubSpotServer, HubSpotState, _Handler  # noqa: E402

RESULTS = Path(__file__).with_name("source_results.jsonl")
T0 = datetime(2026, 6, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, 0)
NO_MERGES = pl.DataFrame(
    schema={"event": pl.String, "entity_id": pl.String, "other_entity_id": pl.String}
)


@dataclass
class Phase:
    name: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


PHASES: list[Phase] = []
FAKE_SECONDS = [0.0]  # time the fake spent answering (it shares this process)


def _instrument_fake() -> None:
    """Sum the fake's own time per request, so the client's share of a read shows."""
    original = _Handler._admitted

    def admitted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            FAKE_SECONDS[0] += time.perf_counter() - start

    _Handler._admitted = admitted  # type: ignore[method-assign]


@contextmanager
def timed(name: str, **extra: Any):  # type: ignore[no-untyped-def]
    phase = Phase(name, extra=dict(extra))
    wall, cpu, fake = time.perf_counter(), time.process_time(), FAKE_SECONDS[0]
    yield phase
    phase.wall_s = round(time.perf_counter() - wall, 2)
    phase.cpu_s = round(time.process_time() - cpu, 2)
    if FAKE_SECONDS[0] > fake:
        phase.extra["fake_server_s"] = round(FAKE_SECONDS[0] - fake, 2)
    PHASES.append(phase)
    print(f"{name}: {phase.wall_s:.2f} s wall, {phase.cpu_s:.2f} s CPU {phase.extra}", flush=True)


# --- data -------------------------------------------------------------------------------------


def split(args: argparse.Namespace) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """(portal rows, new lead rows, counts): see the module docstring."""
    rows = generate_leads(args.generate, seed=args.seed).with_columns(
        pl.int_range(pl.len()).over("true_entity_id").alias("rank")
    )
    rng = np.random.default_rng(args.seed)
    entities = rows["true_entity_id"].unique().sort().to_numpy().copy()
    rng.shuffle(entities)
    singles = args.contacts - args.portal_duplicates
    in_portal = entities[:singles]
    outside = entities[singles:]
    firsts = rows.filter((pl.col("rank") == 0) & pl.col("true_entity_id").is_in(in_portal))
    multi = rows.filter((pl.col("rank") == 1) & pl.col("true_entity_id").is_in(in_portal))
    dup_ids = rng.choice(multi["true_entity_id"].to_numpy(), args.portal_duplicates, replace=False)
    dups = multi.filter(pl.col("true_entity_id").is_in(dup_ids))
    portal = pl.concat([firsts, dups]).with_columns(
        pl.format("{}", pl.int_range(5_000_001, 5_000_001 + pl.len())).alias("crm_id")
    )
    known_pool = rows.filter(
        (pl.col("rank") >= 1)
        & pl.col("true_entity_id").is_in(in_portal)
        & ~pl.col("true_entity_id").is_in(dup_ids)
    )
    known = known_pool.sample(min(args.known, known_pool.height), seed=args.seed)
    fresh_pool = rows.filter(pl.col("true_entity_id").is_in(outside))
    fresh = fresh_pool.sample(min(args.leads - known.height, fresh_pool.height), seed=args.seed)
    leads = pl.concat([known, fresh]).with_columns(pl.lit(True).alias("_lead"))
    counts = {
        "portal_contacts": portal.height,
        "portal_duplicate_pairs": dups.height,
        "leads": leads.height,
        "leads_of_people_in_the_portal": known.height,
    }
    return portal, leads, counts


def seed_portal(state: HubSpotState, portal: pl.DataFrame) -> None:
    """Each portal row as a contact, with the id the split gave it."""
    names = pl.col("full_name").str.split(" ")
    frame = portal.with_columns(
        pl.coalesce("first_name", names.list.first()).alias("_first"),
        pl.coalesce("last_name", names.list.slice(1).list.join(" ")).alias("_last"),
    )
    with state.lock:
        for i, row in enumerate(frame.iter_rows(named=True)):
            stamp = row["created_at"]
            created = (
                datetime.fromisoformat(stamp).replace(tzinfo=UTC)
                if stamp
                else T0 - timedelta(days=365)
            )
            props = {
                "email": row["email"] or "",
                "firstname": row["_first"] or "",
                "lastname": row["_last"] or "",
                "phone": row["phone"] or "",
                "mobilephone": row["mobile_phone"] or "",
                "company": row["company"] or "",
                "website": row["website"] or "",
                "jobtitle": row["job_title"] or "",
                "country": row["country"] or "",
                "city": row["city"] or "",
            }
            record = state._create(
                "contacts", {k: v for k, v in props.items() if v}, created, row["crm_id"]
            )
            # Last modified over the 90 days before T0, as a live portal's are (all at one
            # instant, every record would share the cursor's instant and be read again).
            record.updated_at = T0 - timedelta(seconds=(i * 7919) % (90 * 86400))
        # Ids continue above the portal's own (merges and creates get new ones).
        state._ids["contacts"] = itertools.count(9_000_001)


def client(server: HubSpotServer, capacity: bool, rate: int = 190) -> HubSpotCrm:
    return HubSpotCrm(
        server.state.access_token,
        server.url,
        requests_per_10s=10**9 if capacity else rate,
        searches_per_second=10**9 if capacity else 4,
        timeout_seconds=120,
    )


def read(server, previous, capacity: bool, now: datetime, rate: int = 190):  # type: ignore[no-untyped-def]
    crm = client(server, capacity, rate)
    source = HubSpotSource(crm)
    result = source.read(previous, full=False, now=now, progress=lambda _m: None)
    return apply_read(previous, result, now), result


def raw_leads(rows: pl.DataFrame, name: str) -> pl.DataFrame:
    return conform(
        rows.with_columns(
            pl.col("record_id").alias("lead_id"),
            pl.lit(name).alias("source_file"),
            pl.lit(name).alias("source_file_id"),
            pl.int_range(2, pl.len() + 2).alias("row_number"),
            pl.lit(datetime(2026, 11, 1)).alias("arrived_at"),
            pl.lit(datetime(2026, 11, 1)).alias("arrival_day"),
        ),
        RAW_LEADS_SCHEMA,
    )


# --- quality ----------------------------------------------------------------------------------


def quality(
    entities: pl.DataFrame, portal: pl.DataFrame, leads: pl.DataFrame
) -> dict[str, float | int]:
    truth_contact = portal.select(
        (pl.lit("crm:") + pl.col("crm_id")).alias("lead_id"),
        pl.col("true_entity_id").alias("contact_person"),
    )
    held = (
        entities.join(truth_contact, on="lead_id", how="inner")
        .group_by("entity_id")
        .agg(pl.col("contact_person").unique().alias("people_held"))
    )
    lead_truth = leads.select(pl.col("record_id").alias("lead_id"), "true_entity_id")
    in_portal = set(portal["true_entity_id"].to_list())
    placed = (
        entities.join(lead_truth, on="lead_id", how="inner")
        .join(held, on="entity_id", how="left")
        .with_columns(
            pl.col("true_entity_id").is_in(list(in_portal)).alias("person_in_portal"),
            pl.col("people_held")
            .list.contains(pl.col("true_entity_id"))
            .fill_null(False)
            .alias("found_own_contact"),
            (
                pl.col("people_held").is_not_null()
                & ~pl.col("people_held").list.contains(pl.col("true_entity_id")).fill_null(False)
            ).alias("wrong_contact"),
        )
    )
    known = placed.filter("person_in_portal")
    with_contact = placed.filter(pl.col("people_held").is_not_null())
    return {
        "leads_of_people_in_portal": known.height,
        "found_their_contact": int(known["found_own_contact"].sum()),
        "recall": round(float(known["found_own_contact"].mean() or 0), 4),
        "leads_in_an_entity_with_a_contact": with_contact.height,
        "with_someone_elses_contact": int(with_contact["wrong_contact"].sum()),
        "precision": round(1 - float(with_contact["wrong_contact"].mean() or 0), 4),
    }


def proposal_quality(proposals: pl.DataFrame, portal: pl.DataFrame) -> dict[str, float | int]:
    person = dict(portal.select("crm_id", "true_entity_id").iter_rows())
    planted = {
        tuple(sorted(ids))
        for ids in portal.group_by("true_entity_id")
        .agg("crm_id")
        .filter(pl.col("crm_id").list.len() == 2)["crm_id"]
        .to_list()
    }
    proposed_pairs = set()
    right = 0
    for ids in proposals["member_ids"].to_list():
        same = len({person[i] for i in ids}) == 1
        right += same
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                proposed_pairs.add(tuple(sorted((a, b))))
    found = len(planted & proposed_pairs)
    return {
        "planted_pairs": len(planted),
        "proposals": proposals.height,
        "proposals_all_one_person": right,
        "planted_found": found,
        "recall": round(found / max(len(planted), 1), 4),
        "precision": round(right / max(proposals.height, 1), 4),
    }


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, default=200_000)
    ap.add_argument("--portal-duplicates", type=int, default=5_000)
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--known", type=int, default=30_000, help="leads of people in the portal")
    ap.add_argument("--generate", type=int, default=520_000, help="rows generated")
    ap.add_argument("--changes", type=int, default=2_000)
    ap.add_argument("--big-changes", type=int, default=15_000)
    ap.add_argument("--rate", type=int, default=0, help="also read at N requests per 10 s")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    _instrument_fake()
    started = time.perf_counter()
    portal, lead_rows, counts = split(args)
    print(f"data: {counts} ({time.perf_counter() - started:.1f} s)", flush=True)
    state = HubSpotState()
    seed_portal(state, portal)
    result: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg()[0],
        "cores": os.cpu_count(),
        **counts,
    }
    with HubSpotServer(state) as server:
        with timed("full read, capacity") as phase:
            records, done = read(server, None, capacity=True, now=NOW)
            phase.extra = {"requests": done.requests, "records": summary(records)}
        result["full_read_requests"] = done.requests
        if args.rate:
            with timed(f"full read at {args.rate}/10 s") as phase:
                _, done = read(server, None, capacity=False, now=NOW, rate=args.rate)
                phase.extra = {"requests": done.requests}
        # Edits, deletions, merges, new contacts, a day later.
        later = T0 + timedelta(days=1)
        ids = portal["crm_id"].to_list()
        rng = np.random.default_rng(args.seed)
        picked = rng.choice(len(ids), args.changes + 200 + 200, replace=False)
        edited = [ids[i] for i in picked[: args.changes]]
        archived = [ids[i] for i in picked[args.changes : args.changes + 200]]
        merging = [ids[i] for i in picked[args.changes + 200 :]]
        with state.lock:
            for k, crm_id in enumerate(edited):
                state.touch("contacts", crm_id, {"jobtitle": f"Title {k}"}, at=later)
            for crm_id in archived:
                state.archive("contacts", crm_id)
            for k in range(500):
                state.add_contact({"email": f"added{k}@new.io"}, created_at=later, updated_at=later)
        sdk = server.sdk()
        from hubspot.crm.contacts import PublicMergeInput

        state.clock = lambda: later
        for a, b in zip(merging[::2], merging[1::2], strict=True):
            sdk.crm.contacts.basic_api.merge(
                public_merge_input=PublicMergeInput(primary_object_id=a, object_id_to_merge=b)
            )
        now2 = NOW + timedelta(days=1)
        for capacity in (True, False):
            label = "capacity" if capacity else "search at 4/s, lists at 190/10 s"
            with timed(
                f"incremental read ({args.changes} edited, 200 archived, 100 merges, "
                f"500 new), {label}"
            ) as phase:
                after, done = read(server, records, capacity=capacity, now=now2)
                phase.extra = {
                    "requests": done.requests,
                    "mode": done.mode,
                    "read": done.records.height,
                }
        result["incremental_requests"] = done.requests
        # More changes than one search query may page through.
        later2 = later + timedelta(days=1)
        with state.lock:
            live = list(state.contacts)[: args.big_changes]
            for k, crm_id in enumerate(live):
                state.touch(
                    "contacts",
                    crm_id,
                    {"jobtitle": f"Big {k}"},
                    at=later2 + timedelta(milliseconds=k),
                )
        with timed(f"incremental read ({args.big_changes} edited), search at 4/s") as phase:
            _, done = read(server, after, capacity=False, now=now2 + timedelta(days=1))
            phase.extra = {
                "requests": done.requests,
                "mode": done.mode,
                "read": done.records.height,
            }
        result["big_incremental_requests"] = done.requests

    with timed("CRM contacts -> leads (normalizers)") as phase:
        crm, rejected = crm_leads(records)
        phase.extra = {"contacts": crm.height, "without_identity": rejected.height}
    with timed("new leads normalized") as phase:
        leads = normalize_leads(raw_leads(lead_rows, "new_leads.csv"), "US").leads
        phase.extra = {"leads": leads.height}

    with timed("dedupe, new leads alone (full)") as phase:
        alone = dedupe(leads, keep_work=False)
        phase.extra = {"records": leads.height, "entities": alone.golden.height}
    del alone
    rows = combined(leads, crm)
    links = address_links(rows)
    with timed("dedupe, leads + contacts together (full)") as phase:
        together = resolve(rows, PreviousRun(), labels=links if links.height else None)
        phase.extra = {"records": rows.height, "entities": together.golden.height}
    full_quality = quality(together.entities, portal, lead_rows)
    print(f"quality (full): {full_quality}", flush=True)

    with timed("dedupe, the portal alone (full)") as phase:
        base = resolve(crm, PreviousRun())
        phase.extra = {"records": crm.height, "entities": base.golden.height}
    previous = base.as_previous()
    with timed("dedupe, new leads against the resolved portal (incremental)") as phase:
        incremental = resolve(rows, previous, labels=links if links.height else None)
        phase.extra = {"records": leads.height, "mode": incremental.mode}
    incremental_quality = quality(incremental.entities, portal, lead_rows)
    print(f"quality (incremental): {incremental_quality}", flush=True)

    with timed("merge proposals") as phase:
        proposals, _ = build_proposals(
            together.entities.filter(pl.col("lead_id").str.starts_with("crm:")),
            records,
            None,
            None,
            ("oldest", "owner_set", "most_complete"),
            "outbox",
            None,
        )
        phase.extra = {"proposals": proposals.height}
    merge_quality = proposal_quality(proposals, portal)
    print(f"proposals: {merge_quality}", flush=True)

    golden = lead_entities_only(together.golden, together.entities, leads)
    scored = golden.with_columns(
        pl.lit(None, pl.String).alias("website"),
        pl.lit(50).alias("lead_score"),
        pl.lit("B").alias("lead_grade"),
        pl.lit(["+10 bench"]).alias("score_reasons"),
        pl.lit(None, pl.String).alias("industry"),
        pl.lit(None, pl.String).alias("hq_country"),
        pl.lit(False).alias("is_free_email"),
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'ops.sqlite'}")
        with timed("sync plan to the outbox (entity contacts + sync)") as phase:
            contacts = entity_contacts(scored.select("entity_id", "member_ids"), records)
            report = sync_contacts(
                scored,
                NO_MERGES,
                load_mapping(),
                OutboxCrm(store, "bench"),
                store,
                contacts=contacts,
            )
            phase.extra = {
                "entities": scored.height,
                "updated_existing": report.updated_existing,
                "new": report.new,
                "held_for_merge": report.held_for_merge,
                "deleted_in_crm": report.deleted_in_crm,
            }
    result.update(
        phases=[{"name": p.name, "wall_s": p.wall_s, "cpu_s": p.cpu_s, **p.extra} for p in PHASES],
        quality_full=full_quality,
        quality_incremental=incremental_quality,
        proposals=merge_quality,
        load_after=os.getloadavg()[0],
    )
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result, default=str) + "\n")
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
