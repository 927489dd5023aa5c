"""`python -m pipeline pause-all | resume-all`: the kill switch from the terminal.

The Dagster layer (the instance, the code location's sensors and schedules) is imported only
when a command runs, so `pipeline` stays importable without Dagster.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys

from pipeline.config import load_settings
from pipeline.store import open_store


def who() -> str:
    """Who runs a command, for the audit log when `--by` is not given: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def add_parser(sub: argparse._SubParsersAction) -> None:
    for name, what, func in (
        (
            "pause-all",
            "stop every side effect now: runs in flight stop before their next "
            "write; every running sensor and schedule is turned off (remembered)",
            run_pause,
        ),
        (
            "resume-all",
            "turn side effects back on, and the sensors and schedules pause-all "
            "turned off (only those)",
            run_resume,
        ),
    ):
        parser = sub.add_parser(name, help=what)
        parser.add_argument("--reason", help="why, for the audit log and the UI")
        parser.add_argument("--by", default=None, help="who (default: user@host)")
        parser.set_defaults(func=func)


def _switch(args: argparse.Namespace, pausing: bool) -> int:
    from dagster import DagsterInstance

    from pipeline.definitions.kill_switch import pause_all, resume_all

    if not os.environ.get("DAGSTER_HOME"):
        print(
            "DAGSTER_HOME is not set: run `make pause-all` / `make resume-all`, or export "
            "DAGSTER_HOME as `make dev` does (the Dagster instance whose sensors to switch)",
            file=sys.stderr,
        )
        return 2
    engine = open_store(load_settings().store_url)
    with DagsterInstance.get() as instance:
        switch = pause_all if pausing else resume_all
        report = switch(engine, instance, args.by or who(), args.reason)
    print(report.render())
    return 0


def run_pause(args: argparse.Namespace) -> int:
    return _switch(args, pausing=True)


def run_resume(args: argparse.Namespace) -> int:
    return _switch(args, pausing=False)
