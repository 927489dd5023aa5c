"""`RollingWindow` keeps the server's count under the limit even when requests are slow to
arrive (a permit stamped at grant time, pyrate-limiter's way, does not: see
benchmarks/crm/README.md)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from pipeline.ratelimit import RollingWindow
from tests.fakes.windows import max_in_window

LIMIT, SECONDS = 5, 0.4
LINGER = 0.08  # longer than a 50 ms permit buffer


def send(
    slot: Callable[[], AbstractContextManager[Any]],
    arrivals: list[float],
    linger: Callable[[int], float],
    n: int,
) -> None:
    """`n` requests; request i lingers `linger(i)` seconds before the server sees it."""
    for i in range(n):
        with slot():
            time.sleep(linger(i))
            arrivals.append(time.monotonic())
            time.sleep(0.002)  # the server's answer


def now_and_then(i: int) -> float:
    """Request 0 lingers and request LIMIT, its window's successor, does not; and so on."""
    return LINGER if i % (LIMIT + 1) == 0 else 0.0


def test_the_server_never_counts_more_than_the_limit() -> None:
    arrivals: list[float] = []
    send(RollingWindow(LIMIT, SECONDS).slot, arrivals, now_and_then, 3 * LIMIT + 1)
    assert max_in_window(arrivals, SECONDS) == LIMIT


def test_concurrent_callers_share_the_window() -> None:
    window = RollingWindow(LIMIT, SECONDS)
    arrivals: list[float] = []
    lingers = [random.Random(seed).choice for seed in range(3)]
    threads = [
        threading.Thread(
            target=send, args=(window.slot, arrivals, lambda _i, c=choice: c((0, LINGER)), 4)
        )
        for choice in lingers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arrivals) == 12
    assert max_in_window(arrivals, SECONDS) <= LIMIT


def test_a_full_window_waits_for_the_oldest_answer_to_age_out() -> None:
    window = RollingWindow(2, SECONDS)
    start = time.monotonic()
    for _ in range(3):
        with window.slot():
            pass
    assert time.monotonic() - start >= SECONDS
