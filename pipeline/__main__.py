"""Command line: `python -m pipeline demo | summary`."""

from __future__ import annotations

import argparse
import sys

from pipeline.config import load_settings
from pipeline.summary import summarize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "demo",
        help="materialize the ingest assets for every arrival day in the lead source, "
        "through Dagster, on the persistent instance, then print a summary",
    )
    sub.add_parser("summary", help="print what the warehouse holds")
    args = parser.parse_args(argv)

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
