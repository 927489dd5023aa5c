"""parse_phones: nasty inputs, and exact agreement with `phonenumbers` row by row.

The reference below is written independently of pipeline.normalize.phones: phonenumbers' own
extension helpers and plain `re` for the canonical text (the module docstring's rules 1-4),
then phonenumbers itself (rule 5).
"""

from __future__ import annotations

import random
import re
from decimal import Decimal

import phonenumbers
import polars as pl
import pytest
from phonenumbers import PhoneNumberType, phonenumberutil
from phonenumbers.phonenumberutil import SUPPORTED_REGIONS

from pipeline.normalize import phones
from pipeline.normalize.phones import OUTPUT_SCHEMA, parse_phones, slow_path_share

Row = tuple[str | None, bool, str | None, str | None]  # e164, valid, extension, region

_SCI = re.compile(r"^\s*(?:[0-9]+(?:\.[0-9]+)?[eE]\+?[0-9]{1,2}|[0-9]+\.0+)\s*$")
_INVALID: Row = (None, False, None, None)


def reference(raw: str | None, region: str | None, default: str = "US") -> Row:
    """One row the slow, obvious way."""
    if raw is None:
        return _INVALID
    # The extension is phonenumbers' own reading (its helpers, run on the text alone).
    ext, before = phonenumberutil._maybe_strip_extension(
        phonenumberutil._extract_possible_number(raw)
    )
    body, ext = (before, ext) if ext else (raw, None)
    digits = re.sub(r"[^0-9]", "", body)
    first = re.search(r"[0-9+]", body)
    plus = first is not None and first.group() == "+"
    if _SCI.match(raw):
        value = Decimal(raw.strip())
        if value == value.to_integral_value():
            digits, plus = str(int(value)), False
    if not plus and re.match(r"00[1-9]", digits):
        plus, digits = True, digits[2:]
    text = ("+" if plus else "") + digits
    try:
        number = phonenumbers.parse(text, (region or "").strip().upper() or default)
    except phonenumbers.NumberParseException:
        return _INVALID
    if not phonenumbers.is_valid_number(number):
        return _INVALID
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    where = phonenumbers.region_code_for_number(number)
    return e164, True, ext, None if where == "001" else where


