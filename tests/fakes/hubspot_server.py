"""A stateful fake of HubSpot's CRM API, so the CRM sync is tested against HubSpot's JSON
shapes, status codes and headers without a portal or a network.

It answers the paths the official `hubspot-api-client` SDK calls, with bodies its models parse:
tests/test_fake_hubspot.py drives it through the SDK with `client_side_validation=True`, which
makes the SDK refuse any answer missing a required field.

Use::

    state = HubSpotState(max_per_10s=100, poison_emails={"bad@x.com"})
    state.add_property("contacts", "lead_score", type="number", field_type="number")
    with HubSpotServer(state) as server:
        client = HubSpot(access_token=state.access_token, host=server.url)  # or server.sdk()

`HubSpotState(...)` knobs (all keyword, all optional; also settable while running):
`access_token="test-token"`; `max_per_10s=None` and `daily_limit=None` (rate limits, off by
default); `latency=0.0` seconds per request; `poison_emails` (lower-case emails that always
fail); `reject_whole_batch=False`; `search_lag=0.0` seconds before a new record is searchable;
`merge_creates_new_id=True`; `extra_properties={"contacts": ["lead_score", ...]}` (string
properties to add to the schema); `clock` (a `() -> datetime` for createdAt/updatedAt);
`forced` (a deque of scripted faults, see `force`).

Endpoints (objectType `contacts` or `companies`; `contact`, `company`, `0-1`, `0-2` also work):

- GET  /crm/v3/properties/{objectType}                   -> {"results": [property, ...]}
- POST /crm/v3/objects/{objectType}/batch/upsert         -> 200, or 207 when some records fail.
  Contacts only, `idProperty` must be `email` (companies have no unique property: 400, as in
  HubSpot). Each result carries `new`; `updatedAt` moves only when a value really changed.
- POST /crm/v3/objects/{objectType}/batch/create         -> 201, or 207 (an email that exists,
  or repeats in the batch, is a per-record CONFLICT "Contact already exists. Existing ID: N")
- POST /crm/v3/objects/{objectType}/batch/update         -> 200 or 207 (`id` is the record id,
  or an email with `idProperty: "email"`; unknown ids are OBJECT_NOT_FOUND)
- POST /crm/v3/objects/{objectType}/batch/read           -> 200 or 207 (missing ids)
- GET  /crm/v3/objects/{objectType}?limit=&after=&properties=&archived=
                                                         -> {"results", "paging"?}: every live
  record (or, with `archived=true`, every archived one, with `archivedAt`) by ascending id,
  at most 100 a page (more is a 400); `after` is the last id of the page before. No ceiling.
- POST /crm/v3/objects/{objectType}/search               -> {"total", "results", "paging"?}:
  EQ/NEQ/IN/NOT_IN/HAS_PROPERTY/NOT_HAS_PROPERTY case-insensitive, GT/GTE/LT/LTE/BETWEEN on
  numbers and dates (epoch milliseconds or ISO 8601); groups OR, filters AND; `sorts` of
  property names or `{"propertyName", "direction"}` objects (ties by id); at most 10,000
  results per query: a page asked for beyond them is a 400, as in HubSpot
- GET  /crm/v3/objects/{objectType}/{id}                 -> the record, or 404 OBJECT_NOT_FOUND
  (`?idProperty=email` finds a contact by email; `?properties=a,b` picks properties; without
  it HubSpot's default few: email, firstname, lastname, createdate, lastmodifieddate, ...)
- POST /crm/v3/objects/{objectType}/merge                -> 200, the merged record
- POST /crm/v4/associations/{from}/{to}/batch/associate/default -> 200 (207 if ids are missing;
  the SDK maps no model to 207 here and returns None: use `create_default_with_http_info`)
- PUT  /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId} -> 200 (404 if missing)
- GET  /crm/v4/objects/{objectType}/{id}/associations/{toObjectType}   -> {"results": [...]}

Single records and the prospecting agent's calls (tests/test_agent_hubspot.py):

- POST /crm/v3/objects/{contacts|companies}              -> 201 the record; 400 VALIDATION_ERROR
  for values HubSpot would refuse; 409 CONFLICT "Contact already exists. Existing ID: N"
- POST /crm/v3/objects/tasks                              -> 201 the task; `hs_timestamp` is
  required; `associations` must name existing contacts with type 204 (task -> contact), else 400
- POST /crm/v3/objects/tasks/search                       -> as for contacts (`tasks` dict)
- GET  /crm/v3/owners?email=...                           -> {"results": [owner, ...]}
  (`state.add_owner(email, first, last)` seeds one)

Batch rules: more than `MAX_BATCH_INPUTS` (100) inputs is a whole-call 400 VALIDATION_ERROR, and
so is an id repeated in one upsert/update batch. A single record fails (207; its error has
`context["ids"] == [its id or email]` and `errors[0].code` saying why, the message holding
HubSpot's "Property values were not valid: [...]" JSON) when its email lacks an "@" and a dot,
or is poisoned (INVALID_EMAIL), it names a property the portal lacks (PROPERTY_DOESNT_EXIST),
it gives an enumeration a value outside its options (INVALID_OPTION: `lifecyclestage`,
`hs_lead_status`, companies' `industry`), or it writes a read-only property (READ_ONLY_VALUE).
With `reject_whole_batch=True` the first failure fails the whole call instead (400, or 409 for a
conflict) and nothing is written, as HubSpot does for some payloads: test the sync both ways.
Values are stored as strings (numbers stringified, booleans "true"/"false"); "" or null clears.

Merges follow HubSpot's current rule: the result is a new record with a new id (or the
primary's id with `merge_creates_new_id=False`, the legacy rule); both old ids keep resolving
to it (GET, batch read/update, associations); the primary's values win, the secondary fills
gaps; the secondary's email moves to `hs_additional_emails` and still finds the merged record
on upsert; associations of both move over.

Each request meets, in order: authentication (`Authorization: Bearer <access_token>`, else 401
INVALID_AUTHENTICATION), `latency`, the next scripted fault, the rate limits, then the route.
With `max_per_10s` a rolling ten-second window answers 429 TEN_SECONDLY_ROLLING once full, and
every answer carries X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds (10000);
with `daily_limit`, 429 DAILY and X-HubSpot-RateLimit-Daily / -Daily-Remaining. There is no
Retry-After (HubSpot sends none). Only admitted requests use up quota. Scripted faults
(`state.force(429, 502, Fault(...))`) get HubSpot's body for the status; 502/503/504 come as
HTML, as from HubSpot's edge; `Fault(drop=True)` closes the socket unanswered. A bug in the
fake answers 500 INTERNAL_ERROR with the exception as the message.

State helpers (they take `state.lock`; hold it yourself to read the dicts while requests run):

- records: `contacts` / `companies` (id -> `CrmObject(id, object_type, properties, created_at,
  updated_at)`, live records only), `contact(id)` / `company(id)` / `get(type, id)` (follow
  merges), `contact_by_email(email)`, `companies_by_domain(domain)`, `add_contact(props,
  created_at=, updated_at=)` / `add_company(props)` to seed without a request,
  `archive(type, id)` (a deletion: the record moves to `archived`, listed with
  `archived=true`), `touch(type, id, props, at=)` (a person's edit at a given time)
- associations: `associated_ids(from_type, from_id, to_type)`, `contact_company_ids(id)`,
  `associate(from_type, from_id, to_type, to_id)` to seed (contacts->companies is type 279)
- merges: `merges` (list of `Merge(primary_id, merged_id, result_id)`), `resolve_id(type, id)`
- schema: `add_property(type, name, *, type=, field_type=, options=, read_only=)`,
  `property_names(type)`
- traffic: `requests` (list of `Seen(method, path, query, body, status, at)`, status 0 for a
  dropped connection), `count(method=, path=, status=)`, `write_calls(successful_only=False)`
  (POST/PUT/PATCH/DELETE except search and batch/read, rejected attempts included),
  `force(*faults)` (a `Fault(path=...)` waits for a request to that path),
`other_app_requests(n, seconds_ago)` (another app spending the shared window),
`reset_rate_limits()`; path constants such as `CONTACTS_UPSERT`.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

MAX_BATCH_INPUTS = 100
MAX_ASSOCIATION_INPUTS = 2000
MAX_SEARCH_VALUES = 100
MAX_LIST_PAGE = 100
SEARCH_RESULT_CEILING = 10_000
RATE_WINDOW_SECONDS = 10.0

CONTACTS_UPSERT = "/crm/v3/objects/contacts/batch/upsert"
CONTACTS_CREATE = "/crm/v3/objects/contacts/batch/create"
CONTACTS_UPDATE = "/crm/v3/objects/contacts/batch/update"
CONTACTS_READ = "/crm/v3/objects/contacts/batch/read"
CONTACTS_MERGE = "/crm/v3/objects/contacts/merge"
COMPANIES_UPSERT = "/crm/v3/objects/companies/batch/upsert"
COMPANIES_SEARCH = "/crm/v3/objects/companies/search"
COMPANIES_CREATE = "/crm/v3/objects/companies/batch/create"
ASSOCIATE_CONTACTS_COMPANIES = "/crm/v4/associations/contacts/companies/batch/associate/default"

OBJECT_TYPES = ("contacts", "companies")
_TYPE_ALIASES = {
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
}
_TYPE_CODES = {"contacts": "0-1", "companies": "0-2"}
_SINGULAR = {"contacts": "CONTACT", "companies": "COMPANY"}
# HubSpot-defined default association type ids, per direction.
ASSOCIATION_TYPE_IDS = {("contacts", "companies"): 279, ("companies", "contacts"): 280}
# Who owns each object's "last modified" system property.
_MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}
TASK_TO_CONTACT_TYPE_ID = 204
# What HubSpot returns when the caller names no properties.
_DEFAULT_VIEW = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}
_UNIQUE_ID_PROPERTIES = {"contacts": "email", "companies": None}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
# A subset of HubSpot's industry options (the real list has ~150 and is all upper-case codes,
# so a free-text "Software" fails there too); replace it with `add_property(..., options=)`.
INDUSTRIES = (
    "ACCOUNTING",
    "BANKING",
    "COMPUTER_SOFTWARE",
    "COMPUTER_HARDWARE",
    "CONSTRUCTION",
    "EDUCATION_MANAGEMENT",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "INTERNET",
    "MANAGEMENT_CONSULTING",
    "MARKETING_AND_ADVERTISING",
    "REAL_ESTATE",
    "RETAIL",
    "TELECOMMUNICATIONS",
)

# (name, label, type, fieldType, options); all in group "contactinformation"/"companyinformation".
_DEFAULT_PROPERTIES: dict[str, tuple[tuple[str, str, str, str, tuple[str, ...]], ...]] = {
    "contacts": (
        ("email", "Email", "string", "text", ()),
        ("firstname", "First Name", "string", "text", ()),
        ("lastname", "Last Name", "string", "text", ()),
        ("phone", "Phone Number", "string", "phonenumber", ()),
        ("company", "Company Name", "string", "text", ()),
        ("jobtitle", "Job Title", "string", "text", ()),
        ("website", "Website URL", "string", "text", ()),
        ("country", "Country/Region", "string", "text", ()),
        ("city", "City", "string", "text", ()),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", LIFECYCLE_STAGES),
        ("hs_lead_status", "Lead Status", "enumeration", "radio", LEAD_STATUSES),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", ()),
        ("hubspot_owner_id", "Contact owner", "enumeration", "select", ()),
        ("associatedcompanyid", "Primary Associated Company ID", "number", "number", ()),
    ),
    "companies": (
        ("name", "Company name", "string", "text", ()),
        ("domain", "Company Domain Name", "string", "text", ()),
        ("industry", "Industry", "enumeration", "select", INDUSTRIES),
        ("numberofemployees", "Number of Employees", "number", "number", ()),
        ("country", "Country/Region", "string", "text", ()),
        ("city", "City", "string", "text", ()),
        ("website", "Website URL", "string", "text", ()),
    ),
}
_READ_ONLY_PROPERTIES = {
    "contacts": (
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
        "hs_merged_object_ids",
        "hs_additional_emails",
    ),
    "companies": ("hs_object_id", "createdate", "hs_lastmodifieddate", "hs_merged_object_ids"),
}


def iso(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, `Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(
    message: str,
    category: str,
    *,
    sub_category: str | None = None,
    context: dict[str, list[str]] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A whole-call HubSpot error (the SDK's `Error` model): what a 4xx/5xx JSON body holds."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": _correlation_id(),
        "category": category,
    }
    if sub_category is not None:
        body["subCategory"] = sub_category
    if context is not None:
        body["context"] = context
    if errors is not None:
        body["errors"] = errors
    return body


def record_error(
    message: str, category: str, ids: list[str], details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One failed record inside a 207 body (the SDK's `StandardError`, all required fields)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "errors": details or [],
        "links": {},
    }


def rate_limit_body(policy: str = "TEN_SECONDLY_ROLLING") -> dict[str, Any]:
    """HubSpot's 429 body; `policy` is TEN_SECONDLY_ROLLING or DAILY."""
    limit = "ten_secondly_rolling" if policy == "TEN_SECONDLY_ROLLING" else "daily"
    return {
        "status": "error",
        "message": f"You have reached your {limit} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": _correlation_id(),
        "policyName": policy,
        "requestId": _correlation_id(),
    }


