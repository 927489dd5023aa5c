"""The declarative matching spec: fingerprints, blocking rules, comparisons with levels,
clustering guards and survivorship rules, loaded from YAML and validated with clear errors."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPEC_DIR = Path(__file__).with_name("specs")


# Level types scored by a string similarity (0-1) against a threshold.
SIMILARITY_LEVELS = frozenset({"jaro_winkler", "jaro", "token_set"})
# The transforms one reading of a record's names makes (`fingerprints.NameOrder`).
NAME_ORDER_TRANSFORMS = ("given_in_order", "surname_in_order", "written_surname_first")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fingerprint(_Strict):
    """A derived column used as a blocking key or compared like any other column."""

    source: list[str] = Field(min_length=1, description="Input column(s), concatenated.")
    transform: Literal[
        "lower",
        "initial",
        "prefix",
        "suffix",
        "digits",
        "metaphone",
        "nickname",
        "sorted_tokens",
        "email_first",
        "email_last",
        "email_base",
        "email_unseparated",
        "given_in_order",
        "surname_in_order",
        "written_surname_first",
        "agreeing",
        "title_words",
        "street_words",
        "joined",
    ] = "lower"
    length: int | None = Field(default=None, ge=1)
    fallback: str | None = Field(
        default=None, description="Column whose value is used where this one comes out empty."
    )
    expand_initial: str | None = Field(
        default=None,
        description="Column whose value is used where this one comes out a single letter "
        "that starts it ('a' for Adina Hermann, adina.hermann@: the record's own address "
        "spells the initial out).",
    )


class BlockingRule(_Strict):
    name: str
    keys: list[str] = Field(min_length=1)
    # Blocks larger than this are not paired exhaustively: members are sorted and paired with
    # their `window` nearest neighbours instead (a sorted-neighbourhood fallback); with
    # window 0 they are not paired at all (a key worth pairing on only when it is rare).
    max_block_size: int | None = Field(default=None, ge=2)
    window: int | None = Field(default=None, ge=0)
    sort_by: list[str] | None = None


class Level(_Strict):
    """One comparison level; the first level whose condition holds is the pair's level."""

    type: Literal[
        "exact",
        "jaro_winkler",
        "jaro",
        "levenshtein",
        "osa",
        "token_set",
        "date_transposed",
        "numeric_within",
        "swapped",
        "nickname",
        "initial",
        "crossed",
    ]
    column: str | None = Field(
        default=None,
        description="Compare this column instead; for 'crossed', the column one record's "
        "value is looked for in on the other record.",
    )
    threshold: float | None = Field(default=None, ge=0, le=1)
    max_distance: int | None = Field(default=None, ge=0)
    tolerance: float | None = Field(default=None, ge=0)
    label: str | None = None

    @model_validator(mode="after")
    def _needs_parameter(self) -> Level:
        needs = {
            "jaro_winkler": "threshold",
            "jaro": "threshold",
            "token_set": "threshold",
            "levenshtein": "max_distance",
            "osa": "max_distance",
            "numeric_within": "tolerance",
        }
        param = needs.get(self.type)
        if param and getattr(self, param) is None:
            raise ValueError(f"level type {self.type!r} needs {param!r}")
        if self.type == "swapped" and (self.column is None or self.threshold is None):
            raise ValueError("level type 'swapped' needs 'column' (the other name) and 'threshold'")
        if self.type == "crossed" and self.column is None:
            raise ValueError(
                "level type 'crossed' needs 'column' (where the other record may hold the value)"
            )
        return self

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.type == "exact":
            return "exact"
        if self.threshold is not None:
            return f"{self.type} >= {self.threshold}"
        if self.max_distance is not None:
            return f"{self.type} <= {self.max_distance}"
        if self.tolerance is not None:
            return f"within {self.tolerance}"
        return self.type


class Comparison(_Strict):
    name: str
    column: str
    levels: list[Level] = Field(min_length=1)
    # Rare exact values count for more than common ones ('Smith', a shared switchboard).
    tf_adjustment: bool = False

    @property
    def labels(self) -> list[str]:
        return [lv.describe() for lv in self.levels] + ["else"]