@pytest.fixture
def replay_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small groups normally go straight to phonenumbers; make the fast path take them too."""
    monkeypatch.setattr(phones, "_MIN_GROUP_ROWS", 0)


def _run(raw: list[str | None], region: list[str | None] | None, default: str = "US") -> list:
    regions = None if region is None else pl.Series(region, dtype=pl.String)
    out = parse_phones(pl.Series(raw, dtype=pl.String), regions, default)
    assert out.schema == OUTPUT_SCHEMA
    assert out.height == len(raw)
    return list(out.iter_rows())


NASTY: list[tuple[str | None, str | None, Row]] = [
    ("(415) 555-0134", None, ("+14155550134", True, None, "US")),
    ("+44 20 7946 0958", None, ("+442079460958", True, None, "GB")),
    ("0049 30 1234567", None, ("+49301234567", True, None, "DE")),
    ("030 1234567", "DE", ("+49301234567", True, None, "DE")),
    ("415.555.0134 x23", None, ("+14155550134", True, "23", "US")),
    ("ext. 12", None, _INVALID),
    ("tel: +1-415-555-0134", None, ("+14155550134", True, None, "US")),
    ("0044 (0)20 7946 0958", None, ("+442079460958", True, None, "GB")),
    ("+33 (0)1 42 68 53 00", None, ("+33142685300", True, None, "FR")),
    ("+49 (0)30 1234567", None, ("+49301234567", True, None, "DE")),
    ("+41 (0) 78 927 2696", None, ("+41789272696", True, None, "CH")),
    ("n/a", None, _INVALID),
    ("-", None, _INVALID),
    ("0000", None, _INVALID),
    ("123", None, _INVALID),
    ("", None, _INVALID),
    ("   ", None, _INVALID),
    ("x", None, _INVALID),
    ("+", None, _INVALID),
    ("+1", None, _INVALID),
    (None, None, _INVALID),
    (None, "GB", _INVALID),
    ("4.155550134E9", None, ("+14155550134", True, None, "US")),
    ("4.155550134E+09", None, ("+14155550134", True, None, "US")),
    ("4155550134.0", None, ("+14155550134", True, None, "US")),
    ("  +1 415 555 0134  ", None, ("+14155550134", True, None, "US")),
    ("415‐555‐0134", None, ("+14155550134", True, None, "US")),  # U+2010 hyphens
    ("415—555—0134", None, ("+14155550134", True, None, "US")),  # em dashes
    ("1 415 555 0134", None, ("+14155550134", True, None, "US")),
    ("14155550134", None, ("+14155550134", True, None, "US")),
    ("+1 (415) 555-0134 ext. 99", None, ("+14155550134", True, "99", "US")),
    ("+1 415 555 0134 #7", None, ("+14155550134", True, "7", "US")),
    ("(415) 555-0134 extension: 1234", None, ("+14155550134", True, "1234", "US")),
    ("fax 415 555 0134", None, ("+14155550134", True, None, "US")),  # "x" of fax: no extension
    ("n/a x12", None, _INVALID),  # an extension without a number is not reported
    ("415 555 0134 / 415 555 0199", None, _INVALID),  # two numbers: too many digits
    ("1-800-FLOWERS", None, _INVALID),  # letters are dropped, not spelled out
    ("011 44 20 7946 0958", "US", ("+442079460958", True, None, "GB")),
    ("00 1 415 555 0134", "DE", ("+14155550134", True, None, "US")),
    ("+0044 20 7946 0958", "GB", ("+442079460958", True, None, "GB")),
    ("020 7946 0958", "gb", ("+442079460958", True, None, "GB")),  # region case and spaces
    ("020 7946 0958", " GB ", ("+442079460958", True, None, "GB")),
    ("020 7946 0958", "XX", _INVALID),  # unknown region: national numbers cannot be placed
    ("+44 20 7946 0958", "XX", ("+442079460958", True, None, "GB")),
    ("020 7946 0958", "", _INVALID),  # blank region -> default US
    ("07400 123456", "GB", ("+447400123456", True, None, "GB")),
    ("07911 123456", "GB", ("+447911123456", True, None, "GG")),  # Guernsey's mobile range
    ("+44 1624 456789", None, _INVALID),
    ("(613) 555-0123", "CA", ("+16135550123", True, None, "CA")),
    ("+1 613 555 0123", None, ("+16135550123", True, None, "CA")),
    ("6135550123", "US", ("+16135550123", True, None, "CA")),  # the number's region wins
    ("+39 02 1234 5678", None, ("+390212345678", True, None, "IT")),  # Italian leading zero
    ("+39 06 698 12345", None, ("+390669812345", True, None, "VA")),
    ("0171 1234567", "DE", ("+491711234567", True, None, "DE")),
    ("0201234567", "NL", ("+31201234567", True, None, "NL")),
    ("912345678", "ES", ("+34912345678", True, None, "ES")),
    ("044 668 18 00", "CH", ("+41446681800", True, None, "CH")),
    ("08-123 456 78", "SE", ("+46812345678", True, None, "SE")),
    ("01 234 5678", "IE", ("+35312345678", True, None, "IE")),
    ("0412 345 678", "AU", ("+61412345678", True, None, "AU")),
    ("+61 2 9876 5432", None, ("+61298765432", True, None, "AU")),
    ("55 1234 5678", "MX", ("+525512345678", True, None, "MX")),
    ("(11) 91234-5678", "BR", ("+5511912345678", True, None, "BR")),
    ("011 15 2345-6789", "AR", ("+5491123456789", True, None, "AR")),  # AR transform rule
    ("03-1234-5678", "JP", ("+81312345678", True, None, "JP")),
    ("+91 98765 43210", None, ("+919876543210", True, None, "IN")),
    ("+7 912 345 67 89", None, ("+79123456789", True, None, "RU")),
    ("8 (912) 345-67-89", "RU", ("+79123456789", True, None, "RU")),
    ("+800 1234 5678", None, ("+80012345678", True, None, None)),  # non-geographic
    ("0000", "GB", _INVALID),  # "00" then "0" is no international prefix
    ("000-000-0000", "DE", _INVALID),
    ("415 555 0134 x", None, ("+14155550134", True, None, "US")),  # marker without digits
    ("+44 (0) 7400 123456", None, ("+447400123456", True, None, "GB")),
    ("+44 7400 123456", "FR", ("+447400123456", True, None, "GB")),  # "+" beats the region
]


@pytest.mark.usefixtures("replay_everything")
@pytest.mark.parametrize(("raw", "region", "expected"), NASTY, ids=[repr(c[:2]) for c in NASTY])
def test_nasty_input(raw: str | None, region: str | None, expected: Row) -> None:
    assert reference(raw, region) == expected  # the table agrees with phonenumbers
    assert _run([raw], [region]) == [expected]


@pytest.mark.usefixtures("replay_everything")
def test_nasty_inputs_together() -> None:
    """Same table in one call: rows must not leak into each other through the routing."""
    raw = [c[0] for c in NASTY]
    region = [c[1] for c in NASTY]
    assert _run(raw, region) == [c[2] for c in NASTY]


def test_small_groups_go_to_phonenumbers() -> None:
    """By default a handful of rows per region is cheaper in phonenumbers: same answers."""
    raw = pl.Series([c[0] for c in NASTY], dtype=pl.String)
    region = pl.Series([c[1] for c in NASTY], dtype=pl.String)
    assert list(parse_phones(raw, region).iter_rows()) == [c[2] for c in NASTY]
    assert slow_path_share(raw, region) > 0.5


def test_empty_series() -> None:
    out = parse_phones(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String))
    assert out.height == 0
    assert out.schema == OUTPUT_SCHEMA
    assert slow_path_share(pl.Series([], dtype=pl.String), None) == 0.0


@pytest.mark.usefixtures("replay_everything")
def test_all_null_and_garbage() -> None:
    raw = [None, "", " ", "-", "n/a", "N/A", "none", "0", "00", "000", "0000", "+", "++", "?"]
    assert _run(raw, None) == [_INVALID] * len(raw)
    nulls = pl.Series([None, None], dtype=pl.Null)
    assert parse_phones(nulls, None)["phone_valid"].to_list() == [False, False]


@pytest.mark.usefixtures("replay_everything")
def test_region_none_uses_default() -> None:
    raw = ["020 7946 0958", "(415) 555-0134", "+33 1 42 68 53 00"]
    assert _run(raw, None, "GB") == [reference(r, None, "GB") for r in raw]
    assert _run(raw, None, "gb")[0] == ("+442079460958", True, None, "GB")
    assert _run(raw, [None, None, None])[1] == ("+14155550134", True, None, "US")


def test_region_length_mismatch() -> None:
    with pytest.raises(ValueError, match="region"):
        parse_phones(pl.Series(["1"]), pl.Series(["US", "GB"]))


# --------------------------------------------------------------------------- equivalence

REGIONS = (
    "US CA GB DE FR NL ES IT AU IN BR MX JP CH SE IE AR RU CN ZA NZ SG BE AT PL KR PR VA GG"
).split()
TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.UAN,
)
GARBAGE = ["n/a", "-", "0000", "123", "", "  ", "none", "TBD", "?", "x", None, "ext. 12", "++"]


def _examples(region: str) -> list[tuple[str, str]]:
    out = []
    for kind in TYPES:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            nsn = phonenumbers.national_significant_number(example)
            out.append((str(example.country_code), nsn))
    return out


def _mutate(rnd: random.Random, digits: str) -> str:
    """Change, drop, add or cut digits so that invalid lengths and ranges appear too."""
    chars = list(digits)
    roll = rnd.random()
    if roll < 0.4 and chars:
        chars[rnd.randrange(len(chars))] = str(rnd.randrange(10))
    elif roll < 0.55 and chars:
        del chars[rnd.randrange(len(chars))]
    elif roll < 0.7:
        chars.insert(rnd.randrange(len(chars) + 1), str(rnd.randrange(10)))
    elif roll < 0.8:
        chars = chars[: rnd.randrange(len(chars) + 1)]
    else:  # keep the prefix, randomise the subscriber part
        keep = max(1, len(chars) - 4)
        chars = chars[:keep] + [str(rnd.randrange(10)) for _ in chars[keep:]]
    return "".join(chars)


def _dress(rnd: random.Random, text: str) -> str:
    """Write digits the way people (and spreadsheets) do."""
    head, tail = ("+", text[1:]) if text.startswith("+") else ("", text)
    cut = sorted(rnd.sample(range(1, len(tail)), min(2, len(tail) - 1))) if len(tail) > 2 else []
    parts = [tail[i:j] for i, j in zip([0, *cut], [*cut, len(tail)], strict=True)]
    style = rnd.randrange(8)
    if style == 0 and len(parts) == 3:
        body = f"({parts[0]}) {parts[1]}-{parts[2]}"
    elif style == 1:
        body = ".".join(parts)
    elif style == 2:
        body = rnd.choice(["-", "‐", "–", "—", " "]).join(parts)
    elif style == 3:
        body = " ".join(parts)
    else:
        body = tail
    out = head + body
    decor = rnd.random()
    if decor < 0.05:
        out = f"tel: {out}"
    elif decor < 0.1:
        out = f"  {out}  "
    elif decor < 0.16:
        out += rnd.choice([" x", " ext. ", " ext ", "#", ", extension ", "x"]) + str(
            rnd.randint(1, 99999)
        )
    elif decor < 0.18 and text.isdigit() and not text.startswith("0") and len(text) > 1:
        out = f"{text[0]}.{text[1:]}E{len(text) - 1}"  # Excel
    elif decor < 0.19 and text.isdigit():
        out = f"{text}.0"
    elif decor < 0.2:
        out = f"{out} (mobile)"
    return out


def _corpus(size: int, seed: int) -> tuple[list[str | None], list[str | None]]:
    rnd = random.Random(seed)
    examples = {region: _examples(region) for region in REGIONS}
    raw: list[str | None] = []
    region_of: list[str | None] = []
    for _ in range(size):
        region = rnd.choice(REGIONS)
        roll = rnd.random()
        if roll < 0.04:
            raw.append(rnd.choice(GARBAGE))
        elif roll < 0.1:
            digits = "".join(str(rnd.randrange(10)) for _ in range(rnd.randrange(1, 16)))
            raw.append(_dress(rnd, rnd.choice(["", "+", "00"]) + digits))
        else:
            cc, nsn = rnd.choice(examples[region])
            if rnd.random() < 0.5:
                nsn = _mutate(rnd, nsn)
            trunk = phonenumbers.ndd_prefix_for_region(region, True) or ""
            form = rnd.randrange(9)
            text = [
                f"+{cc}{nsn}",
                f"{trunk}{nsn}",
                nsn,
                f"00{cc}{nsn}",
                f"{cc}{nsn}",
                f"{cc}{trunk}{nsn}",
                f"+{cc}{trunk}{nsn}",
                f"011{cc}{nsn}",
                _mutate(rnd, f"{cc}{nsn}"),
            ][form]
            raw.append(_dress(rnd, text))
        pick = rnd.random()
        if pick < 0.8:
            region_of.append(region)
        elif pick < 0.9:
            region_of.append(None)
        else:
            region_of.append(rnd.choice([region.lower(), f" {region} ", "", "XX", "US", "GB"]))
    return raw, region_of


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str | None], list[str | None], list[Row]]:
    """Raw texts, regions and the reference's answers."""
    raw, region = _corpus(20_000, seed=7)
    return raw, region, [reference(r, g) for r, g in zip(raw, region, strict=True)]


