"""Step 1, intake: HubSpot Forms API submission objects -> inbox events -> prospects.

Both channels (`POST /webhooks/forms` and `agent run --form FILE.json`) take the object
HubSpot's Forms API returns for one submission::

    {"conversionId": "...", "submittedAt": 1733500000000, "formId": "...", "portalId": 123,
     "pageUrl": "...", "values": [{"name": "email", "value": "..."}, ...]}

and land it in the webhook inbox under one fingerprint per `conversionId`, so the same
submission arriving twice, by either channel, is one event. The prospect is then made by the
project's own normalizers (`normalize_leads`, the ingest's header aliases for field names), so
a form's "firstname" and a file's "First Name" become the same person.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.headers import field_of, load_aliases
from pipeline.normalize.leads import normalize_leads
from pipeline.schema import LEAD_FIELDS, RAW_LEADS_SCHEMA, conform
from pipeline.store.inbox import InboxEvent
from pipeline.store.sql import sha256_hex

SOURCE = "forms"
EVENT_TYPE = "form.submission"
# Form properties HubSpot names differently from the ingest's header aliases.
FORM_FIELDS = {
    "message": "notes",
    "mobilephone": "mobile_phone",
    "zip": "postcode",
    "hs_linkedin_url": "linkedin_url",
}
PROSPECT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "company",
    "domain",
    "website",
    "job_title",
    "seniority",
    "department",
    "phone_e164",
    "country",
    "state",
    "city",
    "is_free_email",
    "is_role_email",
    "notes",
)


class MalformedSubmission(ValueError):
    """Not a Forms API submission object; the message names the field."""


class SubmissionRejected(ValueError):
    """A well-formed submission the agent cannot act on (no valid email); kept, not retried."""


class FormValue(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)
    value: Any = None
    object_type_id: str | None = Field(default=None, alias="objectTypeId")

    def text(self) -> str:
        if isinstance(self.value, list):  # multi-select fields
            return ";".join(str(v) for v in self.value)
        return "" if self.value is None else str(self.value)


class FormSubmission(BaseModel):
    """One submission as HubSpot's Forms API returns it (extra keys are kept)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    conversion_id: str = Field(alias="conversionId", min_length=1, max_length=120)
    submitted_at: int = Field(alias="submittedAt", ge=0)
    form_id: str | None = Field(default=None, alias="formId", max_length=120)
    portal_id: int | str | None = Field(default=None, alias="portalId")
    page_url: str | None = Field(default=None, alias="pageUrl")
    values: list[FormValue] = Field(min_length=1)

    @field_validator("conversion_id")
    @classmethod
    def _id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @property
    def submitted(self) -> datetime:
        return datetime.fromtimestamp(self.submitted_at / 1000, UTC)

    def fields(self) -> dict[str, str]:
        """name -> text (a repeated name keeps its first non-blank value)."""
        out: dict[str, str] = {}
        for item in self.values:
            text = item.text().strip()
            if text and item.name not in out:
                out[item.name] = text
        return out


def parse_submission(data: Any, where: str) -> FormSubmission:
    if not isinstance(data, dict):
        raise MalformedSubmission(f"{where}: a submission is a JSON object")
    try:
        return FormSubmission.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or "(object)"
        raise MalformedSubmission(
            f"{where}: field {field!r}: {err['msg'].removeprefix('Value error, ')}"
        ) from None


def fingerprint(conversion_id: str) -> str:
    return sha256_hex(f"{SOURCE}|{conversion_id}")


def canonical(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def inbox_event(submission: FormSubmission, data: dict[str, Any]) -> InboxEvent:
    return InboxEvent(
        source=SOURCE,
        fingerprint=fingerprint(submission.conversion_id),
        event_type=EVENT_TYPE,
        object_id=submission.conversion_id,
        occurred_at=submission.submitted,
        payload=canonical(data),
    )


def submission_events(body: bytes) -> list[InboxEvent]:
    """A request body (one submission object, or an array of them) as inbox events; raises
    MalformedSubmission naming the item and field."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedSubmission(f"body is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise MalformedSubmission("body is an empty array")
    events = []
    for index, item in enumerate(items):
        where = f"submission [{index}]" if isinstance(data, list) else "submission"
        events.append(inbox_event(parse_submission(item, where), item))
    return events


def raw_row(submission: FormSubmission, aliases: Mapping[str, str]) -> tuple[dict, dict]:
    """(canonical lead fields, the other form fields) of a submission."""
    lead: dict[str, str] = {}
    other: dict[str, str] = {}
    for name, text in submission.fields().items():
        canonical_field = FORM_FIELDS.get(name.lower()) or field_of(name, aliases)
        if canonical_field in LEAD_FIELDS and canonical_field not in lead:
            lead[canonical_field] = text
        else:
            other[name] = text
    return lead, other


def prospect_of(
    submission: FormSubmission,
    default_country: str = "US",
    aliases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The prospect as the ingest would have normalized the same person; raises
    SubmissionRejected when there is no valid email to write to."""
    lead, other = raw_row(submission, aliases or load_aliases())
    raw = conform(
        pl.DataFrame(
            [
                {
                    **lead,
                    "lead_id": f"form:{submission.conversion_id}",
                    "source_file": f"form {submission.form_id or '?'}",
                    "row_number": 1,
                    "lead_source": lead.get("lead_source") or "web form",
                    "original": canonical(submission.fields()),
                }
            ]
        ),
        RAW_LEADS_SCHEMA,
    )
    accepted, rejected = normalize_leads(raw, default_country)
    if accepted.is_empty():
        raise SubmissionRejected(
            f"submission {submission.conversion_id}: {rejected['detail'][0]}"
            if not rejected.is_empty() and rejected["detail"][0]
            else f"submission {submission.conversion_id}: no usable fields"
        )
    row = accepted.row(0, named=True)
    if not row["email_valid"]:
        given = lead.get("email")
        raise SubmissionRejected(
            f"submission {submission.conversion_id}: field 'email': "
            + (f"{given!r} is not a valid email address" if given else "missing")
            + " (the agent writes to the prospect's email)"
        )
    prospect = {column: row.get(column) for column in PROSPECT_COLUMNS}
    prospect["email"] = (row["email"] or "").strip().lower()
    prospect["other_fields"] = other
    prospect["submitted_at"] = submission.submitted.isoformat()
    prospect["page_url"] = submission.page_url
    return prospect
