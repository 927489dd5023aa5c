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
_PATH_SPLIT = re.compile(r"[.\[\]/]+")


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


def _path_parts(header: str) -> list[str]:
    """`contact.phones[0].number` -> ['contact', 'phones', 'number'] (flattened JSON paths)."""
    return [p for p in _PATH_SPLIT.split(str(header)) if p and not p.isdigit()]


def field_of(header: str, aliases: Mapping[str, str]) -> str | None:
    """The canonical field a header names, or None.

    A flattened path (`name.first`, `company.address.country`) is tried whole, then by its
    meaningful parts: parent and leaf (`company name`), leaf and parent (`first name`), then
    the leaf alone (`country`). So `company.name` is the company, never a person's name.
    """
    field = aliases.get(header_key(header))
    if field is not None:
        return field
    parts = _path_parts(header)
    if not parts:
        return None
    leaf = parts[-1]
    candidates = [parts[-2] + leaf, leaf + parts[-2]] if len(parts) > 1 else []
    # A list of values (`emails[1]`, `phones`) names the field in the plural.
    singular = leaf[:-1] if leaf.lower().endswith("s") and not leaf.lower().endswith("ss") else ""
    for candidate in (*candidates, leaf, singular):
        field = aliases.get(header_key(candidate)) if candidate else None
        if field is not None:
            return field
    return None


def columns_by_field(headers: Iterable[str], aliases: Mapping[str, str]) -> dict[str, list[str]]:
    """canonical field -> every header that maps to it, in file order.

    A file may name a field twice (two `Email` columns, `Phone` and `Work Phone`): the first
    non-blank value of a row wins and the others are kept as that row's alternate values.
    """
    by_field: dict[str, list[str]] = {}
    for header in headers:
        field = field_of(header, aliases)
        if field is not None:
            by_field.setdefault(field, []).append(header)
    return by_field


def map_headers(headers: Iterable[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """original header -> canonical field, the first column naming a field only.

    Columns that map to nothing (or name a field an earlier column named) stay only in
    `original`; `columns_by_field` has them all.
    """
    return {columns[0]: field for field, columns in columns_by_field(headers, aliases).items()}


def header_score(cells: Iterable[object], aliases: Mapping[str, str]) -> int:
    """How many distinct lead fields a row of cells names: the header row scores highest."""
    fields = {field_of(str(c), aliases) for c in cells if c is not None and str(c).strip()}
    fields.discard(None)
    return len(fields)