def test_equivalence_with_phonenumbers(corpus: tuple[list, list, list]) -> None:
    raw, region, expected = corpus
    frame, slow_rows = phones._run(
        pl.Series(raw, dtype=pl.String), pl.Series(region, dtype=pl.String), "US"
    )
    got = list(frame.iter_rows())
    wrong = [(r, g, a, b) for r, g, a, b in zip(raw, region, got, expected, strict=True) if a != b]
    assert not wrong, f"{len(wrong)} rows differ, e.g. {wrong[:5]}"
    valid = sum(e[1] for e in expected)
    assert 0.3 < valid / len(raw) < 0.9  # both valid and invalid numbers were exercised
    assert sum(e[2] is not None for e in expected) > 200  # and extensions
    # Only IDD-dialled, unknown-code and non-geographic numbers need phonenumbers itself.
    assert slow_rows / len(raw) < 0.05


@pytest.mark.usefixtures("replay_everything")
def test_slow_path_share() -> None:
    raw = pl.Series([c[0] for c in NASTY], dtype=pl.String)
    region = pl.Series([c[1] for c in NASTY], dtype=pl.String)
    # "011 44 ..." (US IDD), "+0044 ..." (no calling code 0) and "+800 ..." (non-geographic).
    assert slow_path_share(raw, region) == pytest.approx(3 / len(NASTY))
    assert slow_path_share(pl.Series(["(415) 555-0134"] * 10), None) == 0.0


