"""The HubSpot backend, on the official `hubspot-api-client`.

Every request takes a slot in a client-side rolling window first (the portal's 10-second
limit, 100 or 190 by plan; search endpoints 4 per second) and, when a daily quota is
configured, a unit of the day's counter in the operational store, so concurrent runs,
serialized by the `hubspot_api` Dagster pool, never trip 429s. A slot counts until the window
has passed after the answer came back (see `RollingWindow`), so time a request spends between
permit and HubSpot cannot push HubSpot's count over the limit. 429 and 5xx are still retried
(urllib3's own retry skips POST, and every batch call is a POST), never sooner than
`Retry-After` or, for a spent rolling window, `X-HubSpot-RateLimit-Interval-Milliseconds`.
401 is a configuration error; other 4xx are the caller's problem and raise with HubSpot's
category and message.

The per-batch calls (contact upserts/creates/updates, associations) read HubSpot's JSON
themselves instead of letting the SDK build response models: the SDK parses every record's two
timestamps with dateutil, ~16 ms per 100-contact batch, a third of the time one batch may take
at 190 requests per 10 s. Request models share one SDK configuration for the same reason (each
model otherwise deep-copies a fresh one).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Any

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
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from pipeline.crm.client import Association, BatchResult, CrmClient, RecordError
from pipeline.crm.hubspot_records import HubSpotRecords
from pipeline.crm.mapping import MappingError
from pipeline.ratelimit import RollingWindow
from pipeline.retrying import TransientError, WaitRespectingRetryAfter, retry_after_seconds
from pipeline.store.spend import try_spend
from pipeline.store.sql import utcnow

HUBSPOT_API = "https://api.hubapi.com"
SEARCH_IN_VALUES = 100  # values one IN filter may carry
SEARCH_PAGE = 200  # HubSpot's largest search page
SEARCH_PER_SECOND = 4  # HubSpot allows 5 search requests per second per account
# Each SDK module has its own ApiException class, with no common base but Exception.
API_EXCEPTIONS = (
    ApiException,
    CompaniesApiException,
    AssociationsApiException,
    PropertiesApiException,
)


class CrmError(RuntimeError):
    """HubSpot refused a request for a reason retrying will not fix."""


class CrmAuthError(CrmError):
    pass


class DailyQuotaReached(CrmError):
    pass


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def hubspot_wait(status: int, headers: Any) -> float | None:
    """How long HubSpot asks us to wait: Retry-After, or the rolling window when it is spent."""
    explicit = retry_after_seconds(_header(headers, "Retry-After"))
    if explicit is not None:
        return explicit
    interval = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if status == 429 and interval and interval.isdigit():
        remaining = _header(headers, "X-HubSpot-RateLimit-Remaining")
        # A spent window frees one slot per (interval / max); a whole interval is the safe bound.
        if remaining in (None, "0"):
            return int(interval) / 1000
    return None


def _error_body(exc: Any) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {"message": str(exc.body)[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}


class HubSpotCrm(HubSpotRecords, CrmClient):
    backend = "hubspot"

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
        self._association_config = AssociationsConfiguration()
        # Each attribute access builds a new API client with its own connection pool: keep one.
        self._contacts = api.crm.contacts.batch_api
        self._contacts_basic = api.crm.contacts.basic_api
        self._companies_search = api.crm.companies.search_api
        self._companies = api.crm.companies.batch_api
        self._associations = api.crm.associations.v4.batch_api
        self._properties = api.crm.properties.core_api
        self._window = RollingWindow(requests_per_10s, 10.0)
        self._search_window = RollingWindow(SEARCH_PER_SECOND, 1.0)
        self._daily_limit = daily_limit
        self._engine = engine
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._timeout = timeout_seconds
        self.requests = 0
        self.retries = 0
        self.partial_associations = 0

    def __repr__(self) -> str:
        return f"HubSpotCrm({self._base_url!r})"

    def describe(self) -> str:
        return f"HubSpot CRM at {self._base_url} (official client)"

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
                    "the rest syncs tomorrow"
                )
            try:
                with self._search_window.slot() if search else nullcontext(), self._window.slot():
                    self.requests += 1
                    answer = fn(*args, _request_timeout=self._timeout, **kwargs)
                    if raw:  # read inside the slot: it ends when the whole answer is in
                        return answer.status, json.loads(answer.data or b"{}")
                return answer
            except API_EXCEPTIONS as exc:
                body = _error_body(exc)
                status = exc.status or 0
                message = body.get("message", exc.reason or "")
                if status == 429 and body.get("policyName") == "DAILY":
                    raise DailyQuotaReached(
                        f"{what}: HubSpot daily limit reached: {message}"
                    ) from None
                if status == 429 or status >= 500:
                    raise TransientError(
                        f"{what}: HTTP {status} {body.get('policyName', '')} {message}".strip(),
                        hubspot_wait(status, exc.headers),
                    ) from None
                if status == 401:
                    raise CrmAuthError(
                        f"{what}: HubSpot refused the access token (401 {body.get('category', '')})"
                    ) from None
                raise CrmError(
                    f"{what}: HTTP {status} {body.get('category', '')}: {message}"
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # urllib3's message names the host and the cause (never a header or token).
                raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from None

        def count_retry(_state: Any) -> None:
            self.retries += 1

        return Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=WaitRespectingRetryAfter(self._max_backoff, initial=0.5),
            retry=retry_if_exception_type(TransientError),
            before_sleep=count_retry,
            reraise=True,
        )(attempt)

    def check_properties(self, object_type: str, names: set[str]) -> None:
        answer = self._call(
            f"list {object_type} properties",
            self._properties.get_all,
            object_type=object_type,
        )
        known = {p.name for p in answer.results}
        unknown = sorted(names - known)
        if unknown:
            raise MappingError(
                f"the HubSpot portal has no {object_type} properties {unknown}: create them in "
                "HubSpot (Settings > Properties) or remove them from the CRM mapping"
            )

    @staticmethod
    def _result(
        answer: tuple[int, dict[str, Any]], emails_by_id: dict[str, str] | None = None
    ) -> BatchResult:
        """A batch answer's JSON (HubSpot's BatchResponse / 207 BatchResponseWithErrors)."""
        _, body = answer
        result = BatchResult()
        for record in body.get("results") or []:
            record_id = str(record["id"])
            props = record.get("properties") or {}
            email = (props.get("email") or "").lower() or (emails_by_id or {}).get(record_id)
            if not email:
                continue
            result.ids[email] = record_id
            if record.get("new"):
                result.created.add(email)
        for error in body.get("errors") or []:
            context = error.get("context") or {}
            keys = context.get("ids") or context.get("emails") or [""]
            for key in keys:
                if emails_by_id and key in emails_by_id:
                    key = emails_by_id[key]
                category = error.get("category") or "ERROR"
                message = error.get("message") or ""
                result.errors.append(RecordError(str(key).lower(), category, message))
        return result

    def upsert_contacts(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult:
        config = self._config
        body = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id_property="email", id=email, properties=props, local_vars_configuration=config
                )
                for email, props in inputs
            ],
            local_vars_configuration=config,
        )
        answer = self._call(
            "upsert contacts",
            self._contacts.upsert,
            batch_input_simple_public_object_batch_input_upsert=body,
            raw=True,
        )
        return self._result(answer)

    def create_contacts(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult:
        config = self._config
        body = BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties=props, local_vars_configuration=config
                )
                for _, props in inputs
            ],
            local_vars_configuration=config,
        )
        try:
            answer = self._call(
                "create contacts",
                self._contacts.create,
                batch_input_simple_public_object_batch_input_for_create=body,
                raw=True,
            )
        except CrmError as exc:
            if "CONFLICT" not in str(exc):
                raise
            # HubSpot refuses a whole create batch on a duplicate; report every record.
            return BatchResult(errors=[RecordError(e, "CONFLICT", str(exc)) for e, _ in inputs])
        return self._result(answer)

    def update_contacts(self, inputs: list[tuple[str, str, dict[str, str]]]) -> BatchResult:
        config = self._config
        body = BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(
                    id=crm_id, properties=p, local_vars_configuration=config
                )
                for crm_id, _, p in inputs
            ],
            local_vars_configuration=config,
        )
        answer = self._call(
            "update contacts",
            self._contacts.update,
            batch_input_simple_public_object_batch_input=body,
            raw=True,
        )
        return self._result(answer, {crm_id: email for crm_id, email, _ in inputs})

    def ensure_companies(self, companies: dict[str, dict[str, str]]) -> dict[str, str | None]:
        ids: dict[str, str | None] = {}
        domains = list(companies)
        # One search per SEARCH_IN_VALUES domains (HubSpot's IN filter), not one per domain:
        # search has its own, much lower, rate limit.
        for start in range(0, len(domains), SEARCH_IN_VALUES):
            chunk = domains[start : start + SEARCH_IN_VALUES]
            request = PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(
                        filters=[Filter(property_name="domain", operator="IN", values=chunk)]
                    )
                ],
                properties=["domain", "name"],
                limit=SEARCH_PAGE,
            )
            after = None
            while True:
                request.after = after
                found = self._call(
                    "search companies",
                    self._companies_search.do_search,
                    public_object_search_request=request,
                    search=True,
                )
                for record in found.results or []:
                    domain = ((record.properties or {}).get("domain") or "").lower()
                    if domain in companies and domain not in ids:
                        ids[domain] = record.id
                next_page = getattr(getattr(found, "paging", None), "next", None)
                after = getattr(next_page, "after", None)
                if not after:
                    break
        missing = {d: p for d, p in companies.items() if d not in ids}
        if missing:
            body = CompanyBatchCreate(
                inputs=[CompanyCreate(properties=p | {"domain": d}) for d, p in missing.items()]
            )
            created = self._call(
                "create companies",
                self._companies.create,
                batch_input_simple_public_object_batch_input_for_create=body,
            )
            for record in created.results or []:
                domain = (record.properties or {}).get("domain")
                if domain:
                    ids[domain.lower()] = record.id
        return ids

    def associate(self, pairs: list[Association]) -> None:
        config = self._association_config
        inputs = [
            PublicDefaultAssociationMultiPost(
                _from=PublicObjectId(id=p.contact_id, local_vars_configuration=config),
                to=PublicObjectId(id=p.company_id, local_vars_configuration=config),
                local_vars_configuration=config,
            )
            for p in pairs
            if p.contact_id and p.company_id
        ]
        if inputs:
            # The SDK maps no model to this endpoint's 207, so ask for the status itself.
            status, _ = self._call(
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
            if status == 207:
                self.partial_associations += 1

    def merge_contacts(self, primary_id: str, merged_id: str) -> str:
        merged = self._call(
            "merge contacts",
            self._contacts_basic.merge,
            public_merge_input=PublicMergeInput(
                primary_object_id=primary_id, object_id_to_merge=merged_id
            ),
        )
        return str(merged.id)
