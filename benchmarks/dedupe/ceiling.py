"""What a data set allows: the cluster F1 of oracles that know the truth, by the evidence
they may use.

An engine can only link two records of one person through what the records share. This
script links TRUE pairs only (so precision is 1) whenever they share a given kind of
evidence, and reports the cluster recall and F1 that reaches; then it adds every pair that
shares nothing but a full name (true or not, as an engine would have to) for names seen at
most k times in the set, which is the best any rule on name rarity can do. It answers "how
far is the engine from what the evidence supports", which a cluster F1 alone cannot.

    .venv/bin/python benchmarks/dedupe/ceiling.py --dataset leads_100000_alt-heavy \
        [--dataset leads_100000_hard ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from common import TRUE_COL
from metrics import cluster_pair_metrics

DATA = Path(__file__).resolve().parents[1] / "data"


def _letters(column: str) -> pl.Expr:
    return pl.col(column).str.to_lowercase().str.replace_all(r"[^a-z]", "")


def _same(column: str) -> pl.Expr:
    return (pl.col(column) == pl.col(f"{column}_r")).fill_null(False)


def _cluster_f1(records: pl.DataFrame, links: pl.DataFrame) -> tuple[float, float, float]:
    """Precision, recall and F1 of the pairs implied by the links' connected components."""
    n = records.height
    graph = coo_matrix(
        (np.ones(links.height), (links["i"].to_numpy(), links["i_r"].to_numpy())), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    metrics = cluster_pair_metrics(
        records.select("i", entity_id=pl.Series(labels)),
        records.select("i", TRUE_COL),
        id_col="i",
    )
    return metrics.precision, metrics.recall, metrics.f1


def report(name: str) -> None:
    records = pl.read_parquet(DATA / f"{name}.parquet").with_row_index("i")
    fields = records.select(
        "i",
        "true_entity_id",
        "email_canonical",
        "company_key",
        "domain",
        "postcode",
        "address",
        first=_letters("first_name"),
        last=_letters("last_name"),
        phone=pl.col("phone_e164"),
        mobile=pl.col("mobile_e164"),
    )
    true_pairs = fields.join(fields, on="true_entity_id", suffix="_r").filter(
        pl.col("i") < pl.col("i_r")
    )
    left = true_pairs["email_canonical"].fill_null("").to_list()
    right = true_pairs["email_canonical_r"].fill_null("").to_list()
    edits = cpdist(left, right, scorer=Levenshtein.distance, workers=-1)
    companies = cpdist(
        true_pairs["company_key"].fill_null("").to_list(),
        true_pairs["company_key_r"].fill_null("").to_list(),
        scorer=fuzz.token_set_ratio,
        workers=-1,
    )
    true_pairs = true_pairs.with_columns(
        email_edits=pl.Series(edits), company_alike=pl.Series(companies)
    )
    initial = pl.col("first").str.slice(0, 1) == pl.col("first_r").str.slice(0, 1)
    name_alike = _same("last") | (_same("first") & (pl.col("first").str.len_chars() > 1))
    name_alike = name_alike | (initial.fill_null(False) & _same("last"))
    phone = (
        _same("phone")
        | _same("mobile")
        | (pl.col("phone") == pl.col("mobile_r")).fill_null(False)
        | (pl.col("mobile") == pl.col("phone_r")).fill_null(False)
    )
    organisation = _same("company_key") | _same("domain") | _same("address") | _same("postcode")
    both_emails = (
        pl.col("email_canonical").is_not_null() & pl.col("email_canonical_r").is_not_null()
    )
    evidence = {
        "the same email": _same("email_canonical"),
        "+ a mobile, or a name and a phone": _same("mobile") | (name_alike & phone),
        "+ a name and a company, domain or address": name_alike & organisation,
        "+ a name and an email within 2 edits": name_alike
        & both_emails
        & (pl.col("email_edits") <= 2),
        "+ a name and a company alike (token set ratio >= 85)": name_alike
        & (pl.col("company_alike") >= 85),
    }
    print(f"\n{name}: {records.height:,} records, {true_pairs.height:,} direct true pairs")
    print(f"  {'oracle linking only true pairs that share':58s} {'recall':>7s} {'F1':>7s}")
    so_far = pl.lit(False)
    for label, condition in evidence.items():
        so_far = so_far | condition
        _, recall, f1 = _cluster_f1(records, true_pairs.filter(so_far))
        print(f"  {label:58s} {recall:7.4f} {f1:7.4f}")
    strong = true_pairs.filter(so_far).select("i", "i_r")
    named = fields.filter(pl.col("first").str.len_chars() > 1, pl.col("last").str.len_chars() > 1)
    counts = named.group_by("first", "last").agg(seen=pl.len())
    same_name = (
        named.join(named, on=["first", "last"], suffix="_r")
        .filter(pl.col("i") < pl.col("i_r"))
        .join(counts, on=["first", "last"])
    )
    heading = "+ every same-full-name pair (true or not), name seen <= k"
    print(f"  {heading:58s} {'P':>7s} {'R':>7s} {'F1':>7s}")
    for k in (2, 3, 4, 5):
        extra = same_name.filter(pl.col("seen") <= k).select("i", "i_r")
        precision, recall, f1 = _cluster_f1(records, pl.concat([strong, extra]))
        print(f"    k = {k:<52d} {precision:7.4f} {recall:7.4f} {f1:7.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", action="append", required=True)
    for name in parser.parse_args().dataset:
        report(name)


if __name__ == "__main__":
    main()
