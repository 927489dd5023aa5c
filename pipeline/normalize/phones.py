"""Phone numbers to E.164, vectorized, with exactly the answers `phonenumbers` gives.

Why not just call `phonenumbers`: one `parse` costs 20-50 µs, i.e. ~30 s for a million-row file.
Here the parts of `parse`, `is_valid_number` and `region_code_for_number` that matter for a
digit string are replayed as polars (Rust regex) operations, driven by `phonenumbers`' own
metadata (compiled lazily per region, cached). `phonenumbers` itself is only called, once per
distinct value, for what the replay does not model: a national number dialled with its region's
international prefix (011 44 ... in the US), "+" and an unknown calling code, non-geographic
codes (+800, +881, ...), and regions or calling codes with fewer than `_MIN_GROUP_ROWS` rows.
Every region of the metadata is replayed; tests/test_phones.py checks that, and the answers.

Semantics, pinned by tests/test_phones.py:

1. Extension: found exactly as ``phonenumbers.parse`` finds it, in every syntax it reads
   (RFC 3966 ``;ext=12``, ``ext.``/``extn``/``extension``/``anexo``, ``x``/``#``/``~``/``int``,
   American ``- 503#``, auto-dial ``,,`` and ``;``), in the text from its first digit or ``+``
   when what precedes the marker is a viable number; the number proper is what precedes it.
   It is reported, apart (``phone_extension``), for valid numbers only.
2. Excel damage (``4.155550134E9``, ``4155550134.0``) is turned back into the integer's digits.
3. The rest becomes its canonical text: its ASCII digits, with ``+`` in front when a ``+`` comes
   before the first digit; ``00`` followed by a non-zero digit also means ``+``. Everything else
   (spaces, dots, dashes, ``tel:``, letters, ``(0)``) is dropped, so vanity numbers are not
   spelled out; ``phonenumbers`` itself strips an ``(0)`` trunk prefix after a country code
   (and keeps Italy's leading 0, which is part of the number).
4. The region is the row's region, stripped and upper-cased, else ``default_region``.
5. The answer is ``n = phonenumbers.parse(canonical, region)`` (failure: invalid); valid iff
   ``is_valid_number(n)``; E.164 and ``region_code_for_number(n)`` are given for valid numbers
   only, and the region of a non-geographic number ("001") is null.
"""

from __future__ import annotations

import functools
import re
import re._constants as _sre_constants
import re._parser as _sre_parser
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import phonenumbers
import polars as pl
import pyarrow as pa
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    SUPPORTED_REGIONS,
)

from pipeline.normalize import ENGINE

__all__ = ["OUTPUT_SCHEMA", "parse_phones", "slow_path_share"]

OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "phone_e164": pl.String(),
    "phone_valid": pl.Boolean(),
    "phone_extension": pl.String(),
    "phone_region": pl.String(),
}

# Extensions exactly as phonenumbers finds them (phonenumberutil's _EXTN_PATTERNS_FOR_PARSING,
# _extract_possible_number and _is_viable_phone_number, written out for Rust's regex engine;
# tests/test_normalize_libraries.py checks the answers against phonenumbers.parse itself):
# RFC 3966 ";ext=", explicit labels ("ext.", "extension", "anexo", ...), one-character or
# ambiguous ones ("x", "#", "~", "int"), American "- 503#", and auto-dial ",," or ";".
_EXT_SPACE, _EXT_AFTER_LABEL = r"[ \u00A0\t,]*", r"[:.\uFF0E]?[ \u00A0\t,-]*"
_EXT_MARKERS = "|".join(
    (
        r";ext=(\d{1,20})",
        _EXT_SPACE
        + r"(?:e?xt(?:ensi(?:o\u0301?|\u00F3))?n?|\uFF45?\uFF58\uFF54\uFF4E?"
        + r"|\u0434\u043E\u0431|anexo)"
        + _EXT_AFTER_LABEL
        + r"(\d{1,20})#?",
        _EXT_SPACE
        + r"(?:[x\uFF58#\uFF03~\uFF5E]|int|\uFF49\uFF4E\uFF54)"
        + _EXT_AFTER_LABEL
        + r"(\d{1,9})#?",
        r"[- ]+(\d{1,6})#",
        r"[ \u00A0\t]*(?:,{2}|;)" + _EXT_AFTER_LABEL + r"(\d{1,15})#?",
        r"[ \u00A0\t]*,+" + _EXT_AFTER_LABEL + r"(\d{1,9})#?",
    )
)
# The leftmost marker that runs to the end, as phonenumbers' search finds it: the extension is
# the first of its six digit groups that matched, the number what precedes it. (Anchored at
# the end only, so the regex engine can search backwards from there.)
_EXT_RE = rf"(?is)(?:{_EXT_MARKERS})$"
# Only texts holding one of these can carry an extension marker (the rest skip the regexes):
# ASCII letters, ",;#~", and the full-width and Cyrillic letters of phonenumbers' labels.
_EXT_HINT = r"[a-zA-Z,;#~\x{FF03}\x{FF5E}\x{FF45}\x{FF58}\x{FF54}\x{FF49}\x{0434}\x{0414}]"
# What phonenumbers reads of a text: from the first digit or "+", without trailing
# punctuation, and up to a second number ("/x...").
_POSSIBLE_START = r"^[^+\uFF0B\d]+"
_POSSIBLE_FIRST = r"[+\uFF0B\d]"
_POSSIBLE_TRAILING = r"(?:_|[^#\w])+$"
_SECOND_NUMBER = r"(?s)[\\/] *x.*$"
# A viable number: two digits, or three digits or more among phone punctuation and letters.
_PUNCTUATION = (
    r"\-x\u2010-\u2015\u2212\u30FC\uFF0D-\uFF0F \u00A0\u00AD\u200B\u2060\u3000()"
    r"\uFF08\uFF09\uFF3B\uFF3D.\[\]/~\u2053\u223C\uFF5E"
)
_VIABLE = (
    rf"(?i)^(?:\d{{2}}|[+\uFF0B]*(?:[{_PUNCTUATION}*]*\d){{3,}}[{_PUNCTUATION}*a-z\d]*)"
    rf"(?:{_EXT_MARKERS})?$"
)
_SCI_RE = r"^\s*(?:[0-9]+(?:\.[0-9]+)?[eE]\+?[0-9]{1,2}|[0-9]+\.0+)\s*$"
# "+" before the first digit, or digits starting 00 and a non-zero digit (separators aside).
_LEAD_RE = r"^[^0-9+]*(\+|0[^0-9]*0[^0-9]*[1-9])"
_ROWS_PER_THREAD = 100_000  # below this, a thread costs more than it saves
# The replay costs ~1 ms per region or calling code whatever its size, phonenumbers ~40 µs per
# distinct value: groups smaller than this go to phonenumbers (same answers, less time).
_MIN_GROUP_ROWS = 32
_MAX_NSN = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_IDX: dict[str, pl.DataType] = {"idx": pl.UInt32()}
_RESULT_SCHEMA: dict[str, pl.DataType] = {
    "idx": pl.UInt32(),
    "phone_e164": pl.String(),
    "phone_valid": pl.Boolean(),
    "phone_region": pl.String(),
}


