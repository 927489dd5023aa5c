"""Command line: `python -m pipeline demo | summary | dedupe | webhooks | score-fit |
pause-all | resume-all | sql | outreach | monitoring`."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from pipeline import operations_cli
from pipeline.config import ConfigError, load_settings
from pipeline.marts import cli as sql_cli
from pipeline.monitoring import cli as monitoring_cli
from pipeline.outreach import cli as outreach_cli
from pipeline.scoring import learn as score_fit
from pipeline.summary import summarize
from pipeline.webhooks import cli as webhooks_cli


def run_dedupe(args: argparse.Namespace) -> int:
    from pipeline.dedupe import SpecError, dedupe, load_spec
    from pipeline.dedupe.explain import explain_pair
    from pipeline.dedupe.prepare import prepared_source

    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.2f}s] {message}", file=sys.stderr, flush=True)

    try:
        spec = load_spec(args.spec)
        progress(f"reading {args.input}")
        source, id_col = prepared_source(args.input, spec, args.id_column)
        result = dedupe(
            source,
            spec,
            id_column=id_col,
            threshold=args.threshold,
            progress=progress,
            keep_work=bool(args.explain),  # explaining a pair needs the fingerprints
        )
    except (SpecError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.entities.write_parquet(args.out)
    records = result.entities.height
    merged = records - result.golden.height
    progress(
        f"wrote {args.out}: {records:,} records -> {result.golden.height:,} entities "
        f"({merged:,} duplicates merged)"
    )
    if args.explain:
        try:
            print(explain_pair(result, *args.explain).render())
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    # Dagster's notices about its own beta parameters are for us, not for the terminal.
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    try:
        return _main(argv)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
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
        help="resolve the rows of a CSV or parquet file to entities (the dedupe core alone)",
    )
    dd.add_argument("input", type=Path, help="a .csv or .parquet file of leads or people")
    dd.add_argument("--out", type=Path, required=True, help="parquet: id column + entity_id")
    dd.add_argument("--spec", default="leads", help="leads | person | path to a spec YAML")
    dd.add_argument("--id-column", help="the input's record id column (default: row numbers)")
    dd.add_argument("--threshold", type=float, help="match probability needed to link")
    dd.add_argument("--explain", nargs=2, metavar=("ID1", "ID2"), help="explain one pair")
    webhooks_cli.add_parser(sub)
    operations_cli.add_parser(sub)
    sql_cli.add_parser(sub)
    outreach_cli.add_parser(sub)
    monitoring_cli.add_parser(sub)
    fit = sub.add_parser("score-fit", help="learn the ICP's points from historical outcomes")
    score_fit.add_arguments(fit)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None:  # commands that registered their own runner
        return args.func(args)
    if args.command == "dedupe":
        return run_dedupe(args)
    if args.command == "webhooks":
        return webhooks_cli.run(args)
    if args.command == "score-fit":
        return score_fit.run(args)

    settings = load_settings()
    if args.command == "demo":
        from pipeline.definitions import build_definitions  # the Dagster layer
        from pipeline.definitions.runner import run_demo

        failure = run_demo(settings, build_definitions(settings))
        if failure is not None:
            hubspot = settings.hubspot_base_url or "https://api.hubapi.com"
            paragraph = failure.paragraph(
                {"HUBSPOT_BASE_URL": hubspot}, {"HubSpot": "HUBSPOT_ACCESS_TOKEN"}
            )
            print(f"\n{paragraph}", file=sys.stderr)
            return 1
    print(summarize(settings.warehouse_path).render())
    if args.command == "demo" and settings.email_send_mode == "draft_only":
        from pipeline.outreach.preview import plan_text
        from pipeline.store import open_store

        print("\n" + plan_text(open_store(settings.store_url), settings.email_send_mode))
    if args.command == "demo":
        from pipeline.monitoring.preview import demo_previews

        print("\n" + demo_previews(settings))
        print("\nNext: `make dev` opens the Dagster UI (lineage, runs, checks, backfills).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
