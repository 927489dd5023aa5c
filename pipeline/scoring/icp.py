"""The ideal customer profile (ICP): scoring rules in YAML, validated with clear errors.

A rule looks at one column (cases may name another) and gives points for the first case that
matches, `otherwise` points when a value is there but no case matched, and `missing` points
when every column the rule looks at is empty. Exactly one outcome per rule applies to a lead,
which keeps each score explainable rule by rule and lets a learned model (learn.py) be written
back in this same shape: one number per rule outcome.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_ICP_PATH = Path(__file__).with_name("icp.yaml")
MAX_POINTS = 100


class IcpError(ValueError):
    """An ICP file that cannot be used; the message names the file and the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """`equals: vp` reads as well as `equals: [vp]`."""
    if value is None or isinstance(value, list):
        return value
    return [value]


class Case(_Strict):
    """One condition and its points. Strings match case-insensitively, ignoring spaces at the
    ends and thousands separators ("10,001+" equals "10001+"); `contains` phrases must start
    at a word start ("referral" matches "Referrals", "it" does not match "digital"); on a list
    column (e.g. technologies) a case matches when any element does."""

    column: str | None = Field(default=None, description="Look at this column instead.")
    equals: list[str | bool | int] | None = None
    contains: list[str] | None = None
    within_days: int | None = Field(default=None, ge=0, description="Date at most N days old.")
    older_than_days: int | None = Field(default=None, ge=0, description="Date over N days old.")
    points: int = Field(ge=-MAX_POINTS, le=MAX_POINTS)
    label: str | None = Field(default=None, description="Plain words for the reason.")

    _listify = field_validator("equals", "contains", mode="before")(_as_list)

    @model_validator(mode="after")
    def _one_condition(self) -> Case:
        kinds = [
            name
            for name, given in (
                ("equals/contains", self.equals is not None or self.contains is not None),
                ("within_days", self.within_days is not None),
                ("older_than_days", self.older_than_days is not None),
            )
            if given
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a case needs exactly one condition: equals and/or contains, within_days or "
                f"older_than_days (got {', '.join(kinds) or 'none'})"
            )
        if self.equals == [] or self.contains == []:
            raise ValueError("equals/contains need at least one value")
        if self.contains and any(not isinstance(v, str) or not v.strip() for v in self.contains):
            raise ValueError("contains takes non-empty strings")
        return self

    def describe(self, rule: str) -> str:
        if self.label:
            return self.label
        if self.within_days is not None:
            return f"{rule} within {self.within_days} days"
        if self.older_than_days is not None:
            return f"{rule} over {self.older_than_days} days ago"
        values = [str(v) for v in (self.equals or []) + (self.contains or [])]
        return f"{rule}: {' / '.join(values)}"


class Outcome(_Strict):
    """Points for `otherwise` (a value no case matched) or `missing` (no value at all)."""

    points: int = Field(default=0, ge=-MAX_POINTS, le=MAX_POINTS)
    label: str | None = None


class Rule(_Strict):
    column: str = Field(min_length=1)
    description: str = ""
    cases: list[Case] = Field(default_factory=list, max_length=200)
    otherwise: Outcome = Field(default_factory=Outcome)
    missing: Outcome = Field(default_factory=Outcome)

    def columns(self) -> list[str]:
        """Every column the rule reads, its own first."""
        cols = [self.column]
        for case in self.cases:
            if case.column and case.column not in cols:
                cols.append(case.column)
        return cols

    def outcomes(self, name: str) -> list[tuple[int, str]]:
        """(points, label) per outcome code: the cases in order, then otherwise, then missing."""
        out = [(c.points, c.describe(name)) for c in self.cases]
        out.append((self.otherwise.points, self.otherwise.label or f"other {name}"))
        out.append((self.missing.points, self.missing.label or f"no {name}"))
        return out


class Icp(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    base: int = Field(ge=-MAX_POINTS, le=2 * MAX_POINTS, description="Points before any rule.")
    grades: dict[str, int] = Field(
        min_length=1, description="Grade -> minimum score, e.g. {A: 75, B: 55, C: 35, D: 0}."
    )
    max_reasons: int = Field(default=4, ge=1, le=10)
    rules: dict[str, Rule] = Field(min_length=1)

    @field_validator("grades")
    @classmethod
    def _grades(cls, grades: dict[str, int]) -> dict[str, int]:
        for grade, minimum in grades.items():
            if not 0 <= minimum <= MAX_POINTS:
                raise ValueError(f"grade {grade!r}: minimum {minimum} is outside 0-100")
        if 0 not in grades.values():
            raise ValueError("one grade needs minimum 0, so every score gets a grade")
        if len(set(grades.values())) != len(grades):
            raise ValueError(f"two grades share a minimum: {grades}")
        return dict(sorted(grades.items(), key=lambda kv: -kv[1]))

    def sha256(self) -> str:
        """Content hash: metadata shows whether two runs scored with the same rules."""
        dumped = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(dumped.encode()).hexdigest()[:12]

    def to_yaml(self, header: str = "") -> str:
        body = yaml.safe_dump(
            self.model_dump(mode="json", exclude_defaults=True),
            sort_keys=False,
            default_flow_style=None,  # short lists inline: `equals: [vp, c_level]`
            allow_unicode=True,
            width=100,
        )
        comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
        return comment + body


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read Norway's code `NO` (and `yes`,
    `on`, `off`) as a boolean, silently breaking a country list."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
    )


def parse_icp(data: Any, source: str = "ICP") -> Icp:
    """Validate a mapping (e.g. parsed YAML); errors name the key, e.g.
    `rules.seniority.cases.0.points`."""
    try:
        return Icp.model_validate(data)
    except ValidationError as exc:
        raise IcpError(f"{source}: {_problems(exc)}") from exc


def load_icp(path: str | Path | None = None) -> Icp:
    """The ICP at `path`, or the packaged default."""
    path = Path(path) if path else DEFAULT_ICP_PATH
    if not path.is_file():
        raise IcpError(f"ICP {path}: no such file")
    try:
        data = read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise IcpError(f"ICP {path}: invalid YAML: {exc}") from exc
    return parse_icp(data, f"ICP {path}")
