"""HTTP for the news sources: httpx, retries with backoff (tenacity, never sooner than the
server's Retry-After), the kill switch before each paid call, and every answer archived.

What a status means is the provider's business (`classify`): a 429 may be "slow down"
(retried) or "your daily quota is spent" (not retried: the source stops for this run and
says so); 401/403 are a refused key; 5xx and timeouts are retried.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from pipeline.monitoring.config import Source
from pipeline.monitoring.sources import (
    AuthRefused,
    QuotaExhausted,
    RawArchiveLike,
    SourceError,
    SourceReport,
)
from pipeline.retrying import TransientError, WaitRespectingRetryAfter, retry_after_seconds

# (response) -> None when fine, else an exception to raise (TransientError to retry).
Classifier = Callable[[httpx.Response], Exception | None]


def default_classify(
    response: httpx.Response, who: str, key_variable: str | None
) -> Exception | None:
    status = response.status_code
    if status in (401, 403):
        where = f" (check {key_variable})" if key_variable else ""
        return AuthRefused(f"{who}: HTTP {status}: the credentials were refused{where}")
    if status == 429 or status >= 500:
        return TransientError(
            f"{who}: HTTP {status}", retry_after_seconds(response.headers.get("retry-after"))
        )
    if status >= 400:
        return SourceError(f"{who}: HTTP {status}: {response.text[:300]}")
    return None


class HttpFetcher:
    """One source's HTTP client: GET with retries, each answer archived and counted."""

    def __init__(
        self,
        source: Source,
        archive: RawArchiveLike,
        day: date,
        report: SourceReport,
        pause_check: Callable[[], None] | None,
        classify: Classifier,
        client: httpx.Client | None = None,
    ) -> None:
        self.source = source
        self.archive = archive
        self.day = day
        self.report = report
        self.pause_check = pause_check
        self.classify = classify
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(source.timeout_seconds),
            follow_redirects=True,
            headers={"User-Agent": "lead-pipeline-monitoring/1.0"},
        )

    def close(self) -> None:
        self.client.close()

    def _attempt(self, url: str, params: dict, headers: dict) -> httpx.Response:
        if self.pause_check is not None:
            self.pause_check()  # the kill switch, before each paid call
        self.report.requests += 1
        try:
            response = self.client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            self.report.http["timeout"] += 1
            raise TransientError(
                f"{self.source.name}: timed out after {self.source.timeout_seconds} s"
            ) from None
        except httpx.TransportError as exc:
            self.report.http["transport_error"] += 1
            raise TransientError(f"{self.source.name}: {type(exc).__name__}: {exc}") from None
        self.report.http[str(response.status_code)] += 1
        problem = self.classify(response)
        self.archive.keep(
            self.source.name,
            self.day,
            response.content,
            request=str(response.request.url),
            status=response.status_code,
            kind=self.source.type,
            error=str(problem) if problem else None,
        )
        if problem is not None:
            raise problem
        return response

    def get(
        self, url: str, params: dict | None = None, headers: dict | None = None
    ) -> httpx.Response:
        """The answer, after up to `max_attempts` tries on transient errors; raises
        SourceError (QuotaExhausted, AuthRefused) when the source cannot go on."""

        def count_retry(_state) -> None:  # type: ignore[no-untyped-def]
            self.report.retries += 1

        retrying = Retrying(
            stop=stop_after_attempt(self.source.max_attempts),
            wait=WaitRespectingRetryAfter(self.source.max_backoff_seconds),
            retry=retry_if_exception_type(TransientError),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, params or {}, headers or {})
        except TransientError as exc:
            raise SourceError(f"{exc} (after {self.source.max_attempts} attempts)") from None


__all__ = ["AuthRefused", "HttpFetcher", "QuotaExhausted", "SourceError", "default_classify"]