def auth_error_body() -> dict[str, Any]:
    return error_body(
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and"
        " you can find more details at https://developers.hubspot.com/docs/methods/auth/"
        "oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def _invalid_values_message(failures: list[tuple[str, str, str]]) -> str:
    """HubSpot packs property failures as JSON inside the message; mimic it."""
    items = [
        {
            "isValid": False,
            "message": message,
            "error": code,
            "name": name,
            "localizedErrorMessage": message,
        }
        for name, code, message in failures
    ]
    return "Property values were not valid: " + json.dumps(items, separators=(",", ":"))


@dataclass
class CrmObject:
    """One live CRM record; `properties` holds only values that were set (all strings)."""

    id: str
    object_type: str
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    # (created_at, updated_at) -> their system properties: a search over a large portal reads
    # them for every record, and formatting the timestamps is most of its time.
    _system: tuple[tuple[datetime, datetime], dict[str, str]] | None = field(
        default=None, repr=False, compare=False
    )

    def system_properties(self) -> dict[str, str]:
        key = (self.created_at, self.updated_at)
        if self._system is None or self._system[0] != key:
            self._system = (
                key,
                {
                    "hs_object_id": self.id,
                    "createdate": iso(self.created_at),
                    _MODIFIED_PROPERTY[self.object_type]: iso(self.updated_at),
                },
            )
        return self._system[1]

    def to_json(self, wanted: Iterable[str] | None = None) -> dict[str, Any]:
        """The SDK's `SimplePublicObject`; `wanted=None` returns every stored property."""
        everything = {**self.properties, **self.system_properties()}
        if wanted is None:
            props: dict[str, str | None] = dict(everything)
        else:
            props = {name: everything.get(name) for name in wanted}
        body: dict[str, Any] = {
            "id": self.id,
            "properties": props,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived_at is not None,
        }
        if self.archived_at is not None:
            body["archivedAt"] = iso(self.archived_at)
        return body


@dataclass(frozen=True)
class Merge:
    primary_id: str
    merged_id: str
    result_id: str


@dataclass
class Fault:
    """A scripted answer: `status` with HubSpot's usual body for it, or your own `body`
    (dict -> JSON, str -> text/html); `drop=True` closes the connection without answering.
    With `path`, it waits for the first request to that path (others are served normally)."""

    status: int = 500
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    path: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int  # 0 when a Fault dropped the connection
    at: float


_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def is_write(method: str, path: str) -> bool:
    """Create/update/upsert/associate/merge calls; search and batch read are POSTs that read."""
    return method in _WRITE_METHODS and not path.endswith(("/search", "/batch/read"))


@dataclass
class HubSpotState:
    """The portal: schema, records, associations, merges, limits, scripted faults, traffic."""

    access_token: str = "test-token"
    max_per_10s: int | None = None
    daily_limit: int | None = None
    latency: float = 0.0
    poison_emails: set[str] = field(default_factory=set)
    reject_whole_batch: bool = False
    search_lag: float = 0.0
    merge_creates_new_id: bool = True
    extra_properties: dict[str, list[str]] = field(default_factory=dict)
    clock: Callable[[], datetime] = _utcnow
    forced: deque[int | Fault] = field(default_factory=deque)
    # Everything below is the portal's live data and the traffic log, not configuration.
    contacts: dict[str, CrmObject] = field(default_factory=dict, init=False, repr=False)
    companies: dict[str, CrmObject] = field(default_factory=dict, init=False, repr=False)
    # Deleted (archived) records per object type: id -> record, listed with archived=true.
    archived: dict[str, dict[str, CrmObject]] = field(
        default_factory=lambda: {"contacts": {}, "companies": {}}, init=False, repr=False
    )
    merges: list[Merge] = field(default_factory=list, init=False, repr=False)
    requests: list[Seen] = field(default_factory=list, init=False, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _schema: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _links: set[tuple[str, str, str, str]] = field(default_factory=set, init=False, repr=False)
    _aliases: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)
    _emails: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _window: deque[float] = field(default_factory=deque, init=False, repr=False)
    # Bumped whenever a record enters or leaves a store: list pages reuse the sorted ids
    # until then (sorting 200,000 ids per page made a full read quadratic).
    generation: int = field(default=0, init=False, repr=False)
    _sorted: dict[int, tuple[tuple[int, int], list[str], list[int]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _daily_used: int = field(default=0, init=False, repr=False)
    _ids: dict[str, itertools.count[int]] = field(default_factory=dict, init=False, repr=False)
    # Tasks (id -> record) and the contacts each is linked to; owners (users with seats).
    tasks: dict[str, CrmObject] = field(default_factory=dict, init=False, repr=False)
    task_contacts: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    owners: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.poison_emails = {email.lower() for email in self.poison_emails}
        # Distinct id ranges per type, so a contact id passed as a company id is a 404.
        self._ids = {
            "contacts": itertools.count(1001),
            "companies": itertools.count(9_000_001),
            "tasks": itertools.count(70_000_001),
            "owners": itertools.count(50_001),
        }
        for object_type, rows in _DEFAULT_PROPERTIES.items():
            self._schema[object_type] = {}
            for name, label, type_, field_type, options in rows:
                self.add_property(
                    object_type,
                    name,
                    label=label,
                    type=type_,
                    field_type=field_type,
                    options=options,
                    hubspot_defined=True,
                )
            for name in _READ_ONLY_PROPERTIES[object_type]:
                self.add_property(
                    object_type, name, type="string", hubspot_defined=True, read_only=True
                )
        for object_type, names in self.extra_properties.items():
            for name in names:
                self.add_property(_object_type(object_type), name)

    # --- schema ----------------------------------------------------------------------------

    def add_property(
        self,
        object_type: str,
        name: str,
        *,
        label: str | None = None,
        type: str = "string",
        field_type: str = "text",
        options: Iterable[str] = (),
        group_name: str | None = None,
        hubspot_defined: bool = False,
        read_only: bool = False,
    ) -> None:
        """Define (or redefine) a property; enumeration `options` are enforced on writes."""
        object_type = _object_type(object_type)
        stamp = iso(self.clock())
        group = group_name or (
            "contactinformation" if object_type == "contacts" else "companyinformation"
        )
        with self.lock:
            self._schema.setdefault(object_type, {})[name] = {
                "name": name,
                "label": label or name.replace("_", " ").title(),
                "type": type,
                "fieldType": field_type,
                "groupName": group,
                "description": "",
                "options": [
                    {"label": value, "value": value, "displayOrder": i, "hidden": False}
                    for i, value in enumerate(options)
                ],
                "displayOrder": -1,
                "calculated": False,
                "externalOptions": False,
                "hasUniqueValue": name == _UNIQUE_ID_PROPERTIES.get(object_type),
                "hidden": False,
                "hubspotDefined": hubspot_defined,
                "formField": not read_only,
                "modificationMetadata": {
                    "archivable": not hubspot_defined,
                    "readOnlyDefinition": hubspot_defined,
                    "readOnlyValue": read_only,
                },
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
            }

    def property_names(self, object_type: str) -> set[str]:
        with self.lock:
            return set(self._schema.get(_object_type(object_type), {}))

    def property_definitions(self, object_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p) for p in self._schema.get(_object_type(object_type), {}).values()]

    # --- records ---------------------------------------------------------------------------

    def store(self, object_type: str) -> dict[str, CrmObject]:
        return self.contacts if _object_type(object_type) == "contacts" else self.companies

    def resolve_id(self, object_type: str, object_id: str) -> str:
        """The live id an id now answers to (itself, or the record it was merged into)."""
        object_type = _object_type(object_type)
        with self.lock:
            seen: set[str] = set()
            while (object_type, object_id) in self._aliases and object_id not in seen:
                seen.add(object_id)
                object_id = self._aliases[(object_type, object_id)]
            return object_id

    def get(self, object_type: str, object_id: str) -> CrmObject | None:
        with self.lock:
            return self.store(object_type).get(self.resolve_id(object_type, str(object_id)))

    def contact(self, contact_id: str) -> CrmObject | None:
        return self.get("contacts", contact_id)

    def company(self, company_id: str) -> CrmObject | None:
        return self.get("companies", company_id)

    def contact_by_email(self, email: str) -> CrmObject | None:
        with self.lock:
            contact_id = self._emails.get(email.strip().lower())
            return self.contact(contact_id) if contact_id else None

    def companies_by_domain(self, domain: str) -> list[CrmObject]:
        with self.lock:
            return [
                c
                for c in self.companies.values()
                if c.properties.get("domain", "").lower() == domain.lower()
            ]

    def add_contact(
        self,
        properties: dict[str, Any],
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> CrmObject:
        """Seed a contact as if it already lived in the portal (no request is recorded)."""
        with self.lock:
            record = self._create("contacts", _stringify(properties), created_at)
            if updated_at is not None:
                record.updated_at = updated_at
            return record

    def archive(self, object_type: str, object_id: str) -> CrmObject:
        """Delete a record as HubSpot does: it leaves the live records and is listed with
        `archived=true` (its email no longer finds it)."""
        object_type = _object_type(object_type)
        with self.lock:
            record = self.store(object_type).pop(self.resolve_id(object_type, str(object_id)))
            self.generation += 1
            record.archived_at = self.clock()
            email = record.properties.get("email")
            if email and self._emails.get(email) == record.id:
                del self._emails[email]
            self.archived[object_type][record.id] = record
            return record

    def touch(
        self, object_type: str, object_id: str, properties: dict[str, Any], at: datetime
    ) -> CrmObject:
        """A person's edit in the portal at `at` (no request recorded)."""
        with self.lock:
            record = self.get(object_type, object_id)
            assert record is not None, f"no {object_type} {object_id}"
            self._apply(record, _stringify(properties))
            record.updated_at = at
            return record

    def add_company(
        self, properties: dict[str, Any], created_at: datetime | None = None
    ) -> CrmObject:
        with self.lock:
            return self._create("companies", _stringify(properties), created_at)

    def _create(
        self,
        object_type: str,
        properties: dict[str, str],
        created_at: datetime | None = None,
        record_id: str | None = None,
    ) -> CrmObject:
        now = created_at or self.clock()
        record = CrmObject(
            id=record_id or str(next(self._ids[object_type])),
            object_type=object_type,
            properties={k: v for k, v in properties.items() if v != ""},
            created_at=now,
            updated_at=now,
        )
        if object_type == "contacts" and record.properties.get("email"):
            record.properties["email"] = record.properties["email"].lower()
            self._emails[record.properties["email"]] = record.id
        self.store(object_type)[record.id] = record
        self.generation += 1
        return record

    def sorted_ids(self, store: dict[str, CrmObject]) -> tuple[list[str], list[int]]:
        """A store's ids in numeric order (and as numbers), cached until it changes."""
        version = (self.generation, len(store))
        cached = self._sorted.get(id(store))
        if cached is None or cached[0] != version:
            ids = sorted(store, key=int)
            cached = (version, ids, [int(i) for i in ids])
            self._sorted[id(store)] = cached
        return cached[1], cached[2]

    def _apply(self, record: CrmObject, properties: dict[str, str]) -> bool:
        """Write values; bump `updated_at` only when something changed (as HubSpot does)."""
        changed = False
        for name, value in properties.items():
            if name == "email":
                value = value.lower()
            if record.properties.get(name, "") == value:
                continue
            changed = True
            if name == "email" and record.object_type == "contacts":
                old = record.properties.get("email")
                if old and self._emails.get(old) == record.id:
                    del self._emails[old]  # a replaced email no longer finds the contact
            if value == "":
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
            if name == "email" and record.object_type == "contacts":
                self._emails[value] = record.id
        if changed:
            record.updated_at = self.clock()
        return changed

    def add_owner(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """Seed a HubSpot user (owner); returns its owner id."""
        with self.lock:
            owner_id = str(next(self._ids["owners"]))
            stamp = iso(self.clock())
            self.owners.append(
                {
                    "id": owner_id,
                    "email": email.lower(),
                    "type": "PERSON",
                    "firstName": first_name,
                    "lastName": last_name,
                    "userId": int(owner_id) + 1000,
                    "userIdIncludingInactive": int(owner_id) + 1000,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "archived": False,
                }
            )
            return owner_id

    # --- associations ----------------------------------------------------------------------

    def associated_ids(self, from_type: str, from_id: str, to_type: str) -> set[str]:
        from_type, to_type = _object_type(from_type), _object_type(to_type)
        with self.lock:
            from_id = self.resolve_id(from_type, str(from_id))
            return {
                link[3]
                for link in self._links
                if link[0] == from_type and link[1] == from_id and link[2] == to_type
            }

    def contact_company_ids(self, contact_id: str) -> set[str]:
        return self.associated_ids("contacts", contact_id, "companies")

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Link two records both ways (HubSpot associations are bidirectional); for seeding."""
        from_type, to_type = _object_type(from_type), _object_type(to_type)
        with self.lock:
            from_id = self.resolve_id(from_type, str(from_id))
            to_id = self.resolve_id(to_type, str(to_id))
            self._links.add((from_type, from_id, to_type, to_id))
            self._links.add((to_type, to_id, from_type, from_id))

    # --- traffic ---------------------------------------------------------------------------

    def force(self, *faults: int | Fault) -> None:
        """Script the next answers, e.g. `state.force(429, 502)`; then normal service."""
        with self.lock:
            self.forced.extend(faults)

    def count(
        self, *, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        with self.lock:
            return sum(
                1
                for s in self.requests
                if (method is None or s.method == method)
                and (path is None or s.path == path)
                and (status is None or s.status == status)
            )

    def write_calls(self, *, successful_only: bool = False) -> int:
        """How many writes reached the server (all attempts, or only the 2xx ones)."""
        with self.lock:
            return sum(
                1
                for s in self.requests
                if is_write(s.method, s.path) and (not successful_only or 200 <= s.status < 300)
            )

    def other_app_requests(self, count: int, seconds_ago: float = 0.0) -> None:
        """Spend `count` slots of the rolling window as another app on the portal would,
        `seconds_ago` (they free up `RATE_WINDOW_SECONDS` after that)."""
        with self.lock:
            at = time.monotonic() - seconds_ago
            self._window.extend([at] * count)
            self._window = deque(sorted(self._window))

    def reset_rate_limits(self) -> None:
        with self.lock:
            self._window.clear()
            self._daily_used = 0


def _object_type(name: str) -> str:
    try:
        return _TYPE_ALIASES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown object type {name!r}") from None


def _stringify(properties: dict[str, Any]) -> dict[str, str]:
    """HubSpot stores every value as a string; JSON null clears, booleans are lower-case."""
    out: dict[str, str] = {}
    for name, value in properties.items():
        if value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


class _Reject(Exception):
    """Ends a request with a whole-call error."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


Answer = tuple[int, Any, dict[str, str]]


_OPERATORS = {
    "EQ",
    "NEQ",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "BETWEEN",
}


@functools.lru_cache(maxsize=65536)
def _number(value: Any) -> float | None:
    """A number, or a date as epoch milliseconds (HubSpot filters dates either way)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def _value(record: CrmObject, name: str) -> str | None:
    """A property's value as HubSpot reports it (system properties win)."""
    system = record.system_properties()
    return system[name] if name in system else record.properties.get(name)


def _sort_key(record: CrmObject, name: str) -> tuple[int, float, str]:
    """Records without the property last; numbers and dates by value, text by text."""
    value = _value(record, name)
    if value is None:
        return (1, 0.0, "")
    number = _number(value)
    return (0, number, "") if number is not None else (0, 0.0, str(value).lower())


def _filter_matches(actual: str | None, flt: dict[str, Any]) -> bool:
    """One search filter; HubSpot compares strings case-insensitively, numbers and dates
    by value."""
    operator = flt.get("operator")
    if operator not in _OPERATORS:
        raise _Reject(
            400, error_body(f"Unsupported filter operator {operator!r}", "VALIDATION_ERROR")
        )
    if operator == "HAS_PROPERTY":
        return actual is not None
    if operator == "NOT_HAS_PROPERTY":
        return actual is None
    if operator in ("GT", "GTE", "LT", "LTE", "BETWEEN"):
        have, bound = _number(actual), _number(flt.get("value"))
        if have is None or bound is None:
            return False
        if operator == "BETWEEN":
            high = _number(flt.get("highValue"))
            return high is not None and bound <= have <= high
        return {
            "GT": have > bound,
            "GTE": have >= bound,
            "LT": have < bound,
            "LTE": have <= bound,
        }[operator]
    value = None if actual is None else actual.lower()
    if operator in ("EQ", "NEQ"):
        wanted = str(flt.get("value", ""))
        equal = value is not None and value == wanted.lower()
        if not equal and value is not None:
            have, bound = _number(actual), _number(wanted)
            equal = have is not None and have == bound  # a date by its milliseconds
        return equal if operator == "EQ" else not equal
    inside = value is not None and value in {str(v).lower() for v in flt.get("values") or []}
    return inside if operator == "IN" else not inside


class _Api:
    """The routes, run under the state's lock; they read and write `state` directly."""

    def __init__(self, state: HubSpotState) -> None:
        self.state = state
        self.started = state.clock()

    # --- helpers ---------------------------------------------------------------------------

    def _batch(self, status: int, results: list[Any], errors: list[dict[str, Any]]) -> Answer:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": iso(self.started),
            "startedAt": iso(self.started),
            "completedAt": iso(self.state.clock()),
            "links": {},
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            status = 207
        return status, body, {}

    def _inputs(self, body: Any, limit: int = MAX_BATCH_INPUTS) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise _Reject(
                400, error_body("Invalid input JSON: `inputs` is required", "VALIDATION_ERROR")
            )
        inputs = body["inputs"]
        if len(inputs) > limit:
            raise _Reject(
                400,
                error_body(
                    f"Batch input limit exceeded: {len(inputs)} inputs sent, the limit is {limit}",
                    "VALIDATION_ERROR",
                    context={"limit": [str(limit)], "size": [str(len(inputs))]},
                ),
            )
        if not all(isinstance(item, dict) for item in inputs):
            raise _Reject(
                400, error_body("Invalid input JSON: inputs must be objects", "VALIDATION_ERROR")
            )
        return inputs

    def _no_duplicates(self, ids: list[str]) -> None:
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            raise _Reject(
                400,
                error_body(
                    f"Duplicate IDs found in batch input: {dupes}. IDs must be unique",
                    "VALIDATION_ERROR",
                    context={"ids": dupes},
                ),
            )

    def _check_properties(
        self, object_type: str, properties: dict[str, str], record_id: str
    ) -> dict[str, Any] | None:
        """The 207 error for a record whose values HubSpot would refuse, else None."""
        schema = self.state._schema[object_type]
        failures: list[tuple[str, str, str]] = []
        for name, value in properties.items():
            definition = schema.get(name)
            if definition is None:
                failures.append(
                    (name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
            elif definition["modificationMetadata"]["readOnlyValue"]:
                failures.append((name, "READ_ONLY_VALUE", f'"{name}" is a read only property'))
            elif (
                definition["type"] == "enumeration"
                and definition["options"]
                and value != ""
                and any(
                    part not in {o["value"] for o in definition["options"]}
                    for part in value.split(";")
                )
            ):
                allowed = ", ".join(o["value"] for o in definition["options"])
                failures.append(
                    (
                        name,
                        "INVALID_OPTION",
                        f"{value} was not one of the allowed options: [{allowed}]",
                    )
                )
        email = properties.get("email") or ""
        if object_type == "contacts" and email:
            bad = not _EMAIL_RE.match(email) or email.lower() in self.state.poison_emails
            if bad:
                failures.append(("email", "INVALID_EMAIL", f"Email address {email} is invalid"))
        if not failures:
            return None
        details = [
            {"message": message, "code": code, "context": {"propertyName": [name]}}
            for name, code, message in failures
        ]
        return record_error(
            _invalid_values_message(failures), "VALIDATION_ERROR", [record_id], details
        )

    def _fail_record(self, error: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        """Collect a record's failure, or end the call when the portal rejects whole batches."""
        if self.state.reject_whole_batch:
            status = 409 if error["category"] == "CONFLICT" else 400
            raise _Reject(
                status,
                error_body(
                    error["message"],
                    error["category"],
                    context=error["context"],
                    errors=error["errors"] or None,
                ),
            )
        errors.append(error)

    def _wanted(self, object_type: str, names: Any) -> list[str]:
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        return list(_DEFAULT_VIEW[object_type])

    # --- routes ----------------------------------------------------------------------------

    def properties(self, object_type: str) -> Answer:
        return 200, {"results": self.state.property_definitions(object_type)}, {}

    def upsert(self, object_type: str, body: Any) -> Answer:
        inputs = self._inputs(body)
        unique = _UNIQUE_ID_PROPERTIES[object_type]
        for item in inputs:
            if item.get("idProperty") != unique or unique is None:
                raise _Reject(
                    400,
                    error_body(
                        "Unable to perform update/upsert by non-unique "
                        f"{_TYPE_CODES[object_type]} property {item.get('idProperty')!r}",
                        "VALIDATION_ERROR",
                    ),
                )
        self._no_duplicates([str(item.get("id", "")).strip().lower() for item in inputs])
        planned: list[tuple[str, dict[str, str]]] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            raw_id = str(item.get("id", "")).strip()
            props = _stringify(item.get("properties") or {})
            props["email"] = raw_id or "(missing)"  # an empty id is an invalid email too
            error = self._check_properties(object_type, props, raw_id)
            if error:
                self._fail_record(error, errors)
            else:
                planned.append((raw_id, props))
        results = []
        for raw_id, props in planned:
            existing = self.state.contact_by_email(raw_id)
            if existing is None:
                record, new = self.state._create(object_type, props), True
            else:
                # An email kept from a merge finds the record but must not replace its email.
                props.pop("email")
                self.state._apply(existing, props)
                record, new = existing, False
            results.append({**record.to_json(), "new": new})
        return self._batch(200, results, errors)

    def create(self, object_type: str, body: Any) -> Answer:
        inputs = self._inputs(body)
        planned: list[tuple[str, dict[str, str]]] = []
        errors: list[dict[str, Any]] = []
        claimed: dict[str, str] = {}  # email -> id reserved earlier in this batch
        for index, item in enumerate(inputs):
            props = _stringify(item.get("properties") or {})
            email = props.get("email", "").strip().lower()
            label = email or str(index)
            error = self._check_properties(object_type, props, label)
            if error is None and object_type == "contacts" and email:
                existing = self.state.contact_by_email(email)
                holder = existing.id if existing else claimed.get(email)
                if holder is not None:
                    error = record_error(
                        f"Contact already exists. Existing ID: {holder}",
                        "CONFLICT",
                        [label],
                        [
                            {
                                "message": "Contact already exists",
                                "code": "CONTACT_EXISTS",
                                "context": {"existingId": [holder]},
                            }
                        ],
                    )
            if error:
                self._fail_record(error, errors)
                continue
            new_id = str(next(self.state._ids[object_type]))
            if email:
                claimed[email] = new_id
            planned.append((new_id, props))
        results = [
            self.state._create(object_type, props, record_id=new_id).to_json()
            for new_id, props in planned
        ]
        return self._batch(201, results, errors)

    def update(self, object_type: str, body: Any) -> Answer:
        inputs = self._inputs(body)
        by_email = any(item.get("idProperty") == "email" for item in inputs)
        if by_email and object_type != "contacts":
            raise _Reject(
                400,
                error_body(
                    "Unable to perform update/upsert by non-unique "
                    f"{_TYPE_CODES[object_type]} property",
                    "VALIDATION_ERROR",
                ),
            )
        self._no_duplicates([str(item.get("id", "")).strip().lower() for item in inputs])
        planned: list[tuple[CrmObject, dict[str, str]]] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            raw_id = str(item.get("id", "")).strip()
            record = (
                self.state.contact_by_email(raw_id)
                if item.get("idProperty") == "email"
                else self.state.get(object_type, raw_id)
            )
            props = _stringify(item.get("properties") or {})
            if record is None:
                error: dict[str, Any] | None = record_error(
                    f"Could not get some {_SINGULAR[object_type]} objects, they may be deleted"
                    " or not exist. Check that ids are valid.",
                    "OBJECT_NOT_FOUND",
                    [raw_id],
                )
            else:
                error = self._check_properties(object_type, props, raw_id)
                new_email = props.get("email", "").lower()
                holder = self.state._emails.get(new_email) if new_email else None
                if error is None and holder is not None and holder != record.id:
                    error = record_error(
                        f"A contact with the email '{new_email}' already exists. "
                        f"Existing ID: {holder}",
                        "CONFLICT",
                        [raw_id],
                    )
            if error:
                self._fail_record(error, errors)
            else:
                assert record is not None
                planned.append((record, props))
        for record, props in planned:
            self.state._apply(record, props)
        return self._batch(200, [record.to_json() for record, _ in planned], errors)

    def read(self, object_type: str, body: Any) -> Answer:
        inputs = self._inputs(body)
        wanted = self._wanted(object_type, body.get("properties"))
        by_email = body.get("idProperty") == "email"
        results, missing = [], []
        for item in inputs:
            raw_id = str(item.get("id", "")).strip()
            record = (
                self.state.contact_by_email(raw_id)
                if by_email
                else self.state.get(object_type, raw_id)
            )
            if record is None:
                missing.append(raw_id)
            else:
                results.append(record.to_json(wanted))
        errors = []
        if missing:
            errors.append(
                record_error(
                    f"Could not get some {_SINGULAR[object_type]} objects, they may be deleted or"
                    " not exist. Check that ids are valid.",
                    "OBJECT_NOT_FOUND",
                    missing,
                )
            )
        return self._batch(200, results, errors)

    def get(self, object_type: str, object_id: str, query: dict[str, list[str]]) -> Answer:
        if query.get("idProperty", [""])[0] == "email":
            record = self.state.contact_by_email(object_id)
        else:
            record = self.state.get(object_type, object_id)
        if record is None:
            return 404, error_body("resource not found", "OBJECT_NOT_FOUND"), {}
        names = [n for value in query.get("properties", []) for n in value.split(",") if n]
        return 200, record.to_json(self._wanted(object_type, names)), {}

    def search(self, object_type: str, body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _Reject(400, error_body("Invalid search request", "VALIDATION_ERROR"))
        groups = body.get("filterGroups") or []
        for group in groups:
            for flt in group.get("filters") or []:
                if len(flt.get("values") or []) > MAX_SEARCH_VALUES:
                    raise _Reject(
                        400,
                        error_body(
                            f"A filter may carry at most {MAX_SEARCH_VALUES} values",
                            "VALIDATION_ERROR",
                        ),
                    )
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        if after >= SEARCH_RESULT_CEILING:
            raise _Reject(
                400,
                error_body(
                    f"Cannot page beyond {SEARCH_RESULT_CEILING} results: narrow the query "
                    "with filters",
                    "VALIDATION_ERROR",
                ),
            )
        cutoff = self.state.clock().timestamp() - self.state.search_lag
        matches = [
            record
            for record in self.state.store(object_type).values()
            if record.created_at.timestamp() <= cutoff
            and (not groups or any(self._group_matches(record, g) for g in groups))
        ]
        matches.sort(key=lambda r: int(r.id))
        for sort in reversed(body.get("sorts") or []):
            name, descending = sort, False
            if isinstance(sort, dict):
                name = sort.get("propertyName", "")
                descending = str(sort.get("direction", "")).upper() == "DESCENDING"
            matches.sort(key=lambda r, n=str(name): _sort_key(r, n), reverse=descending)
        reachable = min(len(matches), SEARCH_RESULT_CEILING)
        page = matches[after : min(after + limit, reachable)]
        wanted = self._wanted(object_type, body.get("properties"))
        answer: dict[str, Any] = {
            "total": len(matches),
            "results": [record.to_json(wanted) for record in page],
        }
        # Like HubSpot, the next page is offered while matches remain, also past the
        # ceiling: following it there is the 400 above.
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit), "link": ""}}
        return 200, answer, {}

    def list_page(self, object_type: str, query: dict[str, list[str]]) -> Answer:
        """GET /crm/v3/objects/{type}: live (or archived) records by id, after the id given."""
        limit = int((query.get("limit") or ["10"])[0])
        if not 1 <= limit <= MAX_LIST_PAGE:
            raise _Reject(
                400,
                error_body(
                    f"limit must be between 1 and {MAX_LIST_PAGE}, got {limit}", "VALIDATION_ERROR"
                ),
            )
        archived = (query.get("archived") or ["false"])[0].lower() == "true"
        store = self.state.archived[object_type] if archived else self.state.store(object_type)
        after = (query.get("after") or [""])[0]
        ids, numbers = self.state.sorted_ids(store)
        start = bisect.bisect_right(numbers, int(after)) if after else 0
        page = ids[start : start + limit]
        names = [n for value in query.get("properties", []) for n in value.split(",") if n]
        wanted = self._wanted(object_type, names)
        answer: dict[str, Any] = {"results": [store[i].to_json(wanted) for i in page]}
        if start + limit < len(ids):
            answer["paging"] = {"next": {"after": page[-1], "link": ""}}
        return 200, answer, {}

    def create_one(self, object_type: str, body: Any) -> Answer:
        """POST /crm/v3/objects/{type}: one record, 201; refusals as whole-call errors."""
        if not isinstance(body, dict):
            raise _Reject(400, error_body("Invalid input JSON", "VALIDATION_ERROR"))
        props = _stringify(body.get("properties") or {})
        email = props.get("email", "").strip().lower()
        error = self._check_properties(object_type, props, email or "0")
        if error is not None:
            raise _Reject(
                400, error_body(error["message"], "VALIDATION_ERROR", errors=error["errors"])
            )
        if object_type == "contacts" and email:
            existing = self.state.contact_by_email(email)
            if existing is not None:
                raise _Reject(
                    409,
                    error_body(f"Contact already exists. Existing ID: {existing.id}", "CONFLICT"),
                )
        record = self.state._create(object_type, props)
        return 201, record.to_json(), {}

    def create_task(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _Reject(400, error_body("Invalid input JSON", "VALIDATION_ERROR"))
        props = _stringify(body.get("properties") or {})
        if not props.get("hs_timestamp"):
            raise _Reject(
                400,
                error_body(
                    'Property values were not valid: [{"isValid":false,"message":"hs_timestamp '
                    'is required","error":"REQUIRED_FIELD","name":"hs_timestamp"}]',
                    "VALIDATION_ERROR",
                ),
            )
        contacts: set[str] = set()
        for link in body.get("associations") or []:
            to_id = str((link.get("to") or {}).get("id", ""))
            types = [int(t.get("associationTypeId", 0)) for t in link.get("types") or []]
            contact = self.state.get("contacts", to_id)
            if contact is None or TASK_TO_CONTACT_TYPE_ID not in types:
                raise _Reject(
                    400,
                    error_body(
                        f"One or more associations are invalid: contact {to_id}, types {types}",
                        "VALIDATION_ERROR",
                    ),
                )
            contacts.add(contact.id)
        now = self.state.clock()
        task = CrmObject(str(next(self.state._ids["tasks"])), "tasks", props, now, now)
        self.state.tasks[task.id] = task
        self.state.task_contacts[task.id] = contacts
        return 201, task.to_json(), {}

    def search_tasks(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _Reject(400, error_body("Invalid search request", "VALIDATION_ERROR"))
        groups = body.get("filterGroups") or []
        matches = [
            task
            for task in self.state.tasks.values()
            if not groups or any(self._group_matches(task, g) for g in groups)
        ]
        matches.sort(key=lambda r: int(r.id))
        limit = min(int(body.get("limit") or 10), 200)
        wanted = body.get("properties") or ["hs_task_subject", "hs_timestamp"]
        return (
            200,
            {"total": len(matches), "results": [t.to_json(wanted) for t in matches[:limit]]},
            {},
        )

    def list_owners(self, query: dict[str, list[str]]) -> Answer:
        email = (query.get("email") or [""])[0].lower()
        found = [o for o in self.state.owners if not email or o["email"] == email]
        return 200, {"results": found}, {}

    def _group_matches(self, record: CrmObject, group: dict[str, Any]) -> bool:
        return all(
            _filter_matches(_value(record, flt.get("propertyName", "")), flt)
            for flt in group.get("filters") or []
        )

    def merge(self, object_type: str, body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _Reject(400, error_body("Invalid merge request", "VALIDATION_ERROR"))
        state = self.state
        primary = state.get(object_type, str(body.get("primaryObjectId", "")))
        secondary = state.get(object_type, str(body.get("objectIdToMerge", "")))
        if primary is None or secondary is None:
            return 404, error_body("resource not found", "OBJECT_NOT_FOUND"), {}
        if primary.id == secondary.id:
            raise _Reject(400, error_body("Cannot merge an object with itself", "VALIDATION_ERROR"))
        properties = {**secondary.properties, **primary.properties}
        merged_ids = ";".join(
            i
            for i in (
                primary.properties.get("hs_merged_object_ids"),
                secondary.properties.get("hs_merged_object_ids"),
                primary.id,
                secondary.id,
            )
            if i
        )
        properties["hs_merged_object_ids"] = merged_ids
        secondary_email = secondary.properties.get("email")
        if (
            object_type == "contacts"
            and secondary_email
            and secondary_email != properties.get("email")
        ):
            extra = [e for e in properties.get("hs_additional_emails", "").split(";") if e]
            extra.append(secondary_email)
            properties["hs_additional_emails"] = ";".join(dict.fromkeys(extra))
        store = state.store(object_type)
        store.pop(secondary.id)
        state.generation += 1
        if state.merge_creates_new_id:
            store.pop(primary.id)
            result = CrmObject(
                id=str(next(state._ids[object_type])),
                object_type=object_type,
                properties=properties,
                created_at=state.clock(),
                updated_at=state.clock(),
            )
            store[result.id] = result
            state._aliases[(object_type, primary.id)] = result.id
        else:
            result = primary
            result.properties = properties
            result.updated_at = state.clock()
        state._aliases[(object_type, secondary.id)] = result.id
        for email, owner in list(state._emails.items()):
            if owner in (primary.id, secondary.id):
                state._emails[email] = result.id
        for link in list(state._links):
            for end in (0, 2):
                if link[end] == object_type and link[end + 1] in (primary.id, secondary.id):
                    state._links.discard(link)
                    moved = list(link)
                    moved[end + 1] = result.id
                    state._links.add((moved[0], moved[1], moved[2], moved[3]))
        state.merges.append(Merge(primary.id, secondary.id, result.id))
        return 200, result.to_json(), {}

    def _association_result(
        self, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> dict[str, Any]:
        return {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": ASSOCIATION_TYPE_IDS.get((from_type, to_type), 1),
            },
        }

    def associate_batch(self, from_type: str, to_type: str, body: Any) -> Answer:
        inputs = self._inputs(body, MAX_ASSOCIATION_INPUTS)
        results, errors = [], []
        for item in inputs:
            from_raw = str((item.get("from") or {}).get("id", ""))
            to_raw = str((item.get("to") or {}).get("id", ""))
            source, target = self.state.get(from_type, from_raw), self.state.get(to_type, to_raw)
            if source is None or target is None:
                missing = [i for i, r in ((from_raw, source), (to_raw, target)) if r is None]
                errors.append(
                    record_error(
                        f"No {_SINGULAR[from_type if source is None else to_type]} objects "
                        f"found with ids {missing}",
                        "OBJECT_NOT_FOUND",
                        missing,
                    )
                )
                continue
            self.state.associate(from_type, source.id, to_type, target.id)
            results.append(self._association_result(from_type, source.id, to_type, target.id))
        return self._batch(200, results, errors)

    def associate_one(self, from_type: str, from_id: str, to_type: str, to_id: str) -> Answer:
        source, target = self.state.get(from_type, from_id), self.state.get(to_type, to_id)
        if source is None or target is None:
            return 404, error_body("resource not found", "OBJECT_NOT_FOUND"), {}
        self.state.associate(from_type, source.id, to_type, target.id)
        return self._batch(
            200, [self._association_result(from_type, source.id, to_type, target.id)], []
        )

    def associations_of(self, from_type: str, from_id: str, to_type: str) -> Answer:
        if self.state.get(from_type, from_id) is None:
            return 404, error_body("resource not found", "OBJECT_NOT_FOUND"), {}
        type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type), 1)
        results = [
            {
                # HubSpot sends this id as a JSON number here, unlike everywhere else.
                "toObjectId": int(to_id),
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                ],
            }
            for to_id in sorted(self.state.associated_ids(from_type, from_id, to_type), key=int)
        ]
        return 200, {"results": results}, {}

    # --- dispatch --------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        try:
            handler = self._resolve(method, parts, query, body)
        except KeyError:  # an unknown object type
            handler = None
        if handler is None:
            return 404, error_body(f"Unable to route {method} {path}", "OBJECT_NOT_FOUND"), {}
        return handler()

    def _resolve(
        self, method: str, p: list[str], query: dict[str, list[str]], body: Any
    ) -> Callable[[], Answer] | None:
        if p[:4] == ["crm", "v3", "objects", "tasks"]:
            if method == "POST" and len(p) == 4:
                return lambda: self.create_task(body)
            if method == "POST" and p[4:] == ["search"]:
                return lambda: self.search_tasks(body)
            return None
        if method == "POST" and len(p) == 4 and p[:3] == ["crm", "v3", "objects"]:
            single_type = _object_type(p[3])
            return lambda: self.create_one(single_type, body)
        if method == "GET" and p[:3] == ["crm", "v3", "owners"] and len(p) == 3:
            return lambda: self.list_owners(query)
        if method == "GET" and len(p) == 4 and p[:3] == ["crm", "v3", "properties"]:
            object_type = _object_type(p[3])
            return lambda: self.properties(object_type)
        if method == "GET" and len(p) == 4 and p[:3] == ["crm", "v3", "objects"]:
            listed_type = _object_type(p[3])
            return lambda: self.list_page(listed_type, query)
        if len(p) >= 5 and p[:3] == ["crm", "v3", "objects"]:
            object_type = _object_type(p[3])
            tail = tuple(p[4:])
            if method == "POST":
                posts: dict[tuple[str, ...], Callable[[str, Any], Answer]] = {
                    ("batch", "upsert"): self.upsert,
                    ("batch", "create"): self.create,
                    ("batch", "update"): self.update,
                    ("batch", "read"): self.read,
                    ("search",): self.search,
                    ("merge",): self.merge,
                }
                action = posts.get(tail)
                return None if action is None else lambda: action(object_type, body)
            if method == "GET" and len(tail) == 1:
                return lambda: self.get(object_type, tail[0], query)
        if (
            method == "POST"
            and len(p) == 8
            and p[:3] == ["crm", "v4", "associations"]
            and p[5:] == ["batch", "associate", "default"]
        ):
            from_type, to_type = _object_type(p[3]), _object_type(p[4])
            return lambda: self.associate_batch(from_type, to_type, body)
        if len(p) >= 7 and p[:3] == ["crm", "v4", "objects"] and p[5] == "associations":
            from_type = _object_type(p[3])
            if method == "PUT" and len(p) == 9 and p[6] == "default":
                to_type = _object_type(p[7])
                return lambda: self.associate_one(from_type, p[4], to_type, p[8])
            if method == "GET" and len(p) == 7:
                to_type = _object_type(p[6])
                return lambda: self.associations_of(from_type, p[4], to_type)
        return None


def _fault_answer(fault: Fault, rate_headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    """HubSpot's usual body for a status (5xx from the edge come as HTML, not JSON)."""
    if fault.body is not None:
        return fault.status, fault.body, dict(fault.headers)
    status = fault.status
    headers = dict(fault.headers)
    if status == 429:
        body: Any = rate_limit_body()
        headers = {**rate_headers, "X-HubSpot-RateLimit-Remaining": "0", **headers}
    elif status == 401:
        body = auth_error_body()
    elif status == 403:
        body = error_body(
            "This app hasn't been granted all required scopes to make this call.",
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]},
                }
            ],
        )
    elif status == 404:
        body = error_body("resource not found", "OBJECT_NOT_FOUND")
    elif status == 409:
        body = error_body("Conflict", "CONFLICT")
    elif status in (502, 503, 504):
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        body = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"
    elif status >= 500:
        body = error_body("internal error", "INTERNAL_ERROR")
    else:
        body = error_body("Invalid input", "VALIDATION_ERROR")
    return status, body, headers


class _Handler(BaseHTTPRequestHandler):
    server: HubSpotServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY every answer waits
    # ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        if isinstance(body, str):
            data, content_type = body.encode(), "text/html; charset=utf-8"
        else:
            data, content_type = json.dumps(body).encode(), "application/json;charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = parse_qs(url.query)
        try:
            body = json.loads(raw) if raw else None
            bad_json = False
        except ValueError:
            body, bad_json = raw.decode(errors="replace"), True
        token = self.headers.get("Authorization", "")
        authorized = token.startswith("Bearer ") and token[7:].strip() == state.access_token
        if authorized and state.latency:
            time.sleep(state.latency)
        drop = False
        with state.lock:
            if not authorized:
                status, payload, headers = 401, auth_error_body(), {}
            else:
                fault = state.forced[0] if state.forced else None
                if isinstance(fault, int):
                    fault = Fault(fault)
                if fault is not None and fault.path not in (None, url.path):
                    fault = None  # it waits for its own path
                elif fault is not None:
                    state.forced.popleft()
                if fault is not None and fault.drop:
                    status, payload, headers, drop = 0, None, {}, True
                elif fault is not None:
                    status, payload, headers = _fault_answer(fault, self._rate_headers(state))
                elif bad_json:
                    status, payload, headers = (
                        400,
                        error_body("Invalid input JSON on line 1", "VALIDATION_ERROR"),
                        {},
                    )
                else:
                    status, payload, headers = self._admitted(state, method, url.path, query, body)
            flat_query = {k: ",".join(v) for k, v in query.items()}
            state.requests.append(
                Seen(method, url.path, flat_query, body, status, time.monotonic())
            )
        if drop:
            self.close_connection = True
            return
        self._send(status, payload, headers)

    def _admitted(
        self, state: HubSpotState, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> Answer:
        """Apply the rate limits, then route; quota is only spent by admitted requests."""
        now = time.monotonic()
        while state._window and now - state._window[0] >= RATE_WINDOW_SECONDS:
            state._window.popleft()
        if state.max_per_10s is not None and len(state._window) >= state.max_per_10s:
            return 429, rate_limit_body("TEN_SECONDLY_ROLLING"), self._rate_headers(state)
        if state.daily_limit is not None and state._daily_used >= state.daily_limit:
            return 429, rate_limit_body("DAILY"), self._rate_headers(state)
        state._window.append(now)
        state._daily_used += 1
        api = _Api(state)
        try:
            status, payload, headers = api.route(method, path, query, body)
        except _Reject as reject:
            status, payload, headers = reject.status, reject.body, {}
        except Exception as exc:  # a bug in the fake: answer 500 so the test shows why
            status, payload, headers = 500, error_body(repr(exc), "INTERNAL_ERROR"), {}
        return status, payload, {**self._rate_headers(state), **headers}

    @staticmethod
    def _rate_headers(state: HubSpotState) -> dict[str, str]:
        headers: dict[str, str] = {}
        if state.max_per_10s is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(state.max_per_10s)
            headers["X-HubSpot-RateLimit-Remaining"] = str(
                max(state.max_per_10s - len(state._window), 0)
            )
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
                int(RATE_WINDOW_SECONDS * 1000)
            )
        if state.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(state.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(state.daily_limit - state._daily_used, 0)
            )
        return headers

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class HubSpotServer(ThreadingHTTPServer):
    """Serves `state` on 127.0.0.1 (a free port) while used as a context manager."""

    daemon_threads = True

    def __init__(self, state: HubSpotState | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state if state is not None else HubSpotState()
        # A short poll interval makes `shutdown()` (each test's teardown) take ~10 ms, not 0.5 s.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def sdk(self, **config: Any) -> Any:
        """An official SDK client pointed here; `config` (e.g. `access_token`, `retry`,
        `client_side_validation=True`) goes to the SDK's Configuration."""
        from hubspot import HubSpot

        config.setdefault("access_token", self.state.access_token)
        return HubSpot(host=self.url, **config)

    def __enter__(self) -> HubSpotServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
