"""One glibc malloc arena for the process (`pipeline.malloc_arenas`), observed through glibc's
own per-arena statistics in a fresh interpreter."""

from __future__ import annotations

import platform

import pytest

from pipeline.malloc_arenas import use_one_malloc_arena
from tests.fresh_interpreter import run_python

# Threads that each allocate and free numpy arrays at once, then glibc's statistics (one
# "Arena N:" block per arena, on stderr).
_THREADS_THEN_STATS = """
import ctypes, sys, threading
import numpy as np
from pipeline.malloc_arenas import use_one_malloc_arena
if sys.argv[1] == "one":
    assert use_one_malloc_arena()
start = threading.Barrier(4)
def work():
    start.wait()
    for _ in range(50):
        np.ones(300_000).sum()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()
"""

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's"
)


def _arenas(mode: str) -> int:
    done = run_python(_THREADS_THEN_STATS, mode, unset=("MALLOC_ARENA_MAX",))
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@glibc_only
def test_threads_share_one_arena_once_capped():
    assert _arenas("default") > 1  # each thread gets its own without the cap
    assert _arenas("one") == 1


def test_an_arena_limit_set_by_the_user_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert use_one_malloc_arena() is False
