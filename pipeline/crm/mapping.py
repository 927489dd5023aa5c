"""The mapping from scored leads to CRM properties, and the payloads it produces.

Payloads are built as columns, not row dicts: each record's properties become one canonical
JSON string (keys sorted, no blanks, compact, UTF-8: exactly
`json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`), and its
hash is the SHA-256 of that string, computed by polars-hash. The outbox stores the string,
the ledger stores string and hash, the HubSpot backend parses a batch of them at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
import polars_hash  # noqa: F401  (registers the `chash` namespace used by sha256)
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_MAPPING = Path(__file__).with_name("mapping.yaml")
LIST_SEPARATOR = "; "


class MappingError(ValueError):
    """The mapping is unusable; the message names the file, key or column."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PropertyMap(_Strict):
    source: str = Field(alias="from")
    owned: bool = False
    # The name of an entry under `enumerations`: free text is mapped onto its options.
    options: str | None = None


class Enumeration(_Strict):
    """How free text becomes one of a CRM enumeration's options (e.g. HubSpot's `industry`):
    an exact match on an option's value or label (case, punctuation and "and"/"&" aside) or
    on an alias, then the closest option by rapidfuzz's token-sort ratio at or above
    `fuzzy_cutoff`, else the value is not sent and is reported as unmapped."""

    fuzzy_cutoff: float = Field(default=88.0, ge=0, le=100)
    aliases: dict[str, str] = Field(default_factory=dict)
    # The CRM's option values; with CRM_BACKEND=hubspot the portal's own list is used instead.
    options: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _aliases_name_options(self) -> Enumeration:
        unknown = sorted({v for v in self.aliases.values()} - set(self.options))
        if self.options and unknown:
            raise ValueError(f"aliases point at values that are not options: {unknown}")
        return self


class ContactMapping(_Strict):
    mode: Literal["upsert", "update_only", "create_only"] = "upsert"
    id_property: Literal["email"] = "email"
    properties: dict[str, PropertyMap]


class CompanyMapping(_Strict):
    key: Literal["domain"] = "domain"
    properties: dict[str, PropertyMap]


class CrmMapping(_Strict):
    contacts: ContactMapping
    companies: CompanyMapping | None = None
    enumerations: dict[str, Enumeration] = Field(default_factory=dict)

    def owned(self) -> frozenset[str]:
        return frozenset(n for n, p in self.contacts.properties.items() if p.owned)


def load_mapping(path: str | Path | None = None) -> CrmMapping:
    path = Path(path) if path else DEFAULT_MAPPING
    try:
        # libyaml's loader when present: the pure-Python one takes ~0.2 s on this file.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        mapping = CrmMapping.model_validate(data)
    except FileNotFoundError:
        raise MappingError(f"{path}: CRM mapping not found") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise MappingError(f"{path}: {where}: {err['msg']}") from None
    id_source = mapping.contacts.properties.get(mapping.contacts.id_property)
    if id_source is None:
        raise MappingError(
            f"{path}: contacts.properties must map the id property {mapping.contacts.id_property!r}"
        )
    sections = [("contacts", mapping.contacts.properties)]
    if mapping.companies is not None:
        sections.append(("companies", mapping.companies.properties))
    for section, properties in sections:
        for name, prop in properties.items():
            if prop.options is not None and prop.options not in mapping.enumerations:
                raise MappingError(
                    f"{path}: {section}.properties.{name}.options: no enumeration "
                    f"{prop.options!r} under `enumerations`"
                )
    return mapping


def _as_text(frame: pl.DataFrame, column: str) -> pl.Expr:
    """CRM properties are strings: lists joined, numbers and dates printed, blanks dropped."""
    dtype = frame.schema[column]
    col = pl.col(column)
    if isinstance(dtype, pl.List):
        text = col.cast(pl.List(pl.String)).list.join(LIST_SEPARATOR)
    elif dtype == pl.Boolean:
        text = pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false"))
    elif isinstance(dtype, pl.Datetime):
        text = col.dt.strftime("%Y-%m-%d")
    else:
        text = col.cast(pl.String)
    return pl.when(text.str.strip_chars() != "").then(text.str.strip_chars())


def property_frame(
    frame: pl.DataFrame, properties: dict[str, PropertyMap], what: str
) -> pl.DataFrame:
    """One string column per CRM property (null: not sent)."""
    missing = sorted({p.source for p in properties.values()} - set(frame.columns))
    if missing:
        raise MappingError(f"{what}: mapped columns missing from the input: {missing}")
    return frame.select(_as_text(frame, p.source).alias(name) for name, p in properties.items())


def json_object(columns: list[str]) -> pl.Expr:
    """The canonical JSON object of the named string columns (sorted keys, nulls left out).

    One struct encoding, then the null members cut out: a member `"key":null` can only
    start at a comma followed by an unescaped quote (or at the opening brace), which never
    occurs inside an encoded string value."""
    if not columns:
        return pl.lit("{}")
    encoded = pl.struct(sorted(columns)).struct.json_encode()
    return encoded.str.replace_all(r',"[^"]+":null', "").str.replace(r'^\{"[^"]+":null,?', "{")


def with_member(obj: pl.Expr, key: str, value: pl.Expr) -> pl.Expr:
    """`obj` (a canonical JSON object) with `key` first, when `value` is not null; `key`
    must sort before every key of `obj` (e.g. "__company" before lower-case names)."""
    member = pl.struct(value.alias(key)).struct.json_encode().str.strip_suffix("}")
    rest = pl.when(obj == "{}").then(pl.lit("}")).otherwise(pl.lit(",") + obj.str.slice(1))
    return pl.when(value.is_null()).then(obj).otherwise(member + rest)


def sha256(expr: pl.Expr) -> pl.Expr:
    """Hex SHA-256 of a string expression, vectorized (polars-hash: stable across versions,
    unlike polars' own `hash`, so it can be stored)."""
    return expr.chash.sha2_256()
