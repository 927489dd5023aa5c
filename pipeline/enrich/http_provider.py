"""One HTTP enrichment provider: rate window, retries, circuit breaker and timeouts around httpx.

Every request holds a slot in the provider's rate window (`pipeline.ratelimit`) until a
window after its answer, so concurrent workers together stay under the vendor's limit.
Transient failures (429, 5xx, timeouts, dropped connections) are retried by tenacity with
exponential backoff and jitter, never sooner than the vendor's `Retry-After`. A lookup that
still fails counts against a circuit breaker (pybreaker); once it opens, the provider is not
called again until it resets and the waterfall reports the rest as not enriched. A 401/403
stops the provider for good: a wrong key is a configuration error, not something to retry.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import pybreaker
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from pipeline.enrich.cache import CachedAnswer
from pipeline.enrich.config import ProviderConfig
from pipeline.ratelimit import RollingWindow
from pipeline.retrying import TransientError as RetryableError
from pipeline.retrying import WaitRespectingRetryAfter, retry_after_seconds
from pipeline.store.sql import utcnow

DEFAULT_PATHS = {"email_finder": "/v5.0/search/person.json", "company": "/v2/companies/find"}
T = TypeVar("T")


class ProviderFailure(Exception):
    """A lookup failed after its retries (or the circuit is open); the row is not enriched."""


class TransientError(ProviderFailure, RetryableError):
    """429, 5xx, a timeout or a dropped connection."""


class AuthError(ProviderFailure):
    """401/403: the key is wrong or lacks access."""


class ResponseShapeError(ProviderFailure):
    """The vendor answered 200 with something we do not understand."""


class CircuitOpen(ProviderFailure):
    pass


class EmailFinderAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    email_verification: str | None = None
    email_confidence: float | None = None

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError(f"not an email address: {value[:60]!r}")
        return value.strip().lower() if value else value


class CompanyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: str | None = None
    industry: str | None = None
    employee_range: str | None = None
    revenue_range: str | None = None
    hq_country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    technologies: list[str] | None = None


ANSWER_MODELS: dict[str, type[BaseModel]] = {
    "email_finder": EmailFinderAnswer,
    "company": CompanyAnswer,
}


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


class _ConcurrentBreaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker, minus its lock around the guarded call: `CircuitBreaker.call` holds
    the breaker's lock for the whole lookup (rate wait, retries and backoff included), so a
    provider made one request at a time whatever its `concurrency`. State changes still take
    the lock, and so does the failure count; HttpProvider runs calls one at a time itself while
    the provider is failing, which keeps pybreaker's half-open single trial."""

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.state.call(func, *args, **kwargs)

    def _inc_counter(self) -> None:
        with self._lock:
            super()._inc_counter()


