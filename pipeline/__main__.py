"""Command line: `python -m pipeline demo | summary | dedupe [review] | webhooks | drive |
score-fit | pause-all | resume-all | sql | outreach | agent | monitoring | crm merges`."""

from __future__ import annotations

from pipeline.blas_threads import use_one_blas_thread
from pipeline.malloc_arenas import use_one_malloc_arena

# First, before numpy's and polars' threads exist: arenas made before the cap stay in use,
# and OpenBLAS reads its thread count when numpy loads it.
use_one_malloc_arena()
use_one_blas_thread()

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

from pipeline.config import ConfigError, load_settings
from pipeline.dedupe import cli as dedupe_cli


def main(argv: list[str] | None = None) -> int:
    # Dagster's notices about its own beta parameters are for us, not for the terminal.
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _main(argv)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one paragraph for a person; the traceback goes to a log file
        return _crashed(exc, argv)


def _crashed(exc: Exception, argv: list[str]) -> int:
    """Tell a crash as one paragraph (what, where, why, what to do) and keep the traceback
    under LEADS_DATA_DIR/logs/ (LEADS_DEBUG=1 prints it instead)."""
    from pipeline.failures import record_crash, service_hints

    if os.environ.get("LEADS_DEBUG"):
        raise exc
    command = " ".join(a for a in argv[:2] if not a.startswith("-"))
    try:
        settings = load_settings()
        logs, hints = settings.data_dir / "logs", service_hints(settings)
    except ConfigError:
        logs, hints = Path(tempfile.gettempdir()) / "lead-pipeline-logs", ({}, {})
    failure = record_crash(exc, command, logs)
    print(failure.paragraph(*hints), file=sys.stderr)
    return 1


def _dedupe(argv: list[str]) -> int:
    """`dedupe [review] ...` with only the dedupe core's imports: the other commands'
    modules (the store, the warehouse's marts, the outreach and CRM layers) were 0.45 s of
    every run of the core on a file."""
    if argv[:1] == ["review"]:
        return dedupe_cli.run_review(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m pipeline dedupe", description=_DEDUPE_HELP)
    dedupe_cli.add_file_arguments(parser)
    return dedupe_cli.run_file(parser.parse_args(argv))


_DEDUPE_HELP = (
    "resolve the rows of a CSV or parquet file to entities (the dedupe core alone); "
    "`dedupe review` labels the last run's least-sure pairs"
)


def _main(argv: list[str]) -> int:
    if argv[:1] == ["dedupe"]:
        return _dedupe(argv[1:])
    from pipeline import operations_cli
    from pipeline.agent import cli as agent_cli
    from pipeline.crm import cli as crm_cli
    from pipeline.drive import cli as drive_cli
    from pipeline.marts import cli as sql_cli
    from pipeline.monitoring import cli as monitoring_cli
    from pipeline.outreach import cli as outreach_cli
    from pipeline.scoring import learn as score_fit
    from pipeline.summary import summarize
    from pipeline.webhooks import cli as webhooks_cli

    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "demo",
        help="materialize the ingest assets for every arrival day in the lead source, "
        "through Dagster, on the persistent instance, then print a summary",
    )
    sub.add_parser("summary", help="print what the warehouse holds")
    dedupe_cli.add_file_arguments(sub.add_parser("dedupe", help=_DEDUPE_HELP))
    webhooks_cli.add_parser(sub)
    operations_cli.add_parser(sub)
    sql_cli.add_parser(sub)
    outreach_cli.add_parser(sub)
    drive_cli.add_parser(sub)
    agent_cli.add_parser(sub)
    monitoring_cli.add_parser(sub)
    crm_cli.add_parser(sub)
    fit = sub.add_parser("score-fit", help="learn the ICP's points from historical outcomes")
    score_fit.add_arguments(fit)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None:  # commands that registered their own runner
        return args.func(args)
    if args.command == "webhooks":
        return webhooks_cli.run(args)
    if args.command == "score-fit":
        return score_fit.run(args)

    settings = load_settings()
    if args.command == "demo":
        from pipeline.agent.demo import demo_settings
        from pipeline.crm.demo import demo_settings as crm_demo_settings

        settings, notes = demo_settings(settings)
        settings, crm_notes = crm_demo_settings(settings)
        for note in notes + crm_notes:
            print(note)
        from pipeline.definitions import build_definitions  # the Dagster layer
        from pipeline.definitions.runner import run_demo

        # A source that cannot be listed (Drive refusing, a missing folder) ends, like any
        # crash, in one paragraph from main().
        failure = run_demo(settings, build_definitions(settings))
        if failure is not None:
            from pipeline.failures import service_hints

            print(f"\n{failure.paragraph(*service_hints(settings))}", file=sys.stderr)
            return 1
    print(summarize(settings.warehouse_path).render())
    if args.command == "demo" and settings.email_send_mode == "draft_only":
        from pipeline.outreach.preview import plan_text
        from pipeline.store import open_store

        print("\n" + plan_text(open_store(settings.store_url), settings.email_send_mode))
    if args.command == "demo":
        from pipeline.agent.demo import demo_text, sample_forms

        ids = [sub.conversion_id for _, sub in sample_forms()]  # type: ignore[attr-defined]
        print("\n" + demo_text(settings, ids))
        from pipeline.crm.demo import demo_text as crm_demo_text

        print("\n" + crm_demo_text(settings))
        from pipeline.monitoring.preview import demo_previews

        print("\n" + demo_previews(settings))
        print("\nNext: `make dev` opens the Dagster UI (lineage, runs, checks, backfills).")
    return 0


def cli() -> None:
    """`python -m pipeline` and the `leads` script: main(), then a quick exit."""
    from pipeline.shutdown import skip_final_collection

    code = main()
    skip_final_collection()
    sys.exit(code)


if __name__ == "__main__":
    cli()
