"""The HubSpot backend, on the official `hubspot-api-client`.

Requests follow HubSpot's published API specs (tests/contracts/hubspot holds our JSON schemas
of them; tests/test_hubspot_contract.py checks every body the backend sends): company
searches carry `sorts` and `after` from the first page on, batch creates give each input an
`associations` list (empty here: associations go through the v4 batch endpoint). Every batch
method splits its inputs at HubSpot's limits itself (100 records per object batch, 100 values
per search IN filter, `ASSOCIATION_LIMIT` pairs per v4 association batch), whoever calls it.

Every request takes a slot in a client-side rolling window first (the portal's 10-second
limit, 100 or 190 by plan; search endpoints 4 per second) and, when a daily quota is
configured, a unit of the day's counter in the operational store, so concurrent runs,
serialized by the `hubspot_api` Dagster pool, never trip 429s. A slot counts until the window
has passed after the answer came back (see `RollingWindow`), so time a request spends between
permit and HubSpot cannot push HubSpot's count over the limit. 429 and 5xx are still retried
(urllib3's own retry skips POST, and every batch call is a POST). A 429 from the shared
10-second window (another app on the portal spent it) waits what HubSpot's headers say:
`Retry-After` when sent, else the time one slot takes to free at the portal's pace
(`X-HubSpot-RateLimit-Interval-Milliseconds` / `X-HubSpot-RateLimit-Max`), doubling while the
window stays full, never more than the interval. 401 is a configuration error; the daily
quota ends the run (`DailyQuotaReached`); a batch HubSpot refuses whole (400/409) because of
some records is resent without them (the records HubSpot names, else halves), and the
records left alone are reported as rejected with HubSpot's category and message.

The per-batch calls read HubSpot's JSON themselves instead of letting the SDK build response
models: the SDK parses every record's two timestamps with dateutil, ~16 ms per 100-contact
batch, a third of the time one batch may take at 190 requests per 10 s. Request models share
one SDK configuration for the same reason (each model otherwise deep-copies a fresh one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import polars as pl
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.associations.v4 import Configuration as AssociationsConfiguration
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputForCreate as CompanyBatchCreate,
)
from hubspot.crm.companies import Configuration as CompaniesConfiguration
from hubspot.crm.companies import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.companies import SimplePublicObjectBatchInputForCreate as CompanyCreate
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicMergeInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts import Configuration as ContactsConfiguration
from hubspot.crm.properties import ApiException as PropertiesApiException
from sqlalchemy import Engine
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from pipeline.crm.client import (
    BatchResult,
    CrmClient,
    RecordError,
    association_batch,
    contact_batch,
)
from pipeline.crm.enumerations import Option
from pipeline.crm.hubspot_reads import HubSpotReads
from pipeline.crm.hubspot_records import HubSpotRecords
from pipeline.crm.mapping import MappingError
from pipeline.ratelimit import RollingWindow
from pipeline.retrying import TransientError, WaitRespectingRetryAfter, retry_after_seconds
from pipeline.store.spend import try_spend
from pipeline.store.sql import utcnow

HUBSPOT_API = "https://api.hubapi.com"
BATCH_LIMIT = 100  # HubSpot's limit for object batch endpoints (create/update/upsert/read)
# HubSpot's limit for the v4 association batch endpoints' create calls.
ASSOCIATION_LIMIT = 2000
SEARCH_IN_VALUES = 100  # values one IN filter may carry
SEARCH_PAGE = 200  # HubSpot's largest search page
SEARCH_SORTS = ["hs_object_id"]  # a stable order for paging (ascending record id)
SEARCH_PER_SECOND = 4  # HubSpot allows 5 search requests per second per account
RATE_WINDOW_SECONDS = 10.0  # the 10-second window, when HubSpot's headers do not say
# Each SDK module has its own ApiException class, with no common base but Exception.
API_EXCEPTIONS = (
    ApiException,
    CompaniesApiException,
    AssociationsApiException,
    PropertiesApiException,
)


class CrmError(RuntimeError):
    """HubSpot refused a request for a reason retrying will not fix."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        category: str = "",
        detail: str = "",
        ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category or "ERROR"
        self.detail = detail or message
        self.ids = list(ids)


