"""One BLAS thread for the command line's process.

numpy and scipy each load their own OpenBLAS, and each starts a worker thread per core that
spins, waiting for work, for a while after the library loads and after any call. The engine
makes no BLAS call worth a second thread (dot products over a few thousand gamma patterns;
a logistic regression over at most a few hundred labels), and the spinning takes a core from
polars: at 1M leads, 2.2 % of the CPU samples of a run were OpenBLAS's idle threads, and
the run's CPU time was 15.5 s with one BLAS thread against 16.0 s without (medians of six
alternating runs, `benchmarks/dedupe/README.md`).

OpenBLAS reads `OPENBLAS_NUM_THREADS` when it loads, so this must run before numpy is
imported; `python -m pipeline` calls it first. A thread count the user set
(`OPENBLAS_NUM_THREADS` or `OMP_NUM_THREADS`) is left as it is.
"""

from __future__ import annotations

import os
import sys

_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def use_one_blas_thread() -> bool:
    """Ask OpenBLAS for one thread. False where it is too late (numpy already loaded) or the
    user chose a count."""
    if "numpy" in sys.modules or any(name in os.environ for name in _SETTINGS):
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return True