class JointFrequency(_Strict):
    """Comparisons whose exact agreements, all together, are weighed by how often their
    values occur together, not each value on its own: two records named Anna Schmidt agree
    by chance as often as records share that full name, and namesakes are more common than
    the product of the first name's and the surname's frequencies says (names run in
    countries and families); an office's switchboard and its company are one fact, not
    two. Where every one of `comparisons` agrees exactly (or at its `also_at` level), their
    term-frequency adjustments are replaced by one from the combination's frequency among
    other people's records, where that says less (`term_frequencies.tf_adjustments`)."""

    name: str
    comparisons: list[str] = Field(min_length=2)
    max_holders: int | None = Field(
        default=None,
        ge=2,
        description="Only combinations held by at most this many records: whether a few "
        "holders are one person or namesakes is what the combination's count tells; a "
        "combination many hold is common by its parts' frequencies already.",
    )
    also_at: dict[str, str] = Field(
        default_factory=dict,
        description="Per comparison, a further exact level (by its label) that counts as "
        "agreeing, on that level's column: the combination is then keyed by that column "
        "('same company name' for an organisation whose domain one record lacks).",
    )


class CannotLink(_Strict):
    """Two records that differ on `column` (both present) and are not similar on
    `unless_similar` must never end up in one entity, whatever chain of links joins them.
    Without `unless_similar`, differing is enough (a value a person holds only one of)."""

    column: str
    unless_similar: str | None = Field(
        default=None,
        description="Name column: no conflict where the two are at least `threshold` similar "
        "(Jaro-Winkler), nor where either lacks a name. None: every difference conflicts.",
    )
    threshold: float = Field(default=0.85, ge=0, le=1)
    unless_within_edits: int | None = Field(
        default=None,
        ge=1,
        description="No conflict where the two values are at most this many edits apart "
        "(Levenshtein): one number written two ways ('+3903...' / '+393...'), a typo.",
    )
    exclude_when_true: str | None = Field(
        default=None, description="Boolean column: records where it is true are not checked."
    )
    unless_equal: str | None = Field(
        default=None, description="No conflict where this column is equal (e.g. swapped names)."
    )
    unless_initial_of: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="(first, last name) columns: no conflict where the surnames are equal and "
        "one first name is the other's initial ('A. Rocher' and 'Alfred Rocher').",
    )
    unless_names_alike: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="(first, last name) columns: no conflict where the two names are alike "
        "part by part, straight or crosswise: each part at least `names_alike_above` similar "
        "(Jaro-Winkler), a first name the other's initial, a surname inside the other "
        "(a hyphenated married name). A typo that moves a surname past its first name in "
        "sorted order ('apul cook' / 'cook paul') no longer reads as another person.",
    )
    names_alike_above: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="How similar each part must be for `unless_names_alike` (Jaro-Winkler).",
    )

    @model_validator(mode="after")
    def _names_compared(self) -> CannotLink:
        if self.unless_names_alike and not self.unless_similar:
            raise ValueError(
                f"cannot-link on {self.column!r}: unless_names_alike compares names part by "
                "part where the whole names are unlike, so it needs unless_similar"
            )
        return self

    def columns(self) -> set[str]:
        cols = {self.column, self.unless_similar, self.unless_equal, self.exclude_when_true}
        cols.update(self.unless_initial_of or [])
        cols.update(self.unless_names_alike or [])
        return {c for c in cols if c}


class Veto(_Strict):
    """Pairs that cannot be a match, whatever else agrees (colleagues share an office, a
    switchboard and a domain). Two kinds:
    - `below`: values on `column` (both present) less similar than `below`;
    - `differs`: values on `column` differ, optionally only when `same` agrees too.
    Either is lifted where `unless_similar` is at least `unless_above` similar (Jaro-Winkler);
    with several columns, where every one of them is (a first name and a surname each, not
    the two joined, where a shared first name alone reaches the bar).
    """

    column: str
    type: Literal["jaro_winkler", "jaro", "token_set", "differs"] = "jaro_winkler"
    below: float | None = Field(default=None, ge=0, le=1)
    same: str | None = None
    unless_similar: str | list[str] | None = None
    unless_above: float = Field(default=0.9, ge=0, le=1)
    unless_equal: str | None = Field(
        default=None, description="Lifted where this column agrees exactly (an identifier)."
    )
    unless_swapped: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Two columns (first, last name): lifted where each record's first is at "
        "least `unless_swapped_above` similar to the other's second and vice versa.",
    )
    unless_swapped_above: float = Field(default=0.85, ge=0, le=1)
    unless_nickname: str | None = Field(
        default=None,
        description="A first-name column: lifted where the two names share a nickname group "
        "(Pat / Patricia, Fritz / Friedrich).",
    )
    unless_initial_of: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="(first, last name) columns: lifted where the surnames are equal and one "
        "first name is the other's initial ('a.persson@' for Arne Persson).",
    )
    unless_crossed: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="(own, other) columns: lifted where one record's `own` value is the "
        "other's `other` value (a surname the other's address spells: a married name).",
    )
    unless_equal_excluding: str | None = Field(
        default=None, description="Boolean column: records where it is true never lift it."
    )
    exclude_when_true: str | None = None
    only_when_true: str | None = Field(
        default=None, description="Boolean column: the veto applies only where both are true."
    )
    label: str | None = None

    @model_validator(mode="after")
    def _kind(self) -> Veto:
        if self.type != "differs" and self.below is None:
            raise ValueError(f"veto on {self.column!r}: type {self.type!r} needs 'below'")
        return self

    @property
    def similar_columns(self) -> list[str]:
        if isinstance(self.unless_similar, str):
            return [self.unless_similar]
        return list(self.unless_similar or [])

    def columns(self) -> set[str]:
        cols = {
            self.column,
            self.same,
            self.exclude_when_true,
            self.only_when_true,
            self.unless_equal,
            self.unless_equal_excluding,
            self.unless_nickname,
            *(self.unless_initial_of or []),
            *self.similar_columns,
            *(self.unless_swapped or []),
            *(self.unless_crossed or []),
        }
        return {c for c in cols if c}


