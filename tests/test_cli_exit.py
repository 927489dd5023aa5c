"""The command line's quick exit (pipeline/shutdown.py) keeps each command's exit status
and its last output."""

from __future__ import annotations

import subprocess
import sys


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_a_configuration_error_still_exits_with_status_2_and_says_why():
    done = _run("summary", LEADS_DEFAULT_COUNTRY="Narnia")
    assert done.returncode == 2
    assert "configuration error" in done.stderr and "LEADS_DEFAULT_COUNTRY" in done.stderr


def test_a_successful_command_prints_everything_and_exits_0(tmp_path):
    done = _run("summary", LEADS_DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("Leads normalized:")