class HttpProvider:
    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        key: str,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._key = key
        self._url = config.base_url.rstrip("/") + (config.path or DEFAULT_PATHS[config.kind])
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(config.timeout_seconds),
            limits=httpx.Limits(max_connections=config.concurrency * 2),
        )
        self._window = RollingWindow(config.rate.requests, config.rate.per_seconds)
        self._breaker = _ConcurrentBreaker(
            fail_max=config.breaker.fail_max,
            reset_timeout=config.breaker.reset_seconds,
            exclude=[AuthError],
            name=name,
        )
        self._lock = threading.Lock()
        self._gate = threading.Condition()
        self._in_flight = 0
        self.counts: Counter[str] = Counter()  # requests, http_<status>, retries, errors
        self.auth_failed: str | None = None

    def __repr__(self) -> str:  # never the key
        return f"HttpProvider({self.name!r}, {self._url!r})"

    def close(self) -> None:
        self._client.close()

    @property
    def circuit_open(self) -> bool:
        return self._breaker.current_state == pybreaker.STATE_OPEN

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    @contextmanager
    def _slot(self) -> Iterator[None]:
        """Lookups run `concurrency` at a time while the provider is healthy, but one at a time
        once a lookup has failed (until one succeeds): a failing vendor is not hammered by every
        worker, and no new lookup starts while those in flight may still open the breaker."""
        with self._gate:
            while self._in_flight and self._breaker.fail_counter:
                self._gate.wait()
            self._in_flight += 1
        try:
            yield
        finally:
            with self._gate:
                self._in_flight -= 1
                self._gate.notify_all()

    def _headers(self) -> dict[str, str]:
        scheme = self.config.auth_scheme
        return {
            self.config.auth_header: f"{scheme} {self._key}" if scheme else self._key,
            "Accept": "application/json",
        }

    def _request(self, lookup: dict[str, Any]) -> httpx.Response:
        with self._window.slot():
            return self._send(lookup)

    def _send(self, lookup: dict[str, Any]) -> httpx.Response:
        self._count("requests")
        try:
            if self.config.kind == "company":
                return self._client.get(self._url, params=lookup, headers=self._headers())
            return self._client.post(self._url, json=lookup, headers=self._headers())
        except httpx.TimeoutException:
            self._count("timeouts")
            raise TransientError(
                f"{self.name}: timed out after {self.config.timeout_seconds} s"
            ) from None
        except httpx.TransportError as exc:
            self._count("transport_errors")
            raise TransientError(f"{self.name}: {type(exc).__name__}") from None

    def _attempt(self, lookup: dict[str, Any]) -> CachedAnswer:
        response = self._request(lookup)
        status = response.status_code
        self._count(f"http_{status}")
        if status in (401, 403):
            raise AuthError(
                f"{self.name}: HTTP {status}: the API key in ${self.config.api_key_env} was refused"
            )
        if status == 429 or status >= 500:
            raise TransientError(
                f"{self.name}: HTTP {status}",
                retry_after_seconds(response.headers.get("retry-after")),
            )
        if status == 404:
            return CachedAnswer("not_found", {}, utcnow())
        if status in (400, 422):
            # The vendor will not answer this input however often we ask.
            return CachedAnswer("not_found", {"rejected": f"HTTP {status}"}, utcnow())
        if status != 200:
            raise ResponseShapeError(f"{self.name}: unexpected HTTP {status}")
        return self._parse(response, lookup)

    def _parse(self, response: httpx.Response, lookup: dict[str, Any]) -> CachedAnswer:
        try:
            data = response.json()
        except ValueError:
            raise ResponseShapeError(f"{self.name}: answer for {lookup} is not JSON") from None
        if not isinstance(data, dict):
            raise ResponseShapeError(
                f"{self.name}: answer for {lookup} is a JSON {type(data).__name__}, "
                "expected an object"
            )
        mapped = {field: _dig(data, path) for field, path in self.config.field_map.items()}
        try:
            answer = ANSWER_MODELS[self.config.kind].model_validate(mapped)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ResponseShapeError(
                f"{self.name}: answer for {lookup}: field {field!r} "
                f"(from {self.config.field_map.get(field.split('.')[0], '?')!r}): {err['msg']}"
            ) from None
        values = {k: v for k, v in answer.model_dump().items() if v is not None}
        return CachedAnswer("found" if values else "not_found", values, utcnow())

    def _with_retries(self, lookup: dict[str, Any]) -> CachedAnswer:
        retrying = Retrying(
            stop=stop_after_attempt(self.config.max_attempts),
            wait=WaitRespectingRetryAfter(self.config.max_backoff_seconds),
            retry=retry_if_exception_type(TransientError),
            before_sleep=lambda _state: self._count("retries"),
            reraise=True,
        )
        return retrying(self._attempt, lookup)

    def fetch(self, lookup: dict[str, Any]) -> CachedAnswer:
        """The provider's answer for one input; raises ProviderFailure subclasses."""
        if self.auth_failed:
            raise AuthError(self.auth_failed)
        try:
            with self._slot():
                return self._breaker.call(self._with_retries, lookup)
        except pybreaker.CircuitBreakerError:
            self._count("circuit_open")
            raise CircuitOpen(
                f"{self.name}: circuit open after {self.config.breaker.fail_max} failed lookups"
            ) from None
        except AuthError as exc:
            self.auth_failed = str(exc)
            raise