class ThinBridges(_Strict):
    """Two groups of records, each held together by strong links, that weaker links join
    between few of their pairs of members are two entities: one namesake's or colleague's
    link chained two people's records into one (`cluster.split_thin_bridges`)."""

    strong: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.99, description="Links at or above this probability hold a group together."
    )
    min_share: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.1,
        description="Two groups stay one entity when weaker links join at least this share "
        "of their pairs of members.",
    )
    min_group: int = Field(
        default=2, ge=1, description="Groups smaller than this are never split off."
    )


SurvivorshipRule = Literal["most_recent", "most_frequent", "source_priority", "longest"]


class FieldSurvivorship(_Strict):
    rule: SurvivorshipRule
    prefer_true: str | None = Field(
        default=None, description="Boolean column whose true rows win first (e.g. email_valid)."
    )
    prefer_provenance: list[str] | None = Field(
        default=None,
        min_length=1,
        description="A source priority by provenance (values of the survivorship's "
        "`provenance_column`, best first): after `prefer_true`, before the rule, rows from "
        "these sources win (e.g. [crm]: the values a person keeps in the CRM).",
    )


class NamesInOrder(_Strict):
    """A record the matching read surname first ('Weaver Amber') gives its golden record
    the names in order too: `turned` (a `written_surname_first` fingerprint) says which
    records, and their `given` and `surname` values are swapped before survivorship."""

    given: str
    surname: str
    turned: str
    full: str | None = Field(
        default=None, description="The full-name column, rebuilt from the two where turned."
    )


class Survivorship(_Strict):
    default: SurvivorshipRule = "most_frequent"
    names_in_order: NamesInOrder | None = None
    recency_column: str | None = None
    source_column: str | None = None
    source_priority: list[str] = Field(
        default_factory=list, description="Substrings of the source column, best first."
    )
    provenance_column: str = Field(
        default="provenance",
        description="Where each record came from (`file`, `crm`), for `prefer_provenance`; a "
        "table without it has one provenance, and the tier decides nothing.",
    )
    fields: dict[str, SurvivorshipRule | FieldSurvivorship] = Field(default_factory=dict)

    def rule_for(self, field: str) -> FieldSurvivorship:
        rule = self.fields.get(field, self.default)
        return rule if isinstance(rule, FieldSurvivorship) else FieldSurvivorship(rule=rule)


