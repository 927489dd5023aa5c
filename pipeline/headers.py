"""Map whatever headers a file has onto canonical lead fields through the alias table."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import yaml

from pipeline.schema import LEAD_FIELDS

DEFAULT_ALIASES = Path(__file__).with_name("header_aliases.yaml")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def header_key(header: str) -> str:
    """Fold case, accents and punctuation so 'E-mail Address' and 'email_address' meet."""
    folded = unicodedata.normalize("NFKD", str(header)).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("", folded.lower())


class AliasError(ValueError):
    pass


def _read_alias_file(path: Path) -> dict[str, list[str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AliasError(f"header alias file {path}: cannot read it: {exc}") from exc
    if not isinstance(data, dict):
        raise AliasError(f"header alias file {path}: expected a mapping of field -> [aliases]")
    for field, aliases in data.items():
        if field not in LEAD_FIELDS:
            raise AliasError(
                f"header alias file {path}: unknown field {field!r}; "
                f"known fields: {', '.join(LEAD_FIELDS)}"
            )
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise AliasError(f"header alias file {path}: field {field!r} needs a list of strings")
    return data


@cache
def load_aliases(override: Path | None = None) -> Mapping[str, str]:
    """header_key -> canonical field; an override file adds to and wins over the defaults."""
    tables = [_read_alias_file(DEFAULT_ALIASES)]
    if override is not None:
        tables.append(_read_alias_file(override))
    mapping: dict[str, str] = {header_key(f): f for f in LEAD_FIELDS}
    for table in tables:
        for field, aliases in table.items():
            for alias in aliases:
                mapping[header_key(alias)] = field
    return mapping


def map_headers(headers: Iterable[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """original header -> canonical field; the first column claiming a field wins.

    Columns that map to nothing (or lose to an earlier column) stay only in `original`.
    """
    claimed: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field = aliases.get(header_key(header))
        if field and field not in taken:
            claimed[header] = field
            taken.add(field)
    return claimed
