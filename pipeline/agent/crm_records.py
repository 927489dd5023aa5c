"""Step 2, resolve in the CRM: the contact by email and the company by domain, created when
missing (outbox or HubSpot, through the CRM client), linked, with their ids recorded. What the
CRM already knew (lifecycle stage, since when) becomes a fact for the writer."""

from __future__ import annotations

from typing import Any

from pipeline.crm.client import Association, CrmClient, CrmRecord

CONTACT_FIELDS = {
    "firstname": "first_name",
    "lastname": "last_name",
    "company": "company",
    "jobtitle": "job_title",
    "phone": "phone_e164",
    "country": "country",
    "state": "state",
    "city": "city",
    "website": "website",
}
HISTORY_PROPERTIES = ("lifecyclestage", "hs_lead_status", "createdate", "notes_last_contacted")


def contact_properties(prospect: dict[str, Any]) -> dict[str, str]:
    props = {hs: str(prospect[ours]) for hs, ours in CONTACT_FIELDS.items() if prospect.get(ours)}
    props["lifecyclestage"] = "lead"
    return props


def company_properties(prospect: dict[str, Any], enriched: dict[str, Any]) -> dict[str, str]:
    name = prospect.get("company") or enriched.get("company")
    props = {"name": str(name)} if name else {}
    for hs, key in (("industry", "industry"), ("country", "country"), ("website", "website")):
        if enriched.get(key) and hs != "industry":
            props[hs] = str(enriched[key])
    return props


def _history(record: CrmRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: record.properties.get(k) for k in HISTORY_PROPERTIES if record.properties.get(k)}


def resolve(
    client: CrmClient, prospect: dict[str, Any], enriched: dict[str, Any], gate: Any
) -> dict[str, Any]:
    """Find or create the contact and the company (the kill switch is read before each
    write); returns ids, what was created and what the CRM already knew."""
    email = prospect["email"]
    domain = None if prospect.get("is_free_email") else prospect.get("domain")
    contact = client.find_contact(email)
    known_contact = _history(contact)
    if contact is None:
        gate("CRM writes (agent: create contact)")
        contact = client.create_contact(email, contact_properties(prospect))
    company = None
    known_company = None
    if domain:
        company = client.find_company(domain)
        known_company = _history(company) if company else None
        if company is None:
            props = company_properties(prospect, enriched)
            gate("CRM writes (agent: create company)")
            company = client.create_company(domain, props)
        if contact.created or company.created:
            gate("CRM writes (agent: associate)")
            client.associate([Association(email, contact.id, domain, company.id)])
    return {
        "contact_id": contact.id,
        "contact_created": contact.created,
        "contact_known": known_contact,
        "contact_properties": {k: v for k, v in contact.properties.items() if v},
        "company_id": company.id if company else None,
        "company_created": bool(company and company.created),
        "company_known": known_company,
        "company_properties": {
            k: v for k, v in (company.properties if company else {}).items() if v
        },
        "domain": domain,
        "enrichment": enriched,
        "backend": client.backend,
    }
