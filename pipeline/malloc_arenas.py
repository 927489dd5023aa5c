"""One glibc malloc arena for the whole process.

glibc gives a thread that finds the allocator busy an arena of its own (up to eight per
core). The dedupe engine's thread pools (comparisons, vetoes, term frequencies, golden
fields) allocate and free numpy arrays of tens of MB from short-lived threads, and memory
freed in one arena is not reused by a thread of another: at 1M leads the peak resident
size was 1.29-1.56 GB with the default and 1.13-1.35 GB with one arena, on every lead set,
and the runs were no slower (`benchmarks/dedupe/README.md`). polars allocates through its
own allocator and is not affected.

The cap holds for threads that first allocate after it: arenas made before stay in use
(capped after a first polars scan had run, the 1M peak stayed at 1.50-1.57 GB against
1.27-1.35 GB capped first). So `python -m pipeline` calls this before anything else, and
`make dev` starts Dagster with `MALLOC_ARENA_MAX=1` in the environment, which every Dagster
process (webserver, daemon, code server, run worker) inherits and glibc reads at start; the
code location calls this too when it loads, for deployments started without it. It is not
done on import of the engine: a program that calls `dedupe()` itself decides for its own
process. A `MALLOC_ARENA_MAX` set in the environment is left as it is.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


def use_one_malloc_arena() -> bool:
    """Cap glibc's malloc at one arena from now on. False where there is nothing to do: a
    C library other than glibc (macOS, musl), or `MALLOC_ARENA_MAX` set by the user."""
    if "MALLOC_ARENA_MAX" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        done = bool(libc.mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError):  # no mallopt to call
        return False
    if not done:
        log.debug("mallopt(M_ARENA_MAX, 1) was refused; malloc keeps its defaults")
    return done