def test_sliced_threads_give_the_same_answer(
    corpus: tuple[list, list, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big inputs are cut into slices normalized in threads; the cut must not show."""
    raw, region, expected = (column[:5_000] for column in corpus)
    monkeypatch.setattr(phones, "_ROWS_PER_THREAD", 1_000)
    assert _run(raw, region) == expected


def _dialled_with_idd(idd: str | None, text: str) -> bool:
    """phonenumbers strips the region's IDD unless a 0 follows it ("00" + digit is "+" here)."""
    match = re.match(idd, text) if idd and not re.match("00[1-9]", text) else None
    return match is not None and text[match.end() : match.end() + 1] != "0"


@pytest.mark.usefixtures("replay_everything")
def test_every_region_takes_the_fast_path() -> None:
    """Each region's example numbers agree, and only IDD-dialled ones need phonenumbers."""
    raw: list[str | None] = []
    region_of: list[str | None] = []
    idd_dialled = 0
    for region in sorted(SUPPORTED_REGIONS):
        trunk = phonenumbers.ndd_prefix_for_region(region, True) or ""
        idd = phonenumbers.PhoneMetadata.metadata_for_region(region).international_prefix
        for cc, nsn in _examples(region):
            texts = [f"{trunk}{nsn}", nsn, f"+{cc} {nsn}", f"{cc}{nsn}"]
            raw += texts
            region_of += [region] * len(texts)
            idd_dialled += sum(_dialled_with_idd(idd, t) for t in texts)
    expected = [reference(r, g) for r, g in zip(raw, region_of, strict=True)]
    frame, slow_rows = phones._run(
        pl.Series(raw, dtype=pl.String), pl.Series(region_of, dtype=pl.String), "US"
    )
    assert list(frame.iter_rows()) == expected
    assert slow_rows == idd_dialled
