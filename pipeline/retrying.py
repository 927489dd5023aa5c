"""Retry timing shared by every HTTP client here: exponential backoff with jitter (tenacity),
never sooner than what the server asked for (`Retry-After`, or a rate-limit window)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState, wait_exponential_jitter


class TransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's minimum wait in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class WaitRespectingRetryAfter:
    """A tenacity `wait`: exponential backoff with jitter, at least the server's wait."""

    def __init__(self, max_backoff: float, initial: float = 0.25) -> None:
        self._backoff = wait_exponential_jitter(initial=initial, max=max_backoff, jitter=initial)

    def __call__(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return max(backoff, error.retry_after)
        return backoff
