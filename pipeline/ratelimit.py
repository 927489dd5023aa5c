"""Client-side rate limits that hold as the server counts.

One window serves every HTTP client here (enrichment providers, HubSpot): requests hold a
slot from before they are sent until a full window after their answer. pyrate-limiter was
used first; both benchmarks showed why it was replaced: it stamps a permit when it grants it
(and its blocking wait stamped the planned wake time, up to 130 ms early under load), while a
vendor counts arrivals, so a slow-to-leave request landed in the next window's count and drew
a 429 (benchmarks/enrich: 24 requests in a 20/s second; benchmarks/crm: 191 of 190).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class RollingWindow:
    """At most `limit` requests in any `seconds`-long window, as the server counts them.

    A slot is taken before a request is sent and counts until `seconds` after its answer
    arrived. The server saw the request somewhere in between, so however long it spent in the
    client, the network or the server's queue, the server's window never holds more than
    `limit`. A limiter that stamps a permit when it grants it (pyrate-limiter's, 50 ms buffer)
    does not hold that promise: a request slow to leave a loaded client (GIL, serialization,
    a daily-quota write) lands in the next window's count (benchmarks/crm saw 191 of 190, and
    the 429 and its 10 s back-off made a 100,000-contact sync 20% slower). The cost is one
    round trip per window (~0.1% at 10 ms).
    """

    def __init__(self, limit: int, seconds: float) -> None:
        if limit < 1:
            raise ValueError(f"a rolling window needs a limit of at least 1, not {limit}")
        self.limit = limit
        self.seconds = seconds
        self._answered: deque[float] = deque()
        self._in_flight = 0
        self._changed = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._changed:
            while True:
                now = time.monotonic()
                while self._answered and now - self._answered[0] >= self.seconds:
                    self._answered.popleft()
                if len(self._answered) + self._in_flight < self.limit:
                    break
                oldest = self._answered[0] if self._answered else None
                self._changed.wait(None if oldest is None else self.seconds - (now - oldest))
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._answered.append(time.monotonic())
                self._changed.notify_all()