class MatchSpec(_Strict):
    name: str
    description: str = ""
    id_column: str = "lead_id"
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.9
    # Components above this size are re-clustered at stricter thresholds.
    max_cluster_size: int = Field(default=50, ge=2)
    thin_bridges: ThinBridges | None = None
    u_sample_pairs: int = Field(default=500_000, ge=1000)
    em_max_iterations: int = Field(default=50, ge=1)
    em_max_block_size: int = Field(
        default=5, ge=2, description="EM trains on pairs from blocks no larger than this."
    )
    min_records_for_estimation: int = Field(
        default=2000,
        ge=2,
        description="Below this many records m, u come from default_parameters, not the data.",
    )
    # Typical m and u per comparison level (else level last), for tables too small to
    # estimate from: a six-row file says nothing about how often names agree by chance.
    default_parameters: dict[str, dict[Literal["m", "u"], list[float]]] = Field(
        default_factory=dict
    )
    fingerprints: dict[str, Fingerprint] = Field(default_factory=dict)
    blocking: list[BlockingRule] = Field(min_length=1)
    comparisons: list[Comparison] = Field(min_length=1)
    joint_frequencies: list[JointFrequency] = Field(default_factory=list)
    cannot_link: list[CannotLink] = Field(default_factory=list)
    vetoes: list[Veto] = Field(default_factory=list)
    survivorship: Survivorship = Field(default_factory=Survivorship)
    golden_fields: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_exist(self) -> MatchSpec:
        names = [c.name for c in self.comparisons]
        if len(names) != len(set(names)):
            raise ValueError(f"comparison names must be unique: {names}")
        for comp in self.comparisons:
            params = self.default_parameters.get(comp.name, {})
            for kind, values in params.items():
                if len(values) != len(comp.levels) + 1:
                    raise ValueError(
                        f"default_parameters.{comp.name}.{kind}: needs {len(comp.levels) + 1} "
                        f"values (one per level, then 'else'), got {len(values)}"
                    )
        by_name = {c.name: c for c in self.comparisons}
        for joint in self.joint_frequencies:
            for member in joint.comparisons:
                comp = by_name.get(member)
                if comp is None:
                    raise ValueError(
                        f"joint_frequencies.{joint.name}: no comparison {member!r} (comparisons: "
                        f"{', '.join(names)})"
                    )
                first = comp.levels[0]
                if not comp.tf_adjustment or first.type != "exact" or first.column:
                    raise ValueError(
                        f"joint_frequencies.{joint.name}: comparison {member!r} needs "
                        "tf_adjustment and an exact first level on its own column"
                    )
            for member, label in joint.also_at.items():
                comp = by_name.get(member)
                labels = [lv.label for lv in comp.levels] if comp else []
                if member not in joint.comparisons or label not in labels:
                    raise ValueError(
                        f"joint_frequencies.{joint.name}.also_at: {member!r} needs to be one of "
                        f"its comparisons, and {label!r} one of that comparison's level labels"
                    )
                level = comp.levels[labels.index(label)]
                if level.type != "exact" or not level.column:
                    raise ValueError(
                        f"joint_frequencies.{joint.name}.also_at: level {label!r} of {member!r} "
                        "needs to be an exact level on a column of its own"
                    )
        order = self.survivorship.names_in_order
        if order is not None:
            turned = self.fingerprints.get(order.turned)
            if turned is None or turned.transform != "written_surname_first":
                raise ValueError(
                    f"survivorship.names_in_order.turned: {order.turned!r} needs to be a "
                    "fingerprint with transform 'written_surname_first'"
                )
            if turned.source != [order.given, order.surname]:
                raise ValueError(
                    f"survivorship.names_in_order: fingerprint {order.turned!r} reads "
                    f"{turned.source}, not [{order.given!r}, {order.surname!r}]"
                )
        for name, fp in self.fingerprints.items():
            if fp.transform in ("prefix", "suffix") and fp.length is None:
                raise ValueError(f"fingerprint {name!r}: transform {fp.transform!r} needs length")
            if fp.transform in ("email_first", "email_last") and len(fp.source) not in (1, 3):
                raise ValueError(
                    f"fingerprint {name!r}: transform {fp.transform!r} takes the email column, "
                    "or the email, surname and given-name columns"
                )
            if fp.transform in NAME_ORDER_TRANSFORMS and len(fp.source) != 2:
                raise ValueError(
                    f"fingerprint {name!r}: transform {fp.transform!r} takes the given-name "
                    "and surname columns, in that order"
                )
        return self

    def joint_members(self, joint: JointFrequency) -> list[int]:
        """The positions of a joint frequency's comparisons, in its order."""
        index = {c.name: k for k, c in enumerate(self.comparisons)}
        return [index[member] for member in joint.comparisons]

    def joint_columns(self, joint: JointFrequency) -> list[str]:
        """The columns a joint frequency's combination is keyed by, in its order: each
        comparison's own, or that of its `also_at` level."""
        return [
            self.joint_level(joint, k)[1] or self.comparisons[k].column
            for k in self.joint_members(joint)
        ]

    def joint_level(self, joint: JointFrequency, member: int) -> tuple[int | None, str | None]:
        """(the position of the further level counted as agreeing, its column) for one of a
        joint frequency's comparisons (by position), or (None, None)."""
        comp = self.comparisons[member]
        label = joint.also_at.get(comp.name)
        if label is None:
            return None, None
        position = [lv.label for lv in comp.levels].index(label)
        return position, comp.levels[position].column

    def input_columns(self) -> set[str]:
        """Columns the data must have (derived fingerprints excluded)."""
        cols = self.matching_columns()
        for fp in self.fingerprints.values():
            cols.update(fp.source)
            cols.update(c for c in (fp.fallback, fp.expand_initial) if c)
        return cols - set(self.fingerprints)

    def frequency_columns(self) -> list[str]:
        """Columns term frequencies count and joint frequencies combine, each once in spec
        order: what an incremental batch hashes once for both."""
        columns = [c.column for c in self.comparisons if c.tf_adjustment]
        columns += [c for joint in self.joint_frequencies for c in self.joint_columns(joint)]
        return list(dict.fromkeys(columns))

    def golden_columns(self) -> set[str]:
        """Columns golden records read: the id, the golden fields and what survivorship
        ranks them by (`golden.golden_records`)."""
        surv = self.survivorship
        cols = {self.id_column, *self.golden_fields, surv.provenance_column}
        cols.update(c for c in (surv.recency_column, surv.source_column or "source_file") if c)
        cols.update(
            r.prefer_true for f in self.golden_fields if (r := surv.rule_for(f)).prefer_true
        )
        if surv.names_in_order:
            order = surv.names_in_order
            cols.update(c for c in (order.given, order.surname, order.turned, order.full) if c)
        return cols

    def matching_columns(self) -> set[str]:
        """Columns blocking, comparisons, vetoes and cannot-link rules read, fingerprints
        included: all matching needs once the fingerprints are made."""
        cols = self.compared_columns()
        for rule in self.blocking:
            cols.update(rule.keys)
            cols.update(rule.sort_by or [])
        return cols

    def equality_columns(self) -> set[str]:
        """Compared columns only ever tested for equality (exact levels, `differs` vetoes,
        their `same` and `unless_equal` keys): a 64-bit hash can stand in for each value."""
        other: set[str] = {self.id_column}
        for comp in self.comparisons:
            for level in comp.levels:
                if level.type not in ("exact", "crossed"):
                    other.add(level.column or comp.column)
                    if level.type == "swapped":
                        other.add(comp.column)
        for veto in self.vetoes:
            if veto.type != "differs":
                other.add(veto.column)
            other.update(veto.similar_columns)
            other.update(veto.unless_swapped or [])
            if veto.unless_nickname:
                other.add(veto.unless_nickname)
            other.update(veto.unless_initial_of or [])
            flags = (veto.exclude_when_true, veto.only_when_true, veto.unless_equal_excluding)
            other.update(c for c in flags if c)
        for cl in self.cannot_link:  # read as strings by the checker
            other.update(cl.columns())
        return self.compared_columns() - other

    def fuzzy_columns(self) -> list[str]:
        """Columns comparison levels score by string similarity (Jaro, Jaro-Winkler, token
        set, and both sides of a swap), and those a veto's exception does, which the
        comparator encodes: the candidate pairs and EM's random pairs share the encodings,
        and a similarity is scored once per distinct pair of values (names repeat: the
        vetoes' swapped-names exception went from 0.5 s of pairwise strings at 1M rows to
        a third of that)."""
        cols: dict[str, None] = {}
        for comp in self.comparisons:
            for level in comp.levels:
                if level.type in SIMILARITY_LEVELS or level.type in (
                    "swapped",
                    "nickname",
                    "initial",
                ):
                    cols[level.column or comp.column] = None
                if level.type == "swapped":
                    cols[comp.column] = None
        for veto in self.vetoes:
            cols.update(dict.fromkeys(veto.similar_columns))
        return list(cols)

    def compared_columns(self) -> set[str]:
        """Columns read once candidate pairs are found: by comparisons, vetoes, cannot-link."""
        cols = {self.id_column}
        for comp in self.comparisons:
            cols.add(comp.column)
            cols.update(lv.column for lv in comp.levels if lv.column)
        for veto in self.vetoes:
            cols.update(veto.columns())
        for cl in self.cannot_link:
            cols.update(cl.columns())
        return cols


class SpecError(ValueError):
    pass


def load_spec(spec: str | Path | MatchSpec) -> MatchSpec:
    """A built-in spec by name ('leads', 'person') or a YAML file path."""
    if isinstance(spec, MatchSpec):
        return spec
    path = Path(spec)
    if not path.suffix and (SPEC_DIR / f"{spec}.yaml").exists():
        path = SPEC_DIR / f"{spec}.yaml"
    return _load_file(path.resolve())


@cache
def _load_file(path: Path) -> MatchSpec:
    if not path.exists():
        builtin = ", ".join(sorted(p.stem for p in SPEC_DIR.glob("*.yaml")))
        raise SpecError(f"matching spec {path}: no such file (built-in specs: {builtin})")
    try:
        # libyaml's safe loader where PyYAML was built with it: the pure-Python parser took
        # 25 ms of every run for the leads spec.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise SpecError(f"matching spec {path}: invalid YAML: {exc}") from exc
    try:
        return MatchSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SpecError(f"matching spec {path}: {problems}") from exc
