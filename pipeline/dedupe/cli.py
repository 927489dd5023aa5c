"""`python -m pipeline dedupe`: the core on a file (with review pairs out and labels in), and
`python -m pipeline dedupe review`: labelling the warehouse's least-sure pairs."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from pipeline.config import load_settings
from pipeline.dedupe.labels import MAX_THRESHOLD_MOVE, LabelError, read_labels_csv
from pipeline.dedupe.review import (
    ReviewSource,
    choose_pairs,
    explained,
    pair_ids,
    records_with_fingerprints,
    review_in_terminal,
    with_values,
    write_review_csv,
)
from pipeline.dedupe.spec import SpecError, load_spec

WAREHOUSE_SCHEMA = "leads"


def _progress(started: float):
    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.2f}s] {message}", file=sys.stderr, flush=True)

    return say


def add_file_arguments(dd: argparse.ArgumentParser) -> None:
    dd.add_argument("input", type=Path, help="a .csv or .parquet file of leads or people")
    dd.add_argument("--out", type=Path, required=True, help="parquet: id column + entity_id")
    dd.add_argument("--spec", default="leads", help="leads | person | path to a spec YAML")
    dd.add_argument("--id-column", help="the input's record id column (default: row numbers)")
    dd.add_argument("--threshold", type=float, help="match probability needed to link")
    dd.add_argument("--explain", nargs=2, metavar=("ID1", "ID2"), help="explain one pair")
    dd.add_argument(
        "--review-export",
        type=Path,
        metavar="PAIRS.csv",
        help="write up to N pairs most worth a label (left_id, right_id, both records' compared "
        "fields, match weight, an empty label) to fill in and pass back with --labels",
    )
    dd.add_argument(
        "--review-size", type=int, default=50, metavar="N", help="pairs in --review-export"
    )
    dd.add_argument(
        "--labels",
        type=Path,
        metavar="LABELS.csv",
        help="labels for this run (left_id, right_id, label: match, no_match or unsure)",
    )


def run_file(args: argparse.Namespace) -> int:
    from pipeline.dedupe import dedupe
    from pipeline.dedupe.explain import explain_pair
    from pipeline.dedupe.prepare import prepared_source

    progress = _progress(time.perf_counter())
    try:
        spec = load_spec(args.spec)
        labels = read_labels_csv(args.labels) if args.labels else None
        if args.review_size < 1:
            raise ValueError("--review-size must be at least 1")
        progress(f"reading {args.input}")
        source, id_col = prepared_source(args.input, spec, args.id_column, progress)
        try:
            result = dedupe(
                source,
                spec,
                id_column=id_col,
                threshold=args.threshold,
                progress=progress,
                # Explaining and reviewing pairs need the fingerprints.
                keep_work=bool(args.explain or args.review_export),
                labels=labels,
                # The file written is the entities; golden records would be made for nothing.
                golden=False,
            )
        except ValueError as exc:  # about the input's rows: the file is named
            raise ValueError(f"{Path(args.input).name}: {exc}") from exc
    except (SpecError, LabelError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.entities.write_parquet(args.out)
    records = result.entities.height
    entity_count = result.report["entities"]
    progress(
        f"wrote {args.out}: {records:,} records -> {entity_count:,} entities "
        f"({records - entity_count:,} duplicates merged)"
    )
    if labels is not None:
        progress(f"labels: {_label_summary(result.report.get('labels', {}))}")
    if args.review_export:
        review = ReviewSource.from_result(result)
        chosen = choose_pairs(review, args.review_size, labels)
        write_review_csv(explained(review, chosen), args.review_export)
        progress(
            f"wrote {args.review_export}: {chosen.height} pairs to label (fill in `label` "
            "with match, no_match or unsure, then pass it back with --labels)"
        )
    if args.explain:
        try:
            print(explain_pair(result, *args.explain).render())
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
    return 0


def _label_summary(report: dict) -> str:
    if not report:
        return "none"
    text = (
        f"{report.get('labels', 0)} given, {report.get('must_link', 0)} must-link, "
        f"{report.get('cannot_link', 0)} cannot-link"
    )
    if report.get("labels_about_other_records"):
        text += f", {report['labels_about_other_records']} about records not in this table"
    learned = report.get("learned")
    if learned:
        text += f"; threshold {learned['threshold_before']:.6g} -> {learned['threshold_after']:.6g}"
        if learned.get("threshold_wanted"):
            text += (
                f" (the labels called for {learned['threshold_wanted']:.6g}; labels move it at "
                f"most {MAX_THRESHOLD_MOVE:g} bit of log-odds)"
            )
        text += (
            f", labelled pairs on the wrong side {learned['disagreements_before']} -> "
            f"{learned['disagreements_after']}"
        )
    return text


# --- review against the warehouse ----------------------------------------------------------


def review_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline dedupe review",
        description="Label the pairs the last dedupe run was least sure of (match / no match / "
        "unsure), each explained field by field. Labels go to the operational store "
        "(LEADS_DATABASE_URL) and every later dedupe run honours them.",
    )
    parser.add_argument("--size", type=int, default=20, help="pairs to present (default 20)")
    parser.add_argument(
        "--export", type=Path, metavar="PAIRS.csv", help="write the pairs to a CSV instead"
    )
    parser.add_argument(
        "--import",
        dest="import_csv",
        type=Path,
        metavar="LABELS.csv",
        help="store the labels of a filled-in CSV (left_id, right_id, label)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the stored labels as CSV and stop"
    )
    parser.add_argument("--by", default=None, help="who is labelling (default: the OS user)")
    return parser


def _read_table(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    exists = con.sql(
        "select count(*) from information_schema.tables where table_schema = $s and "
        "table_name = $t",
        params={"s": WAREHOUSE_SCHEMA, "t": table},
    ).fetchall()[0][0]
    if not exists:
        raise LookupError(
            f"the warehouse has no {table!r} table yet: run the dedupe assets first "
            "(make demo, or dedupe_job in the Dagster UI)"
        )
    return con.sql(f'select * from "{WAREHOUSE_SCHEMA}"."{table}"').pl()


def review_tables(path: Path) -> ReviewSource:
    """The last run's pairs, entities and model (no record values yet: `with_records`)."""
    if not path.exists():
        raise LookupError(f"no warehouse at {path}: run `make demo` (or set LEADS_DATA_DIR)")
    with duckdb.connect(str(path), read_only=True) as con:
        model = _read_table(con, "dedupe_model")
        pairs = _read_table(con, "dedupe_pairs")
        entities = _read_table(con, "lead_entities")
    spec = load_spec(model["spec"][0])
    return ReviewSource.from_tables(
        spec,
        pairs,
        entities,
        pl.DataFrame({spec.id_column: []}, schema={spec.id_column: pl.String}),
        json.loads(model["model_json"][0]),
        float(model["threshold"][0]),
    )


