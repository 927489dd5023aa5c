"""Python code run in a fresh interpreter: process-wide settings (malloc arenas, BLAS
threads) are read once, when a library loads, so they are observed in a process of their
own."""

from __future__ import annotations

import os
import subprocess
import sys


def run_python(
    code: str, *args: str, unset: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`code` run with `args`, this environment less `unset` plus `env`; fails on a non-zero
    exit."""
    environment = {k: v for k, v in os.environ.items() if k not in unset} | (env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
