"""Counting arrivals the way a vendor's rolling rate window counts them."""

from __future__ import annotations


def max_in_window(times: list[float], width: float) -> int:
    """The most timestamps in any half-open window [t, t + width)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