# --------------------------------------------------------------------------- metadata -> regex


@dataclass(frozen=True, slots=True)
class _Rules:
    """One region's metadata, reduced to the anchored regexes and length sets the replay needs."""

    region: str
    cc: int
    idd: str | None  # ^(?:international_prefix)(.?): the IDD and the character after it
    idd_next: int  # the group holding that character
    npfp: str | None  # ^(?:national_prefix_for_parsing)
    npfp_rest: str | None  # npfp followed by a capture of the rest of the number
    rest_group: int
    transform: str | None  # national_prefix_transform_rule as a Rust replacement template
    last_group: int
    general: str  # ^(?:general_desc)$ (phonenumbers' "viable" check, no lengths)
    # No viable number starts like a national prefix, so stripping one never needs undoing.
    prefix_never_viable: bool
    general_lengths: frozenset[int]
    general_lengths_implied: bool  # every string the general regex matches has such a length
    local_lengths: frozenset[int]
    max_length: int
    type_checks: tuple[tuple[str, frozenset[int] | None], ...]  # (regex, lengths to require)
    # Every number a type regex accepts passes the general regex and lengths (proven from the
    # patterns), so validation can skip those.
    types_imply_general: bool


def _lengths(tree: _sre_parser.SubPattern | list) -> set[int] | None:
    """Every length a (bounded) parsed regex can match, or None when unbounded or exotic."""
    acc = {0}
    for op, av in tree:
        if op in (
            _sre_constants.LITERAL,
            _sre_constants.NOT_LITERAL,
            _sre_constants.ANY,
            _sre_constants.IN,
            _sre_constants.CATEGORY,
        ):
            here: set[int] | None = {1}
        elif op is _sre_constants.SUBPATTERN:
            here = _lengths(av[3])
        elif op is _sre_constants.BRANCH:
            here = set()
            for alternative in av[1]:
                sub = _lengths(alternative)
                if sub is None:
                    return None
                here |= sub
        elif op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
            low, high, body = av
            sub = _lengths(body)
            if sub is None or high is _sre_constants.MAXREPEAT or high > 40:
                return None
            here, reach = set(), {0}
            for count in range(high + 1):
                if count >= low:
                    here |= reach
                reach = {a + b for a in reach for b in sub}
        elif op is _sre_constants.AT:
            here = {0}
        else:
            return None
        if here is None:
            return None
        acc = {a + b for a in acc for b in here}
    return acc


def _first_chars(tree: _sre_parser.SubPattern | list) -> set[str] | None:
    """Characters a match must start with, or None when unknown (or it may match "")."""
    for op, av in tree:
        if op is _sre_constants.AT:
            continue
        if op is _sre_constants.LITERAL:
            return {chr(av)}
        if op is _sre_constants.CATEGORY:
            return set("0123456789") if av is _sre_constants.CATEGORY_DIGIT else None
        if op is _sre_constants.IN:
            chars: set[str] = set()
            for kind, value in av:
                if kind is _sre_constants.LITERAL:
                    chars.add(chr(value))
                elif kind is _sre_constants.RANGE:
                    chars.update(chr(c) for c in range(value[0], value[1] + 1))
                elif kind is _sre_constants.CATEGORY and value is _sre_constants.CATEGORY_DIGIT:
                    chars.update("0123456789")
                else:
                    return None
            return chars
        if op is _sre_constants.SUBPATTERN and av[3].getwidth()[0] > 0:
            return _first_chars(av[3])
        if op is _sre_constants.BRANCH and all(a.getwidth()[0] > 0 for a in av[1]):
            found = [_first_chars(a) for a in av[1]]
            return None if None in found else set().union(*found)
        if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT) and av[0] > 0:
            return _first_chars(av[2])
        return None
    return None


def _any_digit(op: object, av: object) -> bool:
    if op is _sre_constants.CATEGORY:
        return av is _sre_constants.CATEGORY_DIGIT
    return op is _sre_constants.IN and _first_chars([(op, av)]) == set("0123456789")


