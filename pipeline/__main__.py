"""Command line: `python -m pipeline demo | summary | dedupe [review] | webhooks | score-fit`."""

from __future__ import annotations

import argparse
import sys

from pipeline.config import load_settings
from pipeline.dedupe import cli as dedupe_cli
from pipeline.scoring import learn as score_fit
from pipeline.summary import summarize
from pipeline.webhooks import cli as webhooks_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "demo",
        help="materialize the ingest assets for every arrival day in the lead source, "
        "through Dagster, on the persistent instance, then print a summary",
    )
    sub.add_parser("summary", help="print what the warehouse holds")
    dd = sub.add_parser(
        "dedupe",
        help="resolve the rows of a CSV or parquet file to entities (the dedupe core alone); "
        "`dedupe review` labels the last run's least-sure pairs",
    )
    dedupe_cli.add_file_arguments(dd)
    webhooks_cli.add_parser(sub)
    fit = sub.add_parser("score-fit", help="learn the ICP's points from historical outcomes")
    score_fit.add_arguments(fit)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["dedupe", "review"]:
        return dedupe_cli.run_review(argv[2:])
    args = parser.parse_args(argv)
    if args.command == "dedupe":
        return dedupe_cli.run_file(args)
    if args.command == "webhooks":
        return webhooks_cli.run(args)
    if args.command == "score-fit":
        return score_fit.run(args)

    settings = load_settings()
    if args.command == "demo":
        from pipeline.definitions import run_ingest_for_all_arrivals  # the Dagster layer

        if not run_ingest_for_all_arrivals(settings):
            return 1
    print(summarize(settings.warehouse_path).render())
    if args.command == "demo":
        print("\nNext: `make dev` opens the Dagster UI (lineage, runs, checks, backfills).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