class CrmAuthError(CrmError):
    pass


class DailyQuotaReached(CrmError):
    pass


class RateLimited(TransientError):
    """A 429 from the portal's shared 10-second window; `retry_after` is the first wait,
    `window` the longest worth waiting at once."""

    def __init__(self, message: str, retry_after: float, window: float) -> None:
        super().__init__(message, retry_after)
        self.window = window


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def hubspot_wait(status: int, headers: Any) -> float | None:
    """How long HubSpot's headers ask us to wait before the next try.

    `Retry-After` when sent. Else, for a 429 with the rolling window spent, one slot's time
    at the portal's pace: a window of `Max` requests per `Interval` frees, on average, one
    slot every Interval / Max (53 ms at 190 per 10 s), not a whole interval later; the retry
    doubles that while the window stays full (see `RateLimitWait`)."""
    explicit = retry_after_seconds(_header(headers, "Retry-After"))
    if explicit is not None:
        return explicit
    if status != 429:
        return None
    interval = _number(_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds"))
    if interval is None:
        return None
    maximum = _number(_header(headers, "X-HubSpot-RateLimit-Max"))
    if maximum and maximum > 0:
        return interval / 1000 / maximum
    return interval / 1000


class RateLimitWait:
    """A tenacity `wait`: for a shared-window 429, HubSpot's slot time doubling per retry up
    to the window; for anything else exponential backoff with jitter, at least Retry-After."""

    def __init__(self, max_backoff: float) -> None:
        self._backoff = WaitRespectingRetryAfter(max_backoff, initial=0.5)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            streak = getattr(state, "_rate_limited_streak", 0) + 1
            state._rate_limited_streak = streak  # type: ignore[attr-defined]
            return min(error.retry_after * 2 ** (streak - 1), error.window)
        state._rate_limited_streak = 0  # type: ignore[attr-defined]
        return self._backoff(state)


def _stop(max_attempts: int) -> Callable[[RetryCallState], bool]:
    """Stop after `max_attempts`, but let shared-window 429s wait up to three windows:
    another app may hold the portal's window for its whole length."""
    attempts = stop_after_attempt(max_attempts)

    def stop(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited):
            return state.seconds_since_start > 3 * error.window
        return attempts(state)

    return stop


def _error_body(exc: Any) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {"message": str(exc.body)[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}


def _context_ids(body: dict[str, Any]) -> list[str]:
    context = body.get("context") or {}
    if not isinstance(context, dict):
        return []
    return [str(i) for key in ("ids", "emails") for i in context.get(key) or []]


def _properties(payloads: list[str]) -> list[dict[str, str]]:
    return [json.loads(p) for p in payloads]


class HubSpotCrm(HubSpotRecords, HubSpotReads, CrmClient):
    backend = "hubspot"
    batch_limit = BATCH_LIMIT
    association_limit = ASSOCIATION_LIMIT

    def __init__(
        self,
        access_token: str,
        base_url: str | None = None,
        *,
        requests_per_10s: int = 100,
        daily_limit: int | None = None,
        engine: Engine | None = None,
        max_attempts: int = 6,
        max_backoff_seconds: float = 30.0,
        timeout_seconds: float = 30.0,
        searches_per_second: int = SEARCH_PER_SECOND,
    ) -> None:
        if not access_token:
            raise CrmAuthError(
                "CRM_BACKEND=hubspot needs HUBSPOT_ACCESS_TOKEN (a private app token)"
            )
        self._base_url = (base_url or HUBSPOT_API).rstrip("/")
        api = HubSpot(access_token=access_token, host=self._base_url)
        self._api = api  # the single-record calls (hubspot_records.py) build APIs from it
        # Handed to request models, which otherwise each build a Configuration of their own.
        self._config = ContactsConfiguration()
        self._company_config = CompaniesConfiguration()
        self._association_config = AssociationsConfiguration()
        # Each attribute access builds a new API client with its own connection pool: keep one.
        self._contacts = api.crm.contacts.batch_api
        self._contacts_basic = api.crm.contacts.basic_api
        self._companies_search = api.crm.companies.search_api
        self._companies = api.crm.companies.batch_api
        self._associations = api.crm.associations.v4.batch_api
        self._properties = api.crm.properties.core_api
        self._window = RollingWindow(requests_per_10s, 10.0)
        # HubSpot's own limit for search requests (a test against a local server may raise it).
        self._search_window = RollingWindow(searches_per_second, 1.0)
        self._daily_limit = daily_limit
        self._engine = engine
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._timeout = timeout_seconds
        self.requests = 0
        self.retries = 0
        self.rate_limit_wait_seconds = 0.0

    def __repr__(self) -> str:
        return f"HubSpotCrm({self._base_url!r})"

    def describe(self) -> str:
        return f"HubSpot CRM at {self._base_url} (official client)"

    # --- one request: limiters, retries, errors ------------------------------------------

    def _call(
        self, what: str, fn: Any, *args: Any, search: bool = False, raw: bool = False, **kwargs: Any
    ) -> Any:
        """Call `fn` under the limiters and retries; `raw`: return (status, parsed JSON body)."""
        if raw:
            kwargs["_preload_content"] = False

        def attempt() -> Any:
            over_daily = (
                self._engine is not None
                and self._daily_limit is not None
                and not try_spend(self._engine, "hubspot", utcnow().date(), self._daily_limit)
            )
            if over_daily:
                raise DailyQuotaReached(
                    f"HubSpot daily request budget ({self._daily_limit}) is used up; "
                    "the rest syncs tomorrow",
                    status=429,
                    category="DAILY",
                )
            try:
                with self._search_window.slot() if search else nullcontext(), self._window.slot():
                    self.requests += 1
                    answer = fn(*args, _request_timeout=self._timeout, **kwargs)
                    if raw:  # read inside the slot: it ends when the whole answer is in
                        return answer.status, json.loads(answer.data or b"{}")
                return answer
            except API_EXCEPTIONS as exc:
                raise self._error(what, exc) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # urllib3's message names the host and the cause (never a header or token).
                raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from None

        def before_sleep(state: RetryCallState) -> None:
            self.retries += 1
            if state.next_action is not None and isinstance(
                state.outcome.exception() if state.outcome else None, RateLimited
            ):
                self.rate_limit_wait_seconds += state.next_action.sleep

        return Retrying(
            stop=_stop(self._max_attempts),
            wait=RateLimitWait(self._max_backoff),
            retry=retry_if_exception_type(TransientError),
            before_sleep=before_sleep,
            reraise=True,
        )(attempt)

    @staticmethod
    def _error(what: str, exc: Any) -> Exception:
        """HubSpot's error answer as the exception the sync acts on."""
        body = _error_body(exc)
        status = exc.status or 0
        category = str(body.get("category") or body.get("policyName") or "")
        message = str(body.get("message") or exc.reason or "")
        if status == 429 and body.get("policyName") == "DAILY":
            return DailyQuotaReached(
                f"{what}: HubSpot daily limit reached: {message}", status=429, category="DAILY"
            )
        if status == 429:
            wait = hubspot_wait(status, exc.headers)
            interval = _number(_header(exc.headers, "X-HubSpot-RateLimit-Interval-Milliseconds"))
            if wait is not None:
                window = interval / 1000 if interval else RATE_WINDOW_SECONDS
                return RateLimited(
                    f"{what}: HTTP 429 {body.get('policyName', '')} {message}".strip(),
                    wait,
                    max(window, wait),
                )
        if status == 429 or status >= 500:
            return TransientError(
                f"{what}: HTTP {status} {body.get('policyName', '')} {message}".strip(),
                hubspot_wait(status, exc.headers),
            )
        if status == 401:
            return CrmAuthError(
                f"{what}: HubSpot refused the access token (401 {category})",
                status=401,
                category=category,
            )
        return CrmError(
            f"{what}: HTTP {status} {category}: {message}",
            status=status,
            category=category,
            detail=message,
            ids=_context_ids(body),
        )

    # --- batches ----------------------------------------------------------------------------

    def _isolating(self, keys: list[str], send: Callable[[list[int]], BatchResult]) -> BatchResult:
        """Send the inputs at positions 0..n-1 (`keys` are their id values); when HubSpot
        refuses the whole call (400/409) because of some of them, resend without those it
        names, or in halves when it names none, down to single records, which are rejected
        with HubSpot's category and message. Other errors propagate."""
        result = BatchResult()
        pending = [list(range(len(keys)))]
        while pending:
            positions = pending.pop()
            if not positions:
                continue
            try:
                result.add(send(positions))
                continue
            except (CrmAuthError, DailyQuotaReached):
                raise
            except CrmError as exc:
                if exc.status not in (400, 409):
                    raise
                error = exc
            named = {i.lower() for i in error.ids}
            guilty = [p for p in positions if keys[p].lower() in named]
            if guilty and len(guilty) < len(positions):
                result.errors += [
                    RecordError(keys[p], error.category, error.detail) for p in guilty
                ]
                pending.append([p for p in positions if p not in set(guilty)])
            elif len(positions) > 1:
                half = len(positions) // 2
                pending += [positions[half:], positions[:half]]
            else:
                result.errors.append(RecordError(keys[positions[0]], error.category, error.detail))
        return result

    def _in_batches(
        self, batch: pl.DataFrame, limit: int, send: Callable[[pl.DataFrame], BatchResult]
    ) -> BatchResult:
        """HubSpot's limit enforced here, whoever calls: larger inputs go in several calls."""
        result = BatchResult()
        for start in range(0, batch.height, limit):
            result.add(send(batch.slice(start, limit)))
        return result

    @staticmethod
    def _result(
        answer: tuple[int, dict[str, Any]],
        emails_by_id: dict[str, str] | None = None,
        key_property: str = "email",
        by_id_first: bool = False,
    ) -> BatchResult:
        """A batch answer's JSON (HubSpot's BatchResponse / 207 BatchResponseWithErrors).
        `by_id_first`: a record's id value is the one it was sent under (an update by id of
        a contact whose own email is another address than the lead's)."""
        _, body = answer
        result = BatchResult()
        for record in body.get("results") or []:
            record_id = str(record["id"])
            props = record.get("properties") or {}
            own = (props.get(key_property) or "").lower()
            sent = (emails_by_id or {}).get(record_id)
            key = (sent or own) if by_id_first else (own or sent)
            if not key:
                continue
            result.ids[key] = record_id
            if record.get("new"):
                result.created.add(key)
        for error in body.get("errors") or []:
            category = error.get("category") or "ERROR"
            message = error.get("message") or ""
            for key in _context_ids(error) or [""]:
                if emails_by_id and key in emails_by_id:
                    key = emails_by_id[key]
                result.errors.append(RecordError(str(key).lower(), category, message))
        return result

    def _batch_call(
        self,
        what: str,
        endpoint: Any,
        body_argument: str,
        body_model: Any,
        make_input: Callable[[int], Any],
        keys: list[str],
        parse: Callable[[tuple[int, dict[str, Any]], list[int]], BatchResult],
        config: Any,
    ) -> BatchResult:
        """One object batch call (inputs built per position), refusals isolated by `keys`."""

        def send(positions: list[int]) -> BatchResult:
            body = body_model(
                inputs=[make_input(p) for p in positions], local_vars_configuration=config
            )
            answer = self._call(what, endpoint, raw=True, **{body_argument: body})
            return parse(answer, positions)

        return self._isolating(keys, send)

    def upsert_contacts(self, batch: pl.DataFrame) -> BatchResult:
        return self._in_batches(contact_batch(batch), BATCH_LIMIT, self._upsert)

    def _upsert(self, batch: pl.DataFrame) -> BatchResult:
        config = self._config
        emails = batch["id_value"].to_list()
        props = _properties(batch["payload"].to_list())
        return self._batch_call(
            "upsert contacts",
            self._contacts.upsert,
            "batch_input_simple_public_object_batch_input_upsert",
            BatchInputSimplePublicObjectBatchInputUpsert,
            lambda p: SimplePublicObjectBatchInputUpsert(
                id_property="email",
                id=emails[p],
                properties=props[p],
                local_vars_configuration=config,
            ),
            emails,
            lambda answer, _positions: self._result(answer),
            config,
        )

    def create_contacts(self, batch: pl.DataFrame) -> BatchResult:
        return self._in_batches(contact_batch(batch), BATCH_LIMIT, self._create)

    def _create(self, batch: pl.DataFrame) -> BatchResult:
        config = self._config
        emails = batch["id_value"].to_list()
        props = _properties(batch["payload"].to_list())

        def parse(answer: tuple[int, dict[str, Any]], positions: list[int]) -> BatchResult:
            result = self._result(answer, {str(i): emails[p] for i, p in enumerate(positions)})
            result.created = set(result.ids)  # every record a create returns is new
            return result

        return self._batch_call(
            "create contacts",
            self._contacts.create,
            "batch_input_simple_public_object_batch_input_for_create",
            BatchInputSimplePublicObjectBatchInputForCreate,
            lambda p: SimplePublicObjectBatchInputForCreate(
                associations=[], properties=props[p], local_vars_configuration=config
            ),
            emails,
            parse,
            config,
        )

    def update_contacts(self, batch: pl.DataFrame) -> BatchResult:
        return self._in_batches(contact_batch(batch), BATCH_LIMIT, self._update)

    def _update(self, batch: pl.DataFrame) -> BatchResult:
        config = self._config
        ids = batch["crm_ref"].to_list()
        emails = batch["id_value"].to_list()
        props = _properties(batch["payload"].to_list())
        email_of = dict(zip(ids, emails, strict=True))
        # A refusal names record ids: isolate on them, report by email.
        result = self._batch_call(
            "update contacts",
            self._contacts.update,
            "batch_input_simple_public_object_batch_input",
            BatchInputSimplePublicObjectBatchInput,
            lambda p: SimplePublicObjectBatchInput(
                id=ids[p], properties=props[p], local_vars_configuration=config
            ),
            ids,
            lambda answer, _positions: self._result(answer, email_of, by_id_first=True),
            config,
        )
        result.errors = [
            RecordError(email_of.get(e.key, e.key), e.category, e.message) for e in result.errors
        ]
        return result

    # --- companies --------------------------------------------------------------------------

    def ensure_companies(self, companies: pl.DataFrame) -> BatchResult:
        ids: dict[str, str | None] = {}
        domains = companies["domain"].to_list()
        wanted = set(domains)
        # One search per SEARCH_IN_VALUES domains (HubSpot's IN filter), not one per domain:
        # search has its own, much lower, rate limit.
        config = self._company_config
        for start in range(0, len(domains), SEARCH_IN_VALUES):
            chunk = domains[start : start + SEARCH_IN_VALUES]
            after = "0"  # HubSpot's spec requires `after`, on the first page too
            while True:
                request = PublicObjectSearchRequest(
                    filter_groups=[
                        FilterGroup(
                            filters=[
                                Filter(
                                    property_name="domain",
                                    operator="IN",
                                    values=chunk,
                                    local_vars_configuration=config,
                                )
                            ],
                            local_vars_configuration=config,
                        )
                    ],
                    properties=["domain", "name"],
                    sorts=SEARCH_SORTS,
                    limit=SEARCH_PAGE,
                    after=after,
                    local_vars_configuration=config,
                )
                found = self._call(
                    "search companies",
                    self._companies_search.do_search,
                    public_object_search_request=request,
                    search=True,
                    raw=True,
                )[1]
                for record in found.get("results") or []:
                    domain = ((record.get("properties") or {}).get("domain") or "").lower()
                    if domain in wanted and domain not in ids:
                        ids[domain] = str(record["id"])
                after = ((found.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        result = BatchResult(ids=ids)
        missing = companies.filter(~pl.col("domain").is_in(list(ids)))
        if not missing.is_empty():
            result.add(self._in_batches(missing, BATCH_LIMIT, self._create_companies))
        return result

    def _create_companies(self, batch: pl.DataFrame) -> BatchResult:
        config = self._company_config
        domains = batch["domain"].to_list()
        props = [
            p | {"domain": d}
            for p, d in zip(_properties(batch["payload"].to_list()), domains, strict=True)
        ]

        def parse(answer: tuple[int, dict[str, Any]], positions: list[int]) -> BatchResult:
            result = self._result(
                answer, {str(i): domains[p] for i, p in enumerate(positions)}, "domain"
            )
            # A 207's errors may name an input by position or not at all: every domain HubSpot
            # did not create is reported, with the first error's reason.
            reason = result.errors[0] if result.errors else RecordError("", "ERROR", "not created")
            result.errors = [
                RecordError(domains[p], reason.category, reason.message)
                for p in positions
                if domains[p] not in result.ids
            ]
            return result

        return self._batch_call(
            "create companies",
            self._companies.create,
            "batch_input_simple_public_object_batch_input_for_create",
            CompanyBatchCreate,
            lambda p: CompanyCreate(
                associations=[], properties=props[p], local_vars_configuration=config
            ),
            domains,
            parse,
            config,
        )

    # --- associations -----------------------------------------------------------------------

    def associate(self, pairs: pl.DataFrame) -> BatchResult:
        pairs = association_batch(pairs)
        has_ids = pl.col("contact_id").is_not_null() & pl.col("company_id").is_not_null()
        result = self._in_batches(pairs.filter(has_ids), ASSOCIATION_LIMIT, self._associate)
        result.errors += [
            RecordError(email, "MISSING_ID", "the contact or its company has no HubSpot id")
            for email in pairs.filter(~has_ids)["id_value"].to_list()
        ]
        return result

    def _associate(self, pairs: pl.DataFrame) -> BatchResult:
        config = self._association_config
        emails = pairs["id_value"].to_list()
        contact_ids = pairs["contact_id"].to_list()
        company_ids = pairs["company_id"].to_list()

        def send(positions: list[int]) -> BatchResult:
            inputs = [
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=contact_ids[p], local_vars_configuration=config),
                    to=PublicObjectId(id=company_ids[p], local_vars_configuration=config),
                    local_vars_configuration=config,
                )
                for p in positions
            ]
            # The SDK maps no model to this endpoint's 207, so ask for the status itself.
            _, body = self._call(
                "associate contacts with companies",
                self._associations.create_default_with_http_info,
                raw=True,
                from_object_type="contacts",
                to_object_type="companies",
                batch_input_public_default_association_multi_post=(
                    BatchInputPublicDefaultAssociationMultiPost(
                        inputs=inputs, local_vars_configuration=config
                    )
                ),
            )
            failed: dict[str, tuple[str, str]] = {}
            for error in body.get("errors") or []:
                why = (error.get("category") or "ERROR", error.get("message") or "")
                failed.update(dict.fromkeys(_context_ids(error), why))
            result = BatchResult()
            for p in positions:
                why = failed.get(contact_ids[p]) or failed.get(company_ids[p])
                if why is None:
                    result.ids[emails[p]] = company_ids[p]
                else:
                    result.errors.append(RecordError(emails[p], *why))
            return result

        return self._isolating(emails, send)

    # --- merges and properties ----------------------------------------------------------------

    def merge_contacts(self, primary_id: str, merged_id: str) -> str:
        merged = self._call(
            "merge contacts",
            self._contacts_basic.merge,
            public_merge_input=PublicMergeInput(
                primary_object_id=primary_id, object_id_to_merge=merged_id
            ),
        )
        return str(merged.id)

    def check_properties(self, object_type: str, names: set[str]) -> dict[str, list[Option]]:
        answer = self._call(
            f"list {object_type} properties",
            self._properties.get_all,
            object_type=object_type,
        )
        known = {p.name: p for p in answer.results}
        unknown = sorted(names - set(known))
        if unknown:
            raise MappingError(
                f"the HubSpot portal has no {object_type} properties {unknown}: create them in "
                "HubSpot (Settings > Properties) or remove them from the CRM mapping"
            )
        return {
            name: [
                Option(o.value, o.label or o.value)
                for o in known[name].options or []
                if not getattr(o, "hidden", False)
            ]
            for name in names
            if known[name].type == "enumeration" and known[name].options
        }
