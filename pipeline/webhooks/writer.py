"""Group commit for the receiver: many requests, one transaction, every 2xx after its commit.

Each request hands its events to a single writer thread and waits. The writer takes everything
that queued up while the previous transaction was committing and writes it in one transaction,
then wakes all those requests. Under load that turns thousands of fsyncs per second into tens,
without ever answering before the data is on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from pipeline.store.inbox import InboxEvent, accept_events

log = logging.getLogger("pipeline.webhooks")

MAX_BATCH_REQUESTS = 500


@dataclass
class _Work:
    events: list[InboxEvent]
    rejections: Counter[tuple[date, str, str]]
    done: Future[set[str]] = field(default_factory=Future)


def claim_new(batch: list[_Work], inserted: set[str]) -> list[set[str]]:
    """Each request's share of the rows the transaction inserted: a fingerprint two requests
    in one batch both carried is new for the first (in queue order) only, so the second
    delivery is answered as the duplicate it is."""
    claimed: set[str] = set()
    shares = []
    for work in batch:
        mine = {e.fingerprint for e in work.events if e.fingerprint in inserted} - claimed
        claimed |= mine
        shares.append(mine)
    return shares


class InboxWriter:
    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH_REQUESTS) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.Queue[_Work | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    def submit(
        self,
        events: list[InboxEvent],
        rejections: Counter[tuple[date, str, str]] | None = None,
    ) -> Future[set[str]]:
        """Queue events (and/or rejection counts); the future resolves after the commit with
        the fingerprints this request added, or fails if the transaction failed."""
        work = _Work(events, rejections or Counter())
        self._queue.put(work)
        return work.done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Work]) -> None:
        events = [e for work in batch for e in work.events]
        rejections: Counter[tuple[date, str, str]] = Counter()
        for work in batch:
            rejections.update(work.rejections)
        try:
            inserted = accept_events(self._engine, events, rejections)
        except Exception as exc:
            log.error("inbox write failed for %d events: %s", len(events), type(exc).__name__)
            for work in batch:
                work.done.set_exception(exc)
            return
        for work, new in zip(batch, claim_new(batch, inserted), strict=True):
            work.done.set_result(new)
