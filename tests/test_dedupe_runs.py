"""`runs.resolve` on a table that grew: the resolved leads found by position or by a mask
when they keep the stored order, joined by id otherwise; the same resolution either way."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.dedupe.runs import PreviousRun, Resolution, resolve, resolved_rows
from tests.people import normalized, population


@pytest.fixture(scope="module")
def grown() -> tuple[pl.DataFrame, PreviousRun]:
    """(the whole table, the resolution of its first 85 % as stored)."""
    rows, _ = population(n_people=250, seed=11)
    leads = normalized(rows)
    first = resolve(leads.head(int(leads.height * 0.85)), PreviousRun())
    assert first.mode == "full"
    return leads, first.as_previous()


def _as_sets(run: Resolution) -> tuple:
    golden = run.golden.sort("entity_id")
    return (
        dict(run.entities.iter_rows()),
        golden.drop("member_ids").rows(),
        sorted(tuple(sorted(m)) for m in golden["member_ids"].to_list()),
        run.fingerprints.sort("lead_id").rows(),
        sorted(run.new_events.select("event", "entity_id", "other_entity_id").rows()),
    )


def test_a_grown_table_resolves_the_same_whether_its_old_leads_come_first_or_not(grown):
    leads, previous = grown
    assert resolved_rows(leads, previous, "lead_id").arg_true().max() < previous.entities.height
    said: list[str] = []
    in_order = resolve(leads, previous, progress=said.append)
    assert in_order.mode == "incremental"
    assert any("incremental" in line for line in said)
    shuffled = leads.sample(fraction=1.0, shuffle=True, seed=5)
    assert not shuffled["lead_id"].head(10).equals(leads["lead_id"].head(10))
    assert resolved_rows(shuffled, previous, "lead_id") is None  # joined by id
    joined = resolve(shuffled, previous)
    assert joined.mode == "incremental"
    assert _as_sets(in_order) == _as_sets(joined)
    resolved = previous.entities.height
    assert in_order.entities.height == leads.height
    # The batch's golden records come after the untouched ones, which keep their order.
    batch = in_order.result.golden["entity_id"]
    gone = in_order.new_events["other_entity_id"].drop_nulls()
    kept = previous.golden.filter(~pl.col("entity_id").is_in(pl.concat([batch, gone]).implode()))
    assert 0 < kept.height < previous.golden.height
    assert in_order.golden.head(kept.height)["entity_id"].equals(kept["entity_id"])
    assert in_order.golden["record_count"].sum() == leads.height > resolved


def test_new_leads_between_the_resolved_ones_are_found_by_a_mask(grown):
    """File leads followed by CRM contacts: new file leads come before the contacts."""
    leads, previous = grown
    resolved = previous.entities.height
    old, new = leads.head(resolved), leads.slice(resolved)
    between = pl.concat([old.head(resolved - 20), new, old.tail(20)])
    mask = resolved_rows(between, previous, "lead_id")
    assert mask is not None and mask.sum() == resolved
    assert not mask.slice(resolved - 20, new.height).any()
    by_mask = resolve(between, previous)
    by_id = resolve(between.sample(fraction=1.0, shuffle=True, seed=2), previous)
    assert by_mask.mode == by_id.mode == "incremental"
    assert _as_sets(by_mask) == _as_sets(by_id)
    # The resolved leads in another order: joined by id.
    assert (
        resolved_rows(pl.concat([old.tail(20), old.head(resolved - 20), new]), previous, "lead_id")
        is None
    )


def test_a_lead_gone_from_a_grown_table_still_calls_for_a_full_run(grown):
    leads, previous = grown
    gone = previous.entities["lead_id"][3]
    said: list[str] = []
    run = resolve(leads.filter(pl.col("lead_id") != gone), previous, progress=said.append)
    assert run.mode == "full"
    assert any("resolved leads are gone" in line for line in said)