def _universal(tree: _sre_parser.SubPattern | list) -> set[tuple[str, int]]:
    """(first character, length) pairs for which the regex accepts every digit string.

    Only alternatives shaped like ``[2-9]\\d{9}`` count; anything else adds nothing, which keeps
    the answer a safe under-estimate.
    """
    items = list(tree)
    while len(items) == 1 and items[0][0] is _sre_constants.SUBPATTERN:
        items = list(items[0][1][3])
    if len(items) == 1 and items[0][0] is _sre_constants.BRANCH:
        return set().union(*(_universal(a) for a in items[0][1][1]))
    if not items or items[0][0] not in (
        _sre_constants.LITERAL,
        _sre_constants.IN,
        _sre_constants.CATEGORY,
    ):
        return set()
    first = _first_chars(items[:1])
    if first is None:
        return set()
    low = high = 1
    for op, av in items[1:]:
        if _any_digit(op, av):
            low, high = low + 1, high + 1
        elif (
            op is _sre_constants.MAX_REPEAT
            and av[1] is not _sre_constants.MAXREPEAT
            and len(av[2]) == 1
            and _any_digit(*av[2][0])
        ):
            low, high = low + av[0], high + av[1]
        else:
            return set()
    return {(c, n) for c in first for n in range(low, high + 1)}


def _types_imply_general(types: list[str], general: str, lengths: frozenset[int]) -> bool:
    """True when every type pattern's (first character, length) is one general accepts whole."""
    try:
        covered = _universal(_sre_parser.parse(general))
        for pattern in types:
            tree = _sre_parser.parse(pattern)
            starts, sizes = _first_chars(tree), _lengths(tree)
            if starts is None or sizes is None or not sizes <= lengths:
                return False
            if any((c, n) not in covered for c in starts for n in sizes):
                return False
    except Exception:
        return False
    return bool(types)


def _disjoint_starts(prefix: str | None, general: str) -> bool:
    """True when no match of `prefix` (non-empty) begins like a match of `general`."""
    if not prefix:
        return False
    try:
        prefix_tree, general_tree = _sre_parser.parse(prefix), _sre_parser.parse(general)
    except Exception:
        return False
    if prefix_tree.getwidth()[0] == 0:
        return False
    starts, viable = _first_chars(prefix_tree), _first_chars(general_tree)
    return starts is not None and viable is not None and not starts & viable


def _implied_lengths(pattern: str) -> set[int] | None:
    try:
        return _lengths(_sre_parser.parse(pattern))
    except Exception:  # an analysis failure only costs speed: the length check stays
        return None


def _rust_ok(*patterns: str | None) -> bool:
    """True when polars' Rust regex engine accepts every pattern (else the region goes slow)."""
    try:
        probe = pl.Series([""], dtype=pl.String)
        for pattern in patterns:
            if pattern is not None:
                probe.str.contains(pattern)
    except Exception:
        return False
    return True


def _rust_template(python_template: str) -> str:
    return re.sub(r"\\(\d)", r"${\1}", python_template.replace("$", "$$"))


@functools.cache
def _rules(region: str) -> _Rules | None:
    """Compile a region's metadata; None when the replay cannot reproduce it exactly."""
    meta = PhoneMetadata.metadata_for_region(region, None)
    if meta is None or meta.general_desc is None:
        return None
    general = meta.general_desc
    if not general.national_number_pattern or not general.possible_length:
        return None
    general_lengths = frozenset(general.possible_length)
    implied = _implied_lengths(general.national_number_pattern)

    checks: list[tuple[str, frozenset[int] | None]] = []
    plain: list[str] = []
    every_type: list[str] = []
    for name in _TYPE_DESCS:
        if name == "mobile" and meta.same_mobile_and_fixed_line_pattern:
            continue  # _number_type_helper never consults mobile then
        desc = getattr(meta, name)
        if desc is None or not desc.national_number_pattern:
            continue
        every_type.append(desc.national_number_pattern)
        lengths = frozenset(desc.possible_length)
        desc_implied = _implied_lengths(desc.national_number_pattern)
        if not lengths or (desc_implied is not None and desc_implied <= lengths):
            plain.append(desc.national_number_pattern)
        else:
            checks.append((f"^(?:{desc.national_number_pattern})$", lengths))
    if plain:
        checks.insert(0, (f"^(?:{'|'.join(plain)})$", None))

    npfp = meta.national_prefix_for_parsing or None
    transform = meta.national_prefix_transform_rule or None
    groups = re.compile(npfp).groups if npfp else 0
    if transform is not None:
        if groups == 0:
            return None
        last = _sre_parser.parse(npfp)
        # "last group did not take part" must be observable as null, so it may not match "".
        if _min_group_width(last, groups) == 0:
            return None
    rules = _Rules(
        region=region,
        cc=meta.country_code,
        idd=f"^(?:{meta.international_prefix})(.?)" if meta.international_prefix else None,
        idd_next=re.compile(meta.international_prefix or "").groups + 1,
        npfp=f"^(?:{npfp})" if npfp else None,
        npfp_rest=f"^(?:{npfp})(.*)$" if npfp else None,
        rest_group=groups + 1,
        transform=_rust_template(transform) if transform else None,
        last_group=groups,
        general=f"^(?:{general.national_number_pattern})$",
        prefix_never_viable=_disjoint_starts(npfp, general.national_number_pattern),
        general_lengths=general_lengths,
        general_lengths_implied=implied is not None and implied <= general_lengths,
        local_lengths=frozenset(general.possible_length_local_only),
        max_length=max(general.possible_length),
        type_checks=tuple(checks),
        types_imply_general=_types_imply_general(
            every_type, general.national_number_pattern, general_lengths
        ),
    )
    patterns = [rules.idd, rules.npfp, rules.npfp_rest, rules.general]
    if not _rust_ok(*patterns, *(p for p, _ in checks)):
        return None
    return rules


