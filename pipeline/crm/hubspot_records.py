"""Single-record lookups and writes on HubSpot, for the prospecting agent: a contact by
email, a company by domain, creating either, the owner by email, and follow-up tasks linked
to a contact (found again by subject before one is created, so a re-run makes none twice).

A mixin of `HubSpotCrm`: every call goes through its `_call` (rate windows, daily quota,
retries on 429/5xx, errors with HubSpot's category). The tasks and owners SDK modules raise
their own `ApiException` classes, which are translated to the contacts module's so `_call`
treats them like the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hubspot.crm.companies import Filter as CompanyFilter
from hubspot.crm.companies import FilterGroup as CompanyFilterGroup
from hubspot.crm.companies import PublicObjectSearchRequest as CompanySearch
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.objects.tasks import ApiException as TasksApiException
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
)
from hubspot.crm.objects.tasks import Filter as TaskFilter
from hubspot.crm.objects.tasks import FilterGroup as TaskFilterGroup
from hubspot.crm.objects.tasks import PublicObjectSearchRequest as TaskSearch
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskInput
from hubspot.crm.owners import ApiException as OwnersApiException

from pipeline.crm.client import CrmRecord, FollowUpTask

SEARCH_SORTS = ["hs_object_id"]

TASK_TO_CONTACT = 204  # HubSpot-defined association type: task -> contact
CONTACT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "lifecyclestage",
    "hs_lead_status",
    "createdate",
    "hubspot_owner_id",
    "notes_last_contacted",
]
COMPANY_PROPERTIES = [
    "name",
    "domain",
    "industry",
    "numberofemployees",
    "country",
    "city",
    "lifecyclestage",
    "createdate",
]
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


def _translated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` raising the contacts module's ApiException for the tasks' and owners' ones."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TasksApiException, OwnersApiException) as exc:
            translated = ContactsApiException(status=exc.status, reason=exc.reason)
            translated.body, translated.headers = exc.body, exc.headers
            raise translated from None

    return call


def _record(object_type: str, answer: Any, created: bool = False) -> CrmRecord:
    properties = {k: v for k, v in (answer.properties or {}).items()}
    return CrmRecord(object_type, str(answer.id), properties, created)


class HubSpotRecords:
    """Mixed into `HubSpotCrm` (which provides `_api` and `_call`)."""

    _api: Any
    _call: Callable[..., Any]

    def find_contact(self, email: str) -> CrmRecord | None:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name="email", operator="EQ", value=email.lower())]
                )
            ],
            properties=CONTACT_PROPERTIES,
            limit=1,
            sorts=SEARCH_SORTS,  # HubSpot's spec requires sorts and after
            after="0",
        )
        found = self._call(
            "search contacts",
            self._api.crm.contacts.search_api.do_search,
            public_object_search_request=request,
            search=True,
        )
        return _record("contact", found.results[0]) if found.results else None

    def find_company(self, domain: str) -> CrmRecord | None:
        request = CompanySearch(
            filter_groups=[
                CompanyFilterGroup(
                    filters=[
                        CompanyFilter(property_name="domain", operator="EQ", value=domain.lower())
                    ]
                )
            ],
            properties=COMPANY_PROPERTIES,
            limit=1,
            sorts=SEARCH_SORTS,  # HubSpot's spec requires sorts and after
            after="0",
        )
        found = self._call(
            "search companies",
            self._api.crm.companies.search_api.do_search,
            public_object_search_request=request,
            search=True,
        )
        return _record("company", found.results[0]) if found.results else None

    def create_contact(self, email: str, properties: dict[str, str]) -> CrmRecord:
        from pipeline.crm.hubspot import CrmError

        values = {k: v for k, v in {**properties, "email": email.lower()}.items() if v}
        try:
            made = self._call(
                "create contact",
                self._api.crm.contacts.basic_api.create,
                simple_public_object_input_for_create=ContactInput(
                    associations=[], properties=values
                ),
            )
        except CrmError as exc:
            existing = _EXISTING_ID.search(str(exc))
            if "CONFLICT" not in str(exc) and existing is None:
                raise
            # Created meanwhile (a crashed run's create, not searchable yet): use that one.
            found = self.find_contact(email)
            if found is not None:
                return found
            if existing is None:
                raise
            return CrmRecord("contact", existing.group(1), values)
        return _record("contact", made, created=True)

    def create_company(self, domain: str, properties: dict[str, str]) -> CrmRecord:
        values = {k: v for k, v in {**properties, "domain": domain.lower()}.items() if v}
        made = self._call(
            "create company",
            self._api.crm.companies.basic_api.create,
            simple_public_object_input_for_create=CompanyInput(associations=[], properties=values),
        )
        return _record("company", made, created=True)

    def owner_id(self, email: str) -> str | None:
        page = self._call(
            "look up owner",
            _translated(self._api.crm.owners.owners_api.get_page),
            email=email.lower(),
            limit=1,
        )
        results = page.results or []
        return str(results[0].id) if results else None

    def find_task(self, task: FollowUpTask) -> str | None:
        request = TaskSearch(
            filter_groups=[
                TaskFilterGroup(
                    filters=[
                        TaskFilter(
                            property_name="hs_task_subject", operator="EQ", value=task.subject
                        )
                    ]
                )
            ],
            properties=["hs_task_subject"],
            limit=1,
            sorts=SEARCH_SORTS,  # HubSpot's spec requires sorts and after
            after="0",
        )
        found = self._call(
            "search tasks",
            _translated(self._api.crm.objects.tasks.search_api.do_search),
            public_object_search_request=request,
            search=True,
        )
        return str(found.results[0].id) if found.results else None

    def create_task(self, task: FollowUpTask) -> str:
        found = self.find_task(task)
        if found is not None:
            return found
        properties = {
            "hs_timestamp": task.due_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "hs_task_subject": task.subject,
            "hs_task_body": task.body,
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": task.priority,
            "hs_task_type": "TODO",
        }
        if task.owner_id:
            properties["hubspot_owner_id"] = task.owner_id
        made = self._call(
            "create task",
            _translated(self._api.crm.objects.tasks.basic_api.create),
            simple_public_object_input_for_create=TaskInput(
                properties=properties,
                associations=[
                    PublicAssociationsForObject(
                        to=PublicObjectId(id=task.contact_id),
                        types=[
                            AssociationSpec(
                                association_category="HUBSPOT_DEFINED",
                                association_type_id=TASK_TO_CONTACT,
                            )
                        ],
                    )
                ],
            ),
        )
        return str(made.id)
