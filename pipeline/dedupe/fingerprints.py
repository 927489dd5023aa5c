"""Derived columns the spec blocks and compares on (`lead_fingerprints`)."""

from __future__ import annotations

import jellyfish
import polars as pl

from pipeline.dedupe.nicknames import nickname_lookup
from pipeline.dedupe.spec import Fingerprint, MatchSpec


def _mojibake_table() -> tuple[list[str], list[str]]:
    """UTF-8 text once decoded as Windows-1252 ('JimÃ©nez' for 'Jiménez'): each accented
    Latin letter's two-character misreading -> the letter."""
    wrong, right = [], []
    for code in range(0xC0, 0x180):
        char = chr(code)
        try:
            garbled = char.encode("utf-8").decode("cp1252")
        except UnicodeDecodeError:
            continue
        wrong.append(garbled)
        right.append(char)
    return wrong, right


_MOJIBAKE = _mojibake_table()


def _folded(expr: pl.Expr) -> pl.Expr:
    """Lower-case, accents off, punctuation to spaces: the form keys are built from
    (mis-decoded accents repaired first)."""
    text = (
        expr.cast(pl.String)
        .str.replace_many(*_MOJIBAKE)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )
    return pl.when(text.str.len_chars() > 0).then(text)


def _map_distinct(series: pl.Series, fn) -> pl.Series:
    """Apply a Python function once per distinct value (names repeat a lot), not per row."""
    distinct = series.drop_nulls().unique()
    mapped = pl.Series([fn(v) for v in distinct], dtype=pl.String)
    lookup = dict(zip(distinct.to_list(), mapped.to_list(), strict=True))
    return series.replace_strict(lookup, default=None, return_dtype=pl.String)


# Transforms that fold their source text first (unless it is already folded).
_FOLDING = frozenset(
    {"lower", "initial", "prefix", "suffix", "sorted_tokens", "nickname", "metaphone"}
)


def _metaphone(value: str) -> str | None:
    return jellyfish.metaphone(value).replace(" ", "") or None


def fingerprint_series(
    frame: pl.DataFrame, fp: Fingerprint, folded: frozenset[str] = frozenset()
) -> pl.Series:
    """`folded`: columns already in folded form (earlier fingerprints), not folded again.

    Folding (NFKD, Unicode regexes) is the costly part: when it is needed, it runs over the
    distinct source values, joined back when values repeat (titles, companies, cities),
    which is most of the time. Anything else (slices of folded keys, digits, email parts)
    is cheaper done on every row than deduplicating and joining back.
    """
    needs_fold = not set(fp.source) <= folded and fp.transform in _FOLDING
    series = None
    if needs_fold:
        sources = frame.select(fp.source)
        distinct = sources.unique()
        if distinct.height < 0.5 * frame.height:
            mapped = distinct.with_columns(_transformed(distinct, fp, folded).alias("__fp"))
            series = sources.join(
                mapped, on=fp.source, how="left", nulls_equal=True, maintain_order="left"
            )["__fp"]
    if series is None:
        series = _transformed(frame, fp, folded)
    if fp.transform == "lower" and set(fp.source) <= folded and len(fp.source) > 1:
        # Joined already-folded parts that are all missing give '', not null: a record
        # with no name must not have the empty name (which every other name is unlike).
        series = pl.select(pl.when(series.str.len_bytes() > 0).then(series)).to_series()
    if fp.fallback:
        series = series.fill_null(frame[fp.fallback].cast(pl.String))
    return series


def _transformed(frame: pl.DataFrame, fp: Fingerprint, folded: frozenset[str]) -> pl.Series:
    t = fp.transform
    if t == "agreeing":
        # The value where every source holds the same one (a name the address spells out).
        first, *others = (pl.col(c).cast(pl.String) for c in fp.source)
        same = pl.all_horizontal([first == other for other in others])
        return frame.select(pl.when(same.fill_null(False)).then(first)).to_series()
    already = set(fp.source) <= folded
    if t == "sorted_tokens" and len(fp.source) == 2:
        # Order-independent key of two columns ('smith john' == 'john smith').
        a, b = (pl.col(c) if already else _folded(pl.col(c)) for c in fp.source)
        return frame.select(
            pl.when(a.is_not_null() & b.is_not_null())
            .then(pl.concat_str(pl.min_horizontal(a, b), pl.lit(" "), pl.max_horizontal(a, b)))
            .otherwise(pl.coalesce(a, b))
        ).to_series()
    source = (
        pl.col(fp.source[0])
        if len(fp.source) == 1
        else pl.concat_str([pl.col(c) for c in fp.source], separator=" ", ignore_nulls=True)
    )
    base = source if already else _folded(source)
    if t == "lower":
        expr = base
    elif t == "initial":
        expr = base.str.slice(0, 1)
    elif t == "prefix":
        expr = base.str.replace_all(" ", "").str.slice(0, fp.length)
    elif t == "suffix":
        expr = base.str.replace_all(" ", "").str.slice(-(fp.length or 1))
    elif t == "digits":
        digits = source.cast(pl.String).str.replace_all(r"\D", "")
        expr = digits.str.slice(-fp.length) if fp.length else digits
        expr = pl.when(expr.str.len_chars() > 0).then(expr)
    elif t == "sorted_tokens":
        expr = base.str.split(" ").list.sort().list.join(" ")
    elif t == "nickname":
        first = base.str.extract(r"^(\S+)", 1)
        expr = first.replace(nickname_lookup())
    elif t in ("email_first", "email_last"):
        # 'tyler.allen@x.com' -> tyler / allen: a name for records that carry only an email.
        local = source.cast(pl.String).str.extract(r"^([^@]+)@", 1)
        parts = local.str.replace_all(r"\d+", "").str.extract_groups(
            r"^([a-z]{2,})[._-]([a-z]{2,})$"
        )
        expr = parts.struct.field("1" if t == "email_first" else "2")
    elif t == "email_base":
        # 'jan.dejong2@x.nl' -> 'jan.dejong@x.nl': numbered siblings of one address.
        expr = source.cast(pl.String).str.replace(r"[._-]?\d+@", "@")
    elif t == "email_unseparated":
        # 'robert.barton@x.com' -> 'robertbarton@xcom': the address without separators (an
        # equality key only; the domain's dots go too, which costs no distinctions).
        expr = source.cast(pl.String).str.replace_all(r"[._-]", "")
    elif t == "metaphone":
        values = frame.select(base.str.replace_all(" ", "")).to_series()
        return _map_distinct(values, _metaphone)
    else:  # pragma: no cover - the spec validator forbids other values
        raise ValueError(t)
    return frame.select(expr).to_series()


def add_fingerprints(frame: pl.DataFrame, spec: MatchSpec) -> pl.DataFrame:
    """The input plus every fingerprint column of the spec."""
    missing = sorted(spec.input_columns() - set(frame.columns))
    if missing:
        raise ValueError(
            f"spec {spec.name!r} needs column(s) {', '.join(missing)} that the input lacks "
            f"(it has: {', '.join(frame.columns)})"
        )
    folded: set[str] = set()
    for name, fp in spec.fingerprints.items():  # in order: later ones may use earlier ones
        frame = frame.with_columns(fingerprint_series(frame, fp, frozenset(folded)).alias(name))
        if fp.transform in ("lower", "nickname", "sorted_tokens", "email_first", "email_last"):
            folded.add(name)
    return frame
