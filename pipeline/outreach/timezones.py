"""The recipient's time zone, from what the lead says about where they are.

In order: the state or province (a US state through the `us` package, Canadian provinces
and Australian states from the table below), the phone number's area (phonenumbers' time
zone data, when it names one zone), the country (when all its zones keep the same offsets),
else the sequence's `default_timezone` (the sender's zone), which is then what the send
window means. Each answer says where it came from.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import phonenumbers
import pytz
import us
from phonenumbers import timezone as phone_timezone

PROVINCES = {
    "CA": {
        "AB": "America/Edmonton", "BC": "America/Vancouver", "MB": "America/Winnipeg",
        "NB": "America/Moncton", "NL": "America/St_Johns", "NS": "America/Halifax",
        "NT": "America/Yellowknife", "NU": "America/Iqaluit", "ON": "America/Toronto",
        "PE": "America/Halifax", "QC": "America/Toronto", "SK": "America/Regina",
        "YT": "America/Whitehorse",
    },
    "AU": {
        "ACT": "Australia/Sydney", "NSW": "Australia/Sydney", "NT": "Australia/Darwin",
        "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "TAS": "Australia/Hobart",
        "VIC": "Australia/Melbourne", "WA": "Australia/Perth",
    },
}  # fmt: skip
_REFERENCE = (datetime(2025, 1, 15, 12), datetime(2025, 7, 15, 12))


def _same_offsets(zones: list[str]) -> bool:
    offsets = {tuple(ZoneInfo(z).utcoffset(moment) for moment in _REFERENCE) for z in zones}
    return len(offsets) == 1


@cache
def zone_of_state(country: str | None, state: str | None) -> str | None:
    if not state:
        return None
    state = state.strip()
    if country in (None, "", "US"):
        found = us.states.lookup(state)
        if found is not None and found.time_zones:
            return found.time_zones[0]  # the zone most of the state keeps
        if country == "US":
            return None
    table = PROVINCES.get(country or "", {})
    return table.get(state.upper())


@cache
def zone_of_phone(e164: str | None) -> str | None:
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    if zones and _same_offsets(zones):
        return zones[0]
    return None


@cache
def zone_of_country(country: str | None) -> str | None:
    if not country:
        return None
    zones = pytz.country_timezones.get(country.upper())
    if zones and _same_offsets(list(zones)):
        return zones[0]
    return None


def recipient_zone(
    country: str | None, state: str | None, phone: str | None, default: str
) -> tuple[str, str]:
    """(IANA zone, source): source is state, phone, country or default."""
    for source, zone in (
        ("state", zone_of_state(country, state)),
        ("phone", zone_of_phone(phone)),
        ("country", zone_of_country(country)),
    ):
        if zone:
            return zone, source
    return default, "default"
