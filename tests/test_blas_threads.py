"""One OpenBLAS thread for the command line (`pipeline.blas_threads`), observed as the
threads a fresh interpreter has once numpy and scipy are loaded."""

from __future__ import annotations

import os

import pytest

from pipeline.blas_threads import use_one_blas_thread
from tests.fresh_interpreter import run_python

# The interpreter's threads (Linux: one directory per thread) after loading numpy and scipy,
# each with its own OpenBLAS.
_THREADS_AFTER_LOADING = """
import os, sys
from pipeline.blas_threads import use_one_blas_thread
if sys.argv[1] == "one":
    assert use_one_blas_thread()
import numpy
import scipy.sparse.csgraph
print(len(os.listdir("/proc/self/task")))
"""

linux_on_two_cores = pytest.mark.skipif(
    not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
    reason="counts threads in /proc; OpenBLAS starts none more on one core",
)


_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def _threads(mode: str) -> int:
    return int(run_python(_THREADS_AFTER_LOADING, mode, unset=_SETTINGS).stdout.strip())


@linux_on_two_cores
def test_numpy_and_scipy_start_no_blas_threads_once_asked_for_one():
    assert _threads("default") > _threads("one")
    assert _threads("one") == 1


def test_a_thread_count_the_user_set_is_left_alone():
    snippet = (
        "import os; from pipeline.blas_threads import use_one_blas_thread; "
        "print(use_one_blas_thread(), os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    for name in _SETTINGS:
        done = run_python(snippet, unset=_SETTINGS, env={name: "2"})
        expected = "2" if name == "OPENBLAS_NUM_THREADS" else "None"
        assert done.stdout.split() == ["False", expected]


def test_it_is_too_late_once_numpy_is_loaded(monkeypatch):
    import numpy  # noqa: F401  (OpenBLAS has read its setting)

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert not use_one_blas_thread()
    assert "OPENBLAS_NUM_THREADS" not in os.environ
