"""Reading a HubSpot portal's contacts and companies (the CRM as a source), as a mixin of
`HubSpotCrm`: every request goes through its `_call` (rate windows, daily budget, retries).

- A full read pages through the list endpoints (`GET /crm/v3/objects/{type}`, 100 records a
  page, live and then archived ones): they have no ceiling.
- An incremental read searches `lastmodifieddate >= cursor` (`hs_lastmodifieddate` for
  companies) sorted by it, 200 a page. HubSpot answers at most 10,000 results per query
  (asking for a page beyond them is a 400), so before a query reaches that many the search
  starts again from the last modification time read (`>=`: the records sharing that instant
  are read again, and counted once). Should 10,000 records share one instant (a bulk import),
  no time window can move past them: those are read by `hs_object_id` instead (that instant,
  ids above the last one read, sorted by id), then the time windows go on after it.
- Whether two ids are one record now (a merge that happened, perhaps just before a crash):
  `current_contact_ids` reads each id; HubSpot answers a merged id with the record it was
  merged into.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from hubspot.crm.companies import Filter as CompanyFilter
from hubspot.crm.companies import FilterGroup as CompanyFilterGroup
from hubspot.crm.companies import PublicObjectSearchRequest as CompanySearch
from hubspot.crm.contacts import Filter, FilterGroup, PublicObjectSearchRequest

from pipeline.crm.records import COMPANY, CONTACT, MODIFIED_PROPERTY

LIST_PAGE = 100  # HubSpot's largest page on the list endpoints
SEARCH_PAGE = 200  # ... and on the search endpoints
SEARCH_CEILING = 10_000  # results one search query can page through
_TYPES = {CONTACT: "contacts", COMPANY: "companies"}
_SEARCH_MODELS = {
    CONTACT: (PublicObjectSearchRequest, FilterGroup, Filter),
    COMPANY: (CompanySearch, CompanyFilterGroup, CompanyFilter),
}


def epoch_ms(moment: datetime) -> int:
    from datetime import UTC

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _ms(value: Any) -> int | None:
    from pipeline.crm.records import parse_timestamp

    parsed = parse_timestamp(value)
    return epoch_ms(parsed) if parsed is not None else None


class HubSpotReads:
    """Mixed into `HubSpotCrm` (which provides `_api` and `_call`)."""

    _api: Any
    _call: Callable[..., Any]

    def _basic_api(self, object_type: str) -> Any:
        cache = self.__dict__.setdefault("_read_apis", {})
        key = ("basic", object_type)
        if key not in cache:  # each attribute access builds a new client: keep one
            cache[key] = getattr(self._api.crm, _TYPES[object_type]).basic_api
        return cache[key]

    def _search_api(self, object_type: str) -> Any:
        cache = self.__dict__.setdefault("_read_apis", {})
        key = ("search", object_type)
        if key not in cache:
            cache[key] = getattr(self._api.crm, _TYPES[object_type]).search_api
        return cache[key]

    def list_records(
        self, object_type: str, properties: list[str], *, archived: bool = False
    ) -> Iterator[list[dict]]:
        """Every record of the type (archived ones with `archived`), a page at a time."""
        after: str | None = None
        what = f"list {'archived ' if archived else ''}{_TYPES[object_type]}"
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_PAGE, "properties": properties}
            if after is not None:
                kwargs["after"] = after
            if archived:
                kwargs["archived"] = "true"  # HubSpot's spelling (the SDK would send "True")
            _, body = self._call(what, self._basic_api(object_type).get_page, raw=True, **kwargs)
            yield list(body.get("results") or [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _search(self, object_type: str, filters: list[tuple[str, str, str]], sort: str, after: str,
                properties: list[str]) -> dict:  # fmt: skip
        request_model, group_model, filter_model = _SEARCH_MODELS[object_type]
        request = request_model(
            filter_groups=[
                group_model(
                    filters=[
                        filter_model(property_name=name, operator=op, value=value)
                        for name, op, value in filters
                    ]
                )
            ],
            # HubSpot sorts by one property; the published guide's object form with a
            # direction (the SDK types it as a string, and sends what it is given).
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=properties,
            limit=SEARCH_PAGE,
            after=after,
        )
        _, body = self._call(
            f"search {_TYPES[object_type]} modified since",
            self._search_api(object_type).do_search,
            public_object_search_request=request,
            search=True,
            raw=True,
        )
        return body

    def count_modified_since(self, object_type: str, since: datetime) -> int:
        """How many records changed since `since` (one search request)."""
        modified = MODIFIED_PROPERTY[object_type]
        body = self._search(
            object_type, [(modified, "GTE", str(epoch_ms(since)))], modified, "0", [modified]
        )
        return int(body.get("total") or 0)

    def search_modified_since(
        self, object_type: str, since: datetime, properties: list[str]
    ) -> Iterator[list[dict]]:
        """Every record modified at or after `since`, a page at a time (a record may come
        twice: where a query window ends and the next starts)."""
        modified = MODIFIED_PROPERTY[object_type]
        lower, operator = epoch_ms(since), "GTE"
        while True:
            read = 0
            last_ms: int | None = None
            after = "0"
            while True:
                body = self._search(
                    object_type, [(modified, operator, str(lower))], modified, after, properties
                )
                results = list(body.get("results") or [])
                if results:
                    yield results
                    read += len(results)
                    last = results[-1]
                    last_ms = _ms((last.get("properties") or {}).get(modified))
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                more = bool(after) or int(body.get("total") or 0) > read
                if not more:
                    return
                if not after or read + SEARCH_PAGE > SEARCH_CEILING:
                    break  # the next page would lie beyond what one query may page through
            if last_ms is None:
                return
            if last_ms > lower or operator == "GT":
                lower, operator = last_ms, "GTE"
                continue
            # A whole query's worth of records modified at one instant: read them all by id
            # (from the first: the time-sorted window had them in no particular order).
            yield from self._same_instant(object_type, modified, lower, properties)
            operator = "GT"

    def _same_instant(
        self,
        object_type: str,
        modified: str,
        instant: int,
        properties: list[str],
    ) -> Iterator[list[dict]]:
        """Records modified exactly at `instant`, by id (each query from the last id read)."""
        last_id = 0
        while True:
            read, after, floor = 0, "0", last_id  # one query: the same filters on every page
            while True:
                body = self._search(
                    object_type,
                    [(modified, "EQ", str(instant)), ("hs_object_id", "GT", str(floor))],
                    "hs_object_id",
                    after,
                    properties,
                )
                results = list(body.get("results") or [])
                if results:
                    yield results
                    read += len(results)
                    last_id = int(results[-1]["id"])
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not after and int(body.get("total") or 0) <= read:
                    return
                if not after or read + SEARCH_PAGE > SEARCH_CEILING:
                    break

    def current_contact_ids(self, ids: list[str]) -> dict[str, str | None]:
        """Each contact id -> the id of the record it is now (itself, or the record it was
        merged into), None when there is none (deleted)."""
        from pipeline.crm.hubspot import CrmError

        out: dict[str, str | None] = {}
        api = self._basic_api(CONTACT)
        for contact_id in dict.fromkeys(ids):
            try:
                _, body = self._call(
                    "read contact",
                    api.get_by_id,
                    contact_id,
                    raw=True,
                    properties=["hs_object_id"],
                )
            except CrmError as exc:
                if exc.status == 404:
                    out[contact_id] = None
                    continue
                raise
            out[contact_id] = str(body.get("id"))
        return out


def reading_window(cursor: datetime | None, overlap: timedelta) -> datetime | None:
    """Where an incremental read starts: a little before the cursor, so records HubSpot's
    search index took in late (it lags writes by seconds) are read too."""
    return None if cursor is None else cursor - overlap