def with_records(path: Path, review: ReviewSource, ids: pl.Series) -> ReviewSource:
    """`review` with the compared values of the records `ids` (leads, and the CRM's contacts
    when the CRM is read as a source), read from the warehouse."""
    id_col = review.spec.id_column
    with duckdb.connect(str(path), read_only=True) as con:
        con.register("wanted", ids.cast(pl.String).to_frame(id_col))
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [WAREHOUSE_SCHEMA],
            ).fetchall()
        }
        normalized, crm, fingerprints = (
            con.sql(
                f'select t.* from "{WAREHOUSE_SCHEMA}"."{table}" t '
                f'semi join wanted w on t."{id_col}"::varchar = w."{id_col}"'
            ).pl()
            if table in present
            else None
            for table in ("normalized_leads", "crm_leads", "lead_fingerprints")
        )
    assert normalized is not None and fingerprints is not None
    if crm is not None and not crm.is_empty():
        normalized = pl.concat([normalized, crm], how="diagonal_relaxed")
    return with_values(review, records_with_fingerprints(normalized, fingerprints, id_col, ids))


def run_review(argv: list[str]) -> int:
    from pipeline.store import open_store
    from pipeline.store.dedupe_labels import load_labels, save_labels

    args = review_parser().parse_args(argv)
    settings = load_settings()
    who = args.by or getpass.getuser()
    try:
        store = open_store(settings.store_url)
        if args.list:
            print(load_labels(store).write_csv(), end="")
            return 0
        if args.import_csv:
            labels = read_labels_csv(args.import_csv)
            saved = save_labels(store, labels, who, source="csv")
            print(f"stored {saved} label(s) from {args.import_csv}; the next dedupe run uses them")
            return 0
        if args.size < 1:
            raise ValueError("--size must be at least 1")
        review = review_tables(settings.warehouse_path)
        pairs = choose_pairs(review, args.size, load_labels(store))
        review = with_records(settings.warehouse_path, review, pair_ids(pairs))
        chosen = explained(review, pairs)
    except (LookupError, LabelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if chosen.is_empty():
        print("nothing to review: no unlabelled pair near the threshold")
        return 0
    if args.export:
        write_review_csv(chosen, args.export)
        print(
            f"wrote {chosen.height} pair(s) to {args.export}; fill in `label` (match, no_match, "
            f"unsure) and store them with: python -m pipeline dedupe review --import {args.export}"
        )
        return 0

    def save(left: str, right: str, label: str, weight: float) -> None:
        frame = pl.DataFrame(
            {"left_id": [left], "right_id": [right], "label": [label], "match_weight": [weight]}
        )
        save_labels(store, frame, who, source="terminal")

    print(
        f"{chosen.height} pair(s) the model is least sure of (threshold {review.threshold}); "
        "each answer is stored at once."
    )
    counts = review_in_terminal(chosen, review.spec, review.threshold, save)
    done = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    print(f"\nstored: {done or 'nothing'}. The next dedupe run honours them (must-link / "
          "cannot-link) and learns from them.")  # fmt: skip
    return 0
