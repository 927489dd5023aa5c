"""The mapping from scored leads to CRM properties, and the payloads it produces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.store.sql import sha256_hex

DEFAULT_MAPPING = Path(__file__).with_name("mapping.yaml")
LIST_SEPARATOR = "; "


class MappingError(ValueError):
    """The mapping is unusable; the message names the file, key or column."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PropertyMap(_Strict):
    source: str = Field(alias="from")
    owned: bool = False


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

    def owned(self) -> frozenset[str]:
        return frozenset(n for n, p in self.contacts.properties.items() if p.owned)


def load_mapping(path: str | Path | None = None) -> CrmMapping:
    path = Path(path) if path else DEFAULT_MAPPING
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def payloads(props: pl.DataFrame) -> list[dict[str, str]]:
    """Row dicts without nulls (HubSpot keeps a value we do not send)."""
    return [{k: v for k, v in row.items() if v is not None} for row in props.iter_rows(named=True)]


def payload_hash(payload: dict[str, Any]) -> str:
    return sha256_hex(json.dumps(payload, sort_keys=True, separators=(",", ":")))