def _min_group_width(tree: _sre_parser.SubPattern, group: int) -> int:
    """Smallest width the capture group `group` can match (0 if it cannot be found)."""
    for op, av in tree:
        if op is _sre_constants.SUBPATTERN:
            if av[0] == group:
                return av[3].getwidth()[0]
            found = _min_group_width(av[3], group)
            if found:
                return found
        elif op is _sre_constants.BRANCH:
            for alternative in av[1]:
                found = _min_group_width(alternative, group)
                if found:
                    return found
        elif op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
            found = _min_group_width(av[2], group)
            if found:
                return found
    return 0


@dataclass(frozen=True, slots=True)
class _Claimant:
    """A region sharing a calling code, in phonenumbers' order for region_code_for_number."""

    rules: _Rules
    leading_digits: str | None  # ^(?:leading_digits) or None: full validation decides


@functools.cache
def _calling_code(cc: int) -> tuple[_Claimant, ...] | None:
    """The regions of a calling code (main one first), or None when any cannot be replayed."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    if not regions or REGION_CODE_FOR_NON_GEO_ENTITY in regions:
        return None
    claimants = []
    for region in regions:
        meta = PhoneMetadata.metadata_for_region(region, None)
        if meta is None:
            if region == regions[0]:
                return None
            continue  # phonenumbers skips it too
        rules = _rules(region)
        if rules is None or rules.cc != cc:
            return None
        ld = f"^(?:{meta.leading_digits})" if meta.leading_digits and len(regions) > 1 else None
        if not _rust_ok(ld):
            return None
        claimants.append(_Claimant(rules, ld))
    return tuple(claimants)


def _prefix_width(pattern: str) -> int | None:
    """How many leading characters re.match(pattern, text) can look at, if bounded and small."""
    tree = _sre_parser.parse(pattern)
    if _has_assertion(tree):
        return None
    width = tree.getwidth()[1]
    return width if width <= _MAX_NSN else None


def _has_assertion(tree: _sre_parser.SubPattern | list) -> bool:
    """Anything but a leading ^ that looks beyond the matched characters ($, lookarounds)."""
    for op, av in tree:
        if op is _sre_constants.AT and av is not _sre_constants.AT_BEGINNING:
            return True
        if op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            return True
        if op is _sre_constants.SUBPATTERN and _has_assertion(av[3]):
            return True
        if op is _sre_constants.BRANCH and any(_has_assertion(a) for a in av[1]):
            return True
        if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT) and _has_assertion(av[2]):
            return True
    return False


@functools.cache
def _leading_digits_width(cc: int) -> int | None:
    """The prefix length that decides every leading-digits claim of a calling code, or None."""
    widths = [_prefix_width(c.leading_digits) for c in _calling_code(cc) or () if c.leading_digits]
    return max(widths) if widths and None not in widths else None


@functools.lru_cache(maxsize=1 << 16)
def _leading_digits_claim(cc: int, prefix: str) -> int | None:
    """Index of the first region (phonenumbers' order) whose leading digits match `prefix`."""
    for position, claimant in enumerate(_calling_code(cc) or ()):
        if claimant.leading_digits and re.match(claimant.leading_digits, prefix):
            return position
    return None


@functools.cache
def _calling_code_regex() -> str:
    """All calling codes as one anchored capture; the codes are prefix-free, so order is moot."""
    codes = sorted(COUNTRY_CODE_TO_REGION_CODE, key=lambda c: (-len(str(c)), c))
    return f"^({'|'.join(str(c) for c in codes)})"


def _norm_region(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    return value or None


# --------------------------------------------------------------------------- reference / slow


def _reference(canonical: str, region: str | None) -> tuple[str | None, bool, str | None]:
    """phonenumbers on one canonical text: the definition the fast path reproduces."""
    try:
        number = phonenumbers.parse(canonical, region)
    except phonenumbers.NumberParseException:
        return None, False, None
    if not phonenumbers.is_valid_number(number):
        return None, False, None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    # Non-geographic numbers (+800, +881, ...) belong to "001", which is no country.
    return e164, True, None if region == REGION_CODE_FOR_NON_GEO_ENTITY else region


def _slow_path(rows: pl.DataFrame, default_region: str | None) -> pl.DataFrame:
    """phonenumbers once per distinct (canonical text, region), joined back to the rows."""
    if rows.height == 0:
        return pl.DataFrame(schema=_RESULT_SCHEMA)
    regions = {v: _norm_region(v) or default_region for v in rows["rg"].unique().to_list()}
    keyed = rows.select(
        "idx",
        pl.when(pl.col("plus")).then(pl.lit("+") + pl.col("d")).otherwise("d").alias("text"),
        pl.col("rg").replace_strict(regions, default=default_region, return_dtype=pl.String),
    )
    distinct = keyed.select("text", "rg").unique()
    answers = [_reference(t, r) for t, r in distinct.iter_rows()]
    solved = distinct.with_columns(
        pl.Series("phone_e164", [a[0] for a in answers], dtype=pl.String),
        pl.Series("phone_valid", [a[1] for a in answers], dtype=pl.Boolean),
        pl.Series("phone_region", [a[2] for a in answers], dtype=pl.String),
    )
    joined = keyed.join(solved, on=["text", "rg"], how="left", nulls_equal=True)
    return joined.select(_RESULT_SCHEMA.keys())


# --------------------------------------------------------------------------- fast path pieces


def _select(rows: pl.DataFrame, *exprs: pl.Expr | str) -> pl.DataFrame:
    """A select that evaluates repeated sub-expressions once (eager select repeats them)."""
    return rows.lazy().select(*exprs).collect(engine=ENGINE)


def _invalid(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "idx",
        pl.lit(None, pl.String).alias("phone_e164"),
        pl.lit(False).alias("phone_valid"),
        pl.lit(None, pl.String).alias("phone_region"),
    )


def _strip_prefix(frame: pl.LazyFrame, src: str, dst: str, rules: _Rules) -> pl.LazyFrame:
    """phonenumbers' _maybe_strip_national_prefix_carrier_code (number part) of src as dst."""
    x = pl.col(src)
    if rules.npfp is None:
        return frame.with_columns(x.alias(dst))
    rest = x.str.extract(rules.npfp_rest, rules.rest_group)  # null: no national prefix
    if rules.transform is not None:
        transformed = x.str.extract(rules.npfp, rules.last_group).is_not_null()
        rest = pl.when(transformed).then(x.str.replace(rules.npfp, rules.transform)).otherwise(rest)
    frame = frame.with_columns(rest.alias("_rest"))
    rest = pl.col("_rest")
    # Keep the original when it was viable and the stripped number is not.
    keep = rest.is_null()
    if not rules.prefix_never_viable:
        keep = keep | (
            x.str.contains(rules.general) & ~rest.str.contains(rules.general).fill_null(False)
        )
    return frame.with_columns(pl.when(keep).then(x).otherwise(rest).alias(dst)).drop("_rest")


def _length_accepted(number: pl.Expr, rules: _Rules) -> pl.Expr:
    """_test_number_length is IS_POSSIBLE or TOO_LONG: parse keeps the stripped number then."""
    length = number.str.len_bytes()
    return ~length.is_in(list(rules.local_lengths)) & (
        length.is_in(list(rules.general_lengths)) | (length > rules.max_length)
    )


def _valid_expr(number: pl.Expr, rules: _Rules) -> pl.Expr:
    """_number_type_helper(number, metadata) != UNKNOWN."""
    length = number.str.len_bytes()
    general = pl.lit(True)
    if not rules.types_imply_general:
        general = number.str.contains(rules.general)
        if not rules.general_lengths_implied:
            general = general & length.is_in(list(rules.general_lengths))
    typed = pl.lit(False)
    for pattern, lengths in rules.type_checks:
        check = number.str.contains(pattern)
        if lengths is not None:
            check = check & length.is_in(list(lengths))
        typed = typed | check
    return general & typed


def _finish(rows: pl.DataFrame, cc: int, region: str) -> pl.DataFrame:
    valid = pl.col("_v").fill_null(False)  # null: no national number (TOO_SHORT_NSN)
    return rows.select(
        "idx",
        pl.when(valid).then(pl.lit(f"+{cc}") + pl.col("n")).alias("phone_e164"),
        valid.alias("phone_valid"),
        pl.when(valid).then(pl.lit(region)).alias("phone_region"),
    )


def _validate(rows: pl.DataFrame, cc: int, out: list[pl.DataFrame]) -> None:
    """is_valid_number + region_code_for_number for national numbers `n` of one calling code."""
    claimants = _calling_code(cc)
    assert claimants is not None  # routing only sends supported calling codes here
    n = pl.col("n")
    first = claimants[0]
    if len(claimants) == 1:  # region_code_for_number needs no check then
        rows = rows.with_columns(_valid_expr(n, first.rules).alias("_v"))
        out.append(_finish(rows, cc, first.rules.region))
        return
    # region_code_for_number: the first region, in order, whose leading digits match or, for
    # regions without leading digits, for which the number is valid.
    start = 0
    if first.leading_digits is None:
        # Most numbers are the main region's: settle those before trying the others.
        claimed, rows = _split(rows, _valid_expr(n, first.rules))
        out.append(_finish(claimed.with_columns(pl.lit(True).alias("_v")), cc, first.rules.region))
        start = 1
    if rows.height == 0:
        return
    width = _leading_digits_width(cc)
    if width is not None:  # decided by a short prefix: ask Python's re once per prefix
        prefixes = rows["n"].str.slice(0, width)
        claims = {p: _leading_digits_claim(cc, p) for p in prefixes.unique().drop_nulls()}
        claim = prefixes.replace_strict(claims, default=None, return_dtype=pl.Int32)
        rows = rows.with_columns(claim.alias("_r"))
    else:
        by_digits = [
            pl.when(n.str.contains(c.leading_digits)).then(pl.lit(i, pl.Int32))
            for i, c in enumerate(claimants)
            if c.leading_digits is not None and i >= start
        ]
        rows = rows.with_columns(pl.coalesce([*by_digits, pl.lit(None, pl.Int32)]).alias("_r"))
    for position, claimant in enumerate(claimants):
        if claimant.leading_digits is None and position >= start:
            earlier = pl.col("_r").is_null() | (pl.col("_r") > position)
            rows = rows.with_columns(
                pl.when(earlier & _valid_expr(n, claimant.rules).fill_null(False))
                .then(pl.lit(position, pl.Int32))
                .otherwise("_r")
                .alias("_r")
            )
    for position, group in _groups(rows, pl.col("_r")).items():
        if position is None:
            out.append(_invalid(group))
            continue
        claimant = claimants[position]
        valid = pl.lit(True) if claimant.leading_digits is None else _valid_expr(n, claimant.rules)
        out.append(_finish(group.with_columns(valid.alias("_v")), cc, claimant.rules.region))


class _Work:
    """One slice's rows in flight, and where each of them ended up."""

    def __init__(self, region: pl.Series | None, offset: int) -> None:
        self.region = region  # the slice's raw regions, to look up for deferred rows
        self.offset = offset
        # Metadata region -> rows of idx and n0, the national number before prefix stripping.
        self.pending: dict[str, list[pl.DataFrame]] = {}
        self.results: list[pl.DataFrame] = []
        self.slow: list[pl.DataFrame] = []

    def add(self, region: str, rows: pl.DataFrame, national: pl.Expr) -> None:
        """Queue `national` (before national-prefix stripping) for `region`'s metadata."""
        if rows.height:
            self.pending.setdefault(region, []).append(_select(rows, "idx", national.alias("n0")))

    def invalid(self, rows: pl.DataFrame) -> None:
        if rows.height:
            self.results.append(_invalid(rows))

    def defer(self, rows: pl.DataFrame, plus: bool) -> None:
        """Leave rows to phonenumbers itself; `plus`: the digits followed a '+'."""
        if rows.height:
            self.slow.append(rows.select("idx", "d", pl.lit(plus).alias("plus")))

    def deferred(self) -> pl.DataFrame:
        """idx, rg, d, plus of every deferred row."""
        schema = {"idx": pl.UInt32(), "d": pl.String(), "plus": pl.Boolean()}
        rows = pl.concat([pl.DataFrame(schema=schema), *self.slow], how="vertical")
        if self.region is None:
            return rows.with_columns(pl.lit(None, pl.String).alias("rg"))
        return rows.with_columns(self.region.gather(rows["idx"] - self.offset).alias("rg"))


def _split(rows: pl.DataFrame, mask: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows where mask, the other rows); skips the copies when one side is empty."""
    selected = _select(rows, mask.fill_null(False)).to_series()
    count = selected.sum()
    if count == 0:
        return rows.clear(), rows
    if count == rows.height:
        return rows, rows.clear()
    return rows.filter(selected), rows.filter(~selected)


def _groups(rows: pl.DataFrame, key: pl.Expr) -> dict[Any, pl.DataFrame]:
    """Rows partitioned by one computed key, in a single pass."""
    if rows.height == 0:
        return {}
    keyed = rows.with_columns(key.alias("_k"))
    parts = keyed.partition_by("_k", as_dict=True, maintain_order=False)
    return {k: part.drop("_k") for (k,), part in parts.items()}


def _route_international(rows: pl.DataFrame, work: _Work) -> None:
    """'+' numbers: the calling code is the 1-3 digit prefix that is one (codes are prefix-free)."""
    d = pl.col("d")
    key = (
        pl.when(d.str.len_bytes() <= 2)
        .then(pl.lit("short"))  # TOO_SHORT_AFTER_IDD
        .otherwise(d.str.extract(_calling_code_regex(), 1).fill_null("unknown"))
    )
    for cc_text, group in _groups(rows, key).items():
        if cc_text == "short":
            work.invalid(group)
            continue
        claimants = None if cc_text == "unknown" else _calling_code(int(cc_text))
        if claimants is None or group.height < _MIN_GROUP_ROWS:
            # Unknown code: phonenumbers retries the digits as a national number. Non-geographic
            # codes (800, 870, ...) are not replayed either. Both are rare; so are small groups.
            work.defer(group, plus=True)
            continue
        work.add(claimants[0].rules.region, group, d.str.slice(len(str(cc_text))))


def _route_national(rows: pl.DataFrame, region: str | None, work: _Work) -> None:
    """Numbers without '+': phonenumbers' IDD and 'starts with own calling code' rules."""
    if region is None or region not in SUPPORTED_REGIONS:
        work.invalid(rows)  # "Missing or invalid default region."
        return
    rules = _rules(region)
    main = _calling_code(rules.cc) if rules is not None else None
    if rules is None or main is None or rows.height < _MIN_GROUP_ROWS:
        work.defer(rows, plus=False)
        return
    d, cc_text = pl.col("d"), str(rules.cc)
    # (Texts with fewer than 2 digits are not viable; they fail later as too short.)
    key = pl.when(d.str.starts_with(cc_text)).then(pl.lit(2)).otherwise(pl.lit(3))
    if rules.idd is not None:
        # Dialled with the region's IDD (phonenumbers ignores an IDD followed by a 0).
        after_idd = d.str.extract(rules.idd, rules.idd_next)
        key = pl.when(after_idd.is_not_null() & (after_idd != "0")).then(pl.lit(1)).otherwise(key)
    groups = _groups(rows, key)
    work.defer(groups.get(1, rows.clear()), plus=False)  # e.g. 011 44 ... in the US: rare
    work.add(region, groups.get(3, rows.clear()), d)
    own_cc = groups.get(2)
    if own_cc is None:
        return
    # Starts with the region's own calling code: phonenumbers takes it for one if the number is
    # not viable as it stands but is without it, or if it is too long as it stands.
    frame = own_cc.lazy().with_columns(d.str.slice(len(cc_text)).alias("_x"))
    frame = _strip_prefix(frame, "_x", "_x", rules)
    d_len = d.str.len_bytes()
    too_long = (d_len > rules.max_length) & ~d_len.is_in(list(rules.local_lengths))
    is_cc = (~d.str.contains(rules.general) & pl.col("_x").str.contains(rules.general)) | too_long
    own_cc = frame.with_columns(is_cc.alias("_cc")).collect(engine=ENGINE)
    # Then the metadata comes from the calling code's main region.
    target = main[0].rules.region
    if target == region:
        work.add(region, own_cc, pl.when("_cc").then("_x").otherwise("d"))
        return
    stripped, kept = _split(own_cc, pl.col("_cc"))
    work.add(region, kept, d)
    work.add(target, stripped, pl.col("_x"))


def _finish_pending(work: _Work) -> None:
    """Strip national prefixes with each metadata region, then validate per calling code."""
    by_cc: dict[int, list[pl.DataFrame]] = {}
    for region, parts in work.pending.items():
        rules = _rules(region)
        assert rules is not None
        n0, stripped = pl.col("n0"), pl.col("_p")
        number = (
            pl.when(n0.str.len_bytes() < 2)
            .then(pl.lit(None, pl.String))  # TOO_SHORT_NSN
            .when(_length_accepted(stripped, rules))
            .then(stripped)
            .otherwise(n0)
        )
        frame = pl.concat(parts, how="vertical").lazy()
        rows = (
            _strip_prefix(frame, "n0", "_p", rules)
            .select("idx", number.alias("n"))
            .collect(engine=ENGINE)
        )
        by_cc.setdefault(rules.cc, []).append(rows)
    for cc, parts in by_cc.items():
        _validate(pl.concat(parts, how="vertical"), cc, work.results)


# --------------------------------------------------------------------------- cleanup


def _excel_digits(text: str) -> str | None:
    """'4.155550134E9' -> '4155550134'; None when the value is not an integer."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if value != value.to_integral_value() or value < 0:
        return None
    return str(int(value))


def _digits(
    raw: pl.Series, number_end: np.ndarray, idd: np.ndarray
) -> tuple[pl.Series, np.ndarray]:
    """Each text's ASCII digits before byte `number_end` (where the number proper ends and an
    extension begins; -1: the whole text), less, where `idd` and long enough, the leading
    "00"; also which rows did lose their "00".

    Why numpy: stripping non-digits is the single most expensive step, and a mask over the
    Arrow bytes costs half of polars' regex replace_all.
    """
    if raw.null_count():
        raw = raw.fill_null("")
    arrow = raw.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    size = len(arrow)
    _, offsets_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[arrow.offset : arrow.offset + size + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    is_digit = np.less(data - np.uint8(48), 10)  # wraps below "0": one comparison
    digits = data[is_digit]
    # Digits per text from a running count at the offsets: np.add.reduceat would first copy
    # the mask into an int64 array eight times its size.
    running = np.zeros(len(data) + 1, dtype=np.int32 if len(data) < 2**31 else np.int64)
    np.cumsum(is_digit, out=running[1:])
    at_offsets = running[offsets]
    total = (at_offsets[1:] - at_offsets[:-1]).astype(np.int64)
    # The digits after the number proper (an extension's, a second number's) are the last.
    cut = number_end >= 0
    ext_length = np.zeros(size, dtype=np.int64)
    ext_length[cut] = at_offsets[1:][cut] - running[offsets[:-1][cut] + number_end[cut]]
    count = total - ext_length
    idd = idd & (count > 2)
    if idd.any() or ext_length.any():
        end = np.cumsum(total)
        start = end - total
        keep = np.ones(len(digits), dtype=bool)
        keep[start[idd]] = False
        keep[start[idd] + 1] = False
        has_ext = ext_length > 0
        lengths = ext_length[has_ext]
        firsts = np.repeat(end[has_ext] - lengths, lengths)
        steps = np.arange(len(firsts)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keep[firsts + steps] = False
        digits = digits[keep]
        count = count - 2 * idd
    new_offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(count, out=new_offsets[1:])
    array = pa.LargeStringArray.from_buffers(
        size, pa.py_buffer(new_offsets), pa.py_buffer(np.ascontiguousarray(digits))
    )
    return pl.Series("d", array, dtype=pl.String), idd


def _extensions(raw: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """Each text's extension as phonenumbers reads it (null when none), and the byte offset at
    which its number proper ends (-1 when there is no extension).

    Only texts with a letter, comma, semicolon, hash or tilde can hold a marker: the regexes
    run on those alone.
    """
    size = len(raw)
    hinted = raw.str.contains(_EXT_HINT).fill_null(False).arg_true()
    ext = pl.repeat(None, size, dtype=pl.String, eager=True)
    number_end = np.full(size, -1, dtype=np.int64)
    if not len(hinted):
        return ext, number_end
    text, possible, number = pl.col("raw"), pl.col("_possible"), pl.col("number")
    parts = possible.str.extract_groups(_EXT_RE)
    found = (
        pl.DataFrame({"row": hinted, "raw": raw.gather(hinted)})
        .with_columns(
            text.str.replace(_POSSIBLE_START, "")
            .str.replace(_POSSIBLE_TRAILING, "")
            .str.replace(_SECOND_NUMBER, "")
            .alias("_possible")
        )
        .with_columns(pl.coalesce(parts.struct.field(str(g)) for g in range(1, 7)).alias("ext"))
        .filter(pl.col("ext").is_not_null())
        .with_columns(possible.str.replace(_EXT_RE, "").alias("number"))
        # phonenumbers keeps the marker as part of the number when what precedes it is no
        # viable number.
        .filter(number.str.contains(_VIABLE))
        .select(
            "row",
            "ext",
            # The number starts at the text's first digit or "+" (byte offsets both).
            (text.str.find(_POSSIBLE_FIRST) + number.str.len_bytes()).alias("end"),
        )
    )
    if found.height == 0:
        return ext, number_end
    number_end[found["row"].to_numpy()] = found["end"].to_numpy()
    return ext.scatter(found["row"], found["ext"]), number_end


def _canonical(
    raw: pl.Series, region: pl.Series | None, offset: int | pl.Series = 0
) -> tuple[pl.DataFrame, pl.Series]:
    """(idx, rg = raw region, d = ASCII digits, plus = international) rows, and the extensions.

    idx numbers the rows from `offset`, or is `offset` itself when that is a Series.
    """
    text = pl.col("raw")
    found = pl.DataFrame({"raw": raw}).select(
        text.str.extract(_LEAD_RE, 1).alias("lead"),
        text.str.contains(_SCI_RE).fill_null(False).alias("sci"),
    )
    lead = found["lead"]
    ext, number_end = _extensions(raw)
    # "00" and a non-zero digit mean "+".
    digits, idd = _digits(raw, number_end, (lead != "+").fill_null(False).to_numpy())
    frame = pl.DataFrame(
        {
            "d": digits,
            "plus": (lead == "+").fill_null(False) | pl.Series(idd),
            "rg": region
            if region is not None
            else pl.repeat(None, len(raw), dtype=pl.String, eager=True),
        }
    )
    if isinstance(offset, pl.Series):
        frame = frame.insert_column(0, offset.cast(pl.UInt32).alias("idx"))
    else:
        frame = frame.with_row_index("idx", offset=offset)
    sci = found["sci"].arg_true()
    if len(sci):
        fixed = pl.Series([_excel_digits(t) for t in raw.gather(sci).to_list()], dtype=pl.String)
        done = fixed.is_not_null()
        rows = sci.filter(done)
        frame = frame.with_columns(
            frame["d"].scatter(rows, fixed.filter(done)),
            frame["plus"].scatter(rows, False),
        )
    return frame, ext


# --------------------------------------------------------------------------- public API


def _normalize_slice(
    raw: pl.Series, region: pl.Series | None, offset: int, default: str | None
) -> tuple[pl.DataFrame, int]:
    """Output rows for raw[offset:offset+len(raw)], and how many took the slow path."""
    work = _Work(region, offset)
    if raw.null_count():
        # A null text is invalid whatever the region: it skips every step below (when the
        # mobile column is mostly empty, that is nearly half the rows).
        present = raw.is_not_null()
        work.invalid(pl.DataFrame({"idx": (~present).arg_true() + offset}, schema=_IDX))
        kept = present.arg_true()
        kept_region = None if region is None else region.gather(kept)
        rows, kept_ext = _canonical(raw.gather(kept), kept_region, kept + offset)
        has_ext = kept_ext.is_not_null()
        ext = pl.repeat(None, len(raw), dtype=pl.String, eager=True).scatter(
            kept.filter(has_ext), kept_ext.filter(has_ext)
        )
    else:
        rows, ext = _canonical(raw, region, offset)
    # No digits at all (blank texts among them): phonenumbers rejects these as not a number or
    # too short whatever the region, so they skip the routing too.
    empty, rows = _split(rows, pl.col("d").str.len_bytes() == 0)
    work.invalid(empty)
    international = [rows.clear().select("idx", "d")]
    by_region: dict[str | None, list[pl.DataFrame]] = {}
    for (plus, rg), group in rows.partition_by(
        "plus", "rg", as_dict=True, maintain_order=False
    ).items():
        if plus:  # the region plays no part once the number has its own calling code
            international.append(group.select("idx", "d"))
        else:  # "us", "US " and "US" are one region
            by_region.setdefault(_norm_region(rg) or default, []).append(group.select("idx", "d"))
    _route_international(pl.concat(international, how="vertical"), work)
    for where, groups in by_region.items():
        _route_national(pl.concat(groups, how="vertical"), where, work)
    _finish_pending(work)
    slow = work.deferred()
    work.results.append(_slow_path(slow, default))
    result = pl.concat(
        [r.select(_RESULT_SCHEMA.keys()) for r in work.results], how="vertical"
    ).sort("idx")
    if result.height != len(raw) or (result.height and result["idx"][-1] != offset + len(raw) - 1):
        raise AssertionError(f"phone normalizer lost rows: {result.height} of {len(raw)}")
    frame = result.select(
        "phone_e164",
        "phone_valid",
        pl.when("phone_valid").then(ext).alias("phone_extension"),
        "phone_region",
    )
    return frame, slow.height


def _run(
    raw: pl.Series, region: pl.Series | None, default_region: str | None
) -> tuple[pl.DataFrame, int]:
    if region is not None and len(region) != len(raw):
        raise ValueError(f"region has {len(region)} rows, raw has {len(raw)}")
    raw = raw.cast(pl.String)
    region = region.cast(pl.String) if region is not None else None
    if len(raw) == 0:
        return pl.DataFrame(schema=OUTPUT_SCHEMA), 0
    default = _norm_region(default_region)
    # Rows are independent: big inputs are cut in one slice per core, each normalized in its
    # own thread (polars releases the GIL), which also overlaps the many small per-region steps.
    slices = max(1, min(pl.thread_pool_size(), len(raw) // _ROWS_PER_THREAD))
    size = -(-len(raw) // slices)
    jobs = [
        (raw.slice(at, size), None if region is None else region.slice(at, size), at, default)
        for at in range(0, len(raw), size)
    ]
    if len(jobs) == 1:
        done = [_normalize_slice(*jobs[0])]
    else:
        with ThreadPoolExecutor(len(jobs)) as pool:
            done = list(pool.map(lambda job: _normalize_slice(*job), jobs))
    return pl.concat([frame for frame, _ in done], how="vertical"), sum(n for _, n in done)


def parse_phones(
    raw: pl.Series, region: pl.Series | None, default_region: str = "US"
) -> pl.DataFrame:
    """Returns a frame with len(raw) rows and columns:
    phone_e164 (String, null when not valid), phone_valid (Boolean, False for null/blank/invalid
    input; null raw -> False), phone_extension (String or null), phone_region (String ISO
    alpha-2 region the number belongs to, or null).

    `region` is each row's ISO alpha-2 country (null -> `default_region`). Results equal
    `phonenumbers` on the canonical text described in the module docstring; extension and region
    are only reported for valid numbers.
    """
    frame, _ = _run(raw, region, default_region)
    return frame


def slow_path_share(raw: pl.Series, region: pl.Series | None, default_region: str = "US") -> float:
    """Fraction of rows (0..1) that needed phonenumbers itself; for tests and benchmarks."""
    _, slow_rows = _run(raw, region, default_region)
    return slow_rows / len(raw) if len(raw) else 0.0
