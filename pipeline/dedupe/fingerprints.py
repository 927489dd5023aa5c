"""Derived columns the spec blocks and compares on (`lead_fingerprints`)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jellyfish
import numpy as np
import polars as pl

from pipeline.dedupe.chunks import aligned, chunk_layout, in_morsels
from pipeline.dedupe.nicknames import nickname_lookup
from pipeline.dedupe.spec import NAME_ORDER_TRANSFORMS, Fingerprint, MatchSpec
from pipeline.dedupe.word_forms import street_words, title_words


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
        .str.replace_all("ß", "ss", literal=True)  # Weiß / Weiss: NFKD keeps the letter
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )
    return pl.when(text.str.len_chars() > 0).then(text)


def _selected(frame: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """`frame.select(exprs)` through the lazy engine, which computes a subexpression once
    where it repeats (a fold tested for emptiness and then kept, the email's parts behind
    both names): the eager select computes it each time it occurs, twice the work."""
    return frame.lazy().select(exprs).collect()


def _map_distinct(series: pl.Series, fn) -> pl.Series:
    """Apply a Python function once per distinct value (names repeat a lot), not per row."""
    distinct = series.drop_nulls().unique()
    mapped = pl.Series([fn(v) for v in distinct.to_list()], dtype=pl.String)
    # Old and new values as two series: no Python dict of them to build and convert back.
    return series.replace_strict(distinct, mapped, default=None, return_dtype=pl.String)


# Transforms whose output is in folded form already.
_FOLDED_OUTPUT = frozenset(
    {
        "lower",
        "nickname",
        "sorted_tokens",
        "email_first",
        "email_last",
        "given_in_order",
        "surname_in_order",
        "title_words",
        "street_words",
    }
)
_NAME_ORDER = frozenset(NAME_ORDER_TRANSFORMS)
# Transforms that fold their source text first (unless it is already folded).
_FOLDING = frozenset(
    {
        "lower",
        "initial",
        "prefix",
        "suffix",
        "sorted_tokens",
        "nickname",
        "metaphone",
        "title_words",
        "street_words",
    }
)


def _metaphone(value: str) -> str | None:
    return jellyfish.metaphone(value).replace(" ", "") or None


def _needs_fold(fp: Fingerprint, folded: frozenset[str]) -> bool:
    return not set(fp.source) <= folded and fp.transform in _FOLDING


def _by_distinct(fp: Fingerprint, folded: frozenset[str]) -> bool:
    """Worked out once per distinct source value: a fold, or a nickname's lookup (a regex
    and a 2,300-entry replace cost 0.2 s over a million folded names, a tenth of that over
    their distinct values)."""
    return _needs_fold(fp, folded) or fp.transform == "nickname"


def fingerprint_series(
    frame: pl.DataFrame,
    fp: Fingerprint,
    folded: frozenset[str] = frozenset(),
    email_names: EmailNames | None = None,
    name_order: NameOrder | None = None,
) -> pl.Series:
    """`folded`: columns already in folded form (earlier fingerprints), not folded again.
    `email_names`, `name_order`: shared by the fingerprints built from one frame.

    Folding (NFKD, Unicode regexes) is the costly part: when it is needed, it runs over the
    distinct source values, joined back when values repeat (titles, companies, cities),
    which is most of the time. Anything else (slices of folded keys, digits, email parts)
    is cheaper done on every row than deduplicating and joining back.
    """
    series = None
    if _by_distinct(fp, folded) and len(fp.source) == 1:
        values = frame[fp.source[0]]
        distinct = values.drop_nulls().unique()
        if len(distinct) < 0.5 * frame.height:
            mapped = _transformed(distinct.to_frame(), fp, folded)
            # A lookup of each row's value (a hash map), cheaper than a join back; every
            # folding transform maps a missing value to a missing one.
            series = values.replace_strict(distinct, mapped, default=None).alias(mapped.name)
    elif _needs_fold(fp, folded) and fp.transform == "lower":
        # Several sources: each folded over its own distinct values, then joined with a
        # space (folding the joined text gives the same: no fold step crosses the space).
        parts = [
            fingerprint_series(frame, fp.model_copy(update={"source": [c], "fallback": None}))
            for c in fp.source
        ]
        # The parts as columns of a frame of their own: joined from literals in a lazy
        # query, they took four times as long (118 vs 28 ms at 1M rows).
        pieces = pl.DataFrame([part.alias(f"part{i}") for i, part in enumerate(parts)])
        joined = pl.concat_str(pl.all(), separator=" ", ignore_nulls=True)
        series = _selected(pieces, [pl.when(joined.str.len_bytes() > 0).then(joined)]).to_series()
    if series is None:
        series = _transformed(frame, fp, folded, email_names, name_order)
    return _selected(frame, [_finished(pl.lit(series), fp, folded)]).to_series().alias(series.name)


def _finished(expr: pl.Expr, fp: Fingerprint, folded: frozenset[str]) -> pl.Expr:
    """The transform's result as the fingerprint: empties null, the fallback filled in."""
    if fp.transform == "lower" and set(fp.source) <= folded and len(fp.source) > 1:
        # Joined already-folded parts that are all missing give '', not null: a record
        # with no name must not have the empty name (which every other name is unlike).
        expr = pl.when(expr.str.len_bytes() > 0).then(expr)
    if fp.fallback:
        expr = expr.fill_null(pl.col(fp.fallback).cast(pl.String))
    if fp.expand_initial:
        longer = pl.col(fp.expand_initial).cast(pl.String)
        spelled = (expr.str.len_chars() == 1) & longer.str.starts_with(expr)
        expr = pl.when(spelled.fill_null(False)).then(longer).otherwise(expr)
    return expr


def _email_local(source: pl.Expr) -> pl.Expr:
    """The part before the first '@', null when it is empty or there is no '@': one
    regular expression (a split, a null test and a length test cost three times as much)."""
    return source.cast(pl.String).str.extract(r"^([^@]+)@", 1)


def _email_parts(email: pl.Expr) -> pl.Expr:
    """The two names of 'first.last@' (digits dropped), as struct fields "1" and "2"."""
    return (
        _email_local(email)
        .str.replace_all(r"\d+", "")
        .str.extract_groups(r"^([a-z]{2,})[._-]([a-z]{2,})$")
    )


def _ordered_email_names(
    frame: pl.DataFrame, source: list[str], folded: frozenset[str] = frozenset()
) -> tuple[pl.Series, pl.Series]:
    """`email_first` and `email_last` with the record's surname and given name as second and
    third sources: 'rogers.jacqueline@' for Jacqueline Rogers or J. Rogers is last.first, as
    the record's names show (companies that write their addresses surname first are common).
    Turned round where the address's first part is the surname and its second is the given
    name, an initial of it or missing. Where the given name is spelled otherwise (a typo, or
    a record itself written surname first that the reading left as it was), nothing says
    which is swapped, and first.last stays. Sources in `folded` are compared as they are;
    others are folded over their distinct values."""
    email, surname_col, given_col = source
    parts = _selected(frame, [_email_parts(pl.col(email)).alias("p")]).unnest("p")
    first, second = parts["1"], parts["2"]
    surname, given = (_letters(frame[c], c in folded) for c in (surname_col, given_col))
    # Compared with Kleene logic: a missing given name is no objection.
    spelled = (second == given) | given.is_null() | (given.str.len_chars() <= 1)
    swap = ((first == surname) & (second != surname) & spelled).fill_null(False).arg_true()
    if len(swap):
        before = first.gather(swap)
        first = first.clone().scatter(swap, second.gather(swap))
        second = second.clone().scatter(swap, before)
    return first, second


def _letters(names: pl.Series, folded: bool) -> pl.Series:
    """A name as an address writes it: folded, its words run together ('de haan' as in
    'jan.dehaan@'). An unfolded column is folded once per distinct name."""
    names = names.cast(pl.String)
    if folded:
        return names.str.replace_all(" ", "", literal=True)
    distinct = names.drop_nulls().unique()
    written = pl.select(_folded(pl.lit(distinct)).str.replace_all(" ", "", literal=True))
    return names.replace_strict(distinct, written.to_series(), default=None)


class _MadeTogether:
    """Fingerprints one computation makes, made once per source for all of them: they are
    built at once in threads, and a thread asking for one already being made waits for it.
    `transforms`: the transforms made, in the order `_make` returns them."""

    transforms: tuple[str, ...]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[str, ...], tuple[pl.Series, ...]] = {}

    def _make(
        self, frame: pl.DataFrame, source: list[str], folded: frozenset[str]
    ) -> tuple[pl.Series, ...]:
        raise NotImplementedError

    def of(
        self, frame: pl.DataFrame, fp: Fingerprint, folded: frozenset[str] = frozenset()
    ) -> pl.Series:
        key = tuple(fp.source)
        with self._lock:
            if key not in self._made:
                self._made[key] = self._make(frame, fp.source, folded)
        return self._made[key][self.transforms.index(fp.transform)]


class EmailNames(_MadeTogether):
    """The names an address spells, for both `email_first` and `email_last` (each alone read
    and split every address: 0.33 CPU s at 1M rows)."""

    transforms = ("email_first", "email_last")

    def _make(
        self, frame: pl.DataFrame, source: list[str], folded: frozenset[str]
    ) -> tuple[pl.Series, pl.Series]:
        return _ordered_email_names(frame, source, folded)


def _names_in_order(
    frame: pl.DataFrame, source: list[str], reference: tuple[pl.Series, pl.Series] | None
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """The given name and surname folded, turned round where the other records say they were
    written the wrong way round: the given name is a word they use more often as a surname
    than as a given name, and the surname is one they use more often as a given name
    ('Weaver Amber' is Amber Weaver) or a single letter ('Weaver A.' is A. Weaver; 'John
    S.' stays John S., John being a given name elsewhere). A word no other record uses says
    nothing, and the record stays as written. `reference`: the stored (given, surname) of
    records resolved before, which count as others too (an incremental batch is read as
    its table would read it)."""
    # The two folds in two threads, as first_lower's and last_lower's were before they were
    # made from these.
    with ThreadPoolExecutor(max_workers=2) as pool:
        given, surname = pool.map(
            lambda column: fingerprint_series(frame, Fingerprint(source=[column])), source
        )
    surname_length = surname.str.len_chars()
    # Records whose order counts: a surname that is a word (after an initial for a surname
    # the order is what is in question).
    counted = (surname_length > 1).fill_null(False)
    # Per word (its 64-bit hash: grouped and joined as integers, half the time of the
    # strings at 1M rows), its uses as a surname less its uses as a given name.
    uses = [found.filter(counted).drop_nulls().hash(seed=7) for found in (surname, given)]
    if reference is not None:
        # Only the uses of the batch's own words: the lookups below ask for no other (a
        # count of every name of a million stored records is most of the work). Probed
        # by hash, not by string: a common given name is held by most stored records.
        asked = pl.concat([given, surname]).drop_nulls().hash(seed=7).unique().implode()
        stored_given, stored_surname = reference
        known = (stored_surname.str.len_chars() > 1).fill_null(False)
        for at, stored in enumerate((stored_surname, stored_given)):
            hashed = stored.hash(seed=7)
            found = hashed.filter(known & stored.is_not_null() & hashed.is_in(asked))
            uses[at] = pl.concat([uses[at], found])
    signs = np.repeat(np.array([1, -1], dtype=np.int32), [len(u) for u in uses])
    lean = (
        pl.DataFrame({"word": pl.concat(uses), "lean": signs})
        .group_by("word")
        .agg(pl.col("lean").sum())
    )
    leaning = (
        pl.DataFrame({"word": given.hash(seed=7), "other": surname.hash(seed=7)})
        .join(lean, on="word", how="left", maintain_order="left")
        .join(lean, left_on="other", right_on="word", how="left", maintain_order="left")
    )
    given_lean, surname_lean = leaning["lean"], leaning["lean_right"]
    # A counted record's own words count once each way: leaning at least even without it.
    turned = pl.select(
        pl.when(counted)
        .then((given_lean >= 0) & (surname_lean <= 0) & given.is_not_null())
        .otherwise((surname_length == 1) & (given.str.len_chars() > 1) & (given_lean > 0))
        .fill_null(False)
    ).to_series()
    turn = turned.arg_true()
    if not len(turn):
        return given, surname, turned
    first, second = given.gather(turn), surname.gather(turn)
    return given.clone().scatter(turn, second), surname.clone().scatter(turn, first), turned


class NameOrder(_MadeTogether):
    """`given_in_order`, `surname_in_order` and `written_surname_first` (whether the record
    was turned round). `reference`: an earlier table's fingerprints, whose records count as
    the others for the reading (`_names_in_order`)."""

    transforms = NAME_ORDER_TRANSFORMS

    def __init__(self, spec: MatchSpec, reference: pl.DataFrame | None = None) -> None:
        super().__init__()
        self._stored: dict[tuple[str, ...], tuple[pl.Series, pl.Series]] = {}
        if reference is not None:
            named: dict[tuple[str, ...], dict[str, str]] = {}
            for name, fp in spec.fingerprints.items():
                if fp.transform in _NAME_ORDER and name in reference.columns:
                    named.setdefault(tuple(fp.source), {})[fp.transform] = name
            for source, names in named.items():
                if {"given_in_order", "surname_in_order"} <= names.keys():
                    self._stored[source] = (
                        reference[names["given_in_order"]].cast(pl.String),
                        reference[names["surname_in_order"]].cast(pl.String),
                    )

    def _make(
        self, frame: pl.DataFrame, source: list[str], folded: frozenset[str]
    ) -> tuple[pl.Series, pl.Series, pl.Series]:
        return _names_in_order(frame, source, self._stored.get(tuple(source)))


def _made_together(fp: Fingerprint) -> tuple[str, ...] | None:
    """The computation `fp` shares with the other fingerprints of its sources, if any: the
    address's names read in the record's own order (`EmailNames`), or the names read in
    their order (`NameOrder`)."""
    if fp.transform in _NAME_ORDER:
        return ("names", *fp.source)
    if fp.transform in EmailNames.transforms and len(fp.source) == 3:
        return ("email", *fp.source)
    return None


def _computed_apart(fp: Fingerprint) -> bool:
    """Transforms that are not one expression over rows: metaphone (a Python function), and
    those made together with others (`_made_together`)."""
    return fp.transform == "metaphone" or _made_together(fp) is not None


def _transformed(
    frame: pl.DataFrame,
    fp: Fingerprint,
    folded: frozenset[str],
    email_names: EmailNames | None = None,
    name_order: NameOrder | None = None,
) -> pl.Series:
    if fp.transform == "metaphone":  # a Python function: once per distinct value
        values = _selected(frame, [_expression(fp, folded)]).to_series()
        return _map_distinct(values, _metaphone)
    if fp.transform in _NAME_ORDER:
        if name_order is None:
            raise ValueError(f"transform {fp.transform!r} is made by add_fingerprints")
        return name_order.of(frame, fp)
    if _made_together(fp) is not None:  # the address's names
        return (email_names or EmailNames()).of(frame, fp, folded)
    return _selected(frame, [_expression(fp, folded)]).to_series()


def _expression(fp: Fingerprint, folded: frozenset[str]) -> pl.Expr:
    """The transform as a polars expression (for metaphone: its input, letters only)."""
    t = fp.transform
    if t == "agreeing":
        # The value where every source holds the same one (a name the address spells out).
        first, *others = (pl.col(c).cast(pl.String) for c in fp.source)
        same = pl.all_horizontal([first == other for other in others])
        return pl.when(same.fill_null(False)).then(first)
    already = set(fp.source) <= folded
    if t == "sorted_tokens" and len(fp.source) == 2:
        # Order-independent key of two columns ('smith john' == 'john smith').
        a, b = (pl.col(c) if already else _folded(pl.col(c)) for c in fp.source)
        return (
            pl.when(a.is_not_null() & b.is_not_null())
            .then(pl.concat_str(pl.min_horizontal(a, b), pl.lit(" "), pl.max_horizontal(a, b)))
            .otherwise(pl.coalesce(a, b))
        )
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
    elif t == "joined":
        # 'ka afinance' -> 'kaafinance': a space typed in the wrong place. Of a key that is
        # folded already (company_key): folding the distinct company names again cost 0.3 s
        # at 1M rows.
        expr = source.cast(pl.String).str.replace_all(" ", "", literal=True)
        expr = pl.when(expr.str.len_bytes() > 0).then(expr)
    elif t == "digits":
        digits = source.cast(pl.String).str.replace_all(r"\D", "")
        expr = digits.str.slice(-fp.length) if fp.length else digits
        expr = pl.when(expr.str.len_chars() > 0).then(expr)
    elif t == "sorted_tokens":
        expr = base.str.split(" ").list.sort().list.join(" ")
    elif t == "nickname":
        first = base.str.extract(r"^(\S+)", 1)
        expr = first.replace(nickname_lookup())
    elif t == "title_words":  # 'sr mktg mgr' -> 'senior marketing manager'
        expr = title_words(base)
    elif t == "street_words":  # 'friedrichstr 165' -> 'friedrich str 165'
        expr = street_words(base)
    elif t in ("email_first", "email_last"):
        # 'tyler.allen@x.com' -> tyler / allen: a name for records that carry only an email.
        expr = _email_parts(pl.col(fp.source[0])).struct.field("1" if t == "email_first" else "2")
    elif t == "email_base":
        # 'jan.dejong2@x.nl' -> 'jan.dejong@x.nl': numbered siblings of one address.
        expr = source.cast(pl.String).str.replace(r"[._-]?\d+@", "@")
    elif t == "email_unseparated":
        # 'robert.barton@x.com' -> 'robertbarton@xcom': the address without separators (an
        # equality key only; the domain's dots go too, which costs no distinctions).
        expr = source.cast(pl.String).str.replace_all(r"[._-]", "")
    elif t == "metaphone":
        expr = base.str.replace_all(" ", "")
    else:  # pragma: no cover - the spec validator forbids other values
        raise ValueError(t)
    return expr


def _partners_last(names: list[str], fingerprints: dict[str, Fingerprint]) -> list[str]:
    """`names` with all but the first of those made by one computation (`_made_together`:
    `email_first` and `email_last`, or the names read in order, of the same sources) moved
    to the end: each waits for the first to finish, and waiting at the head of the queue it
    held one of the two workers idle while the first ran (0.4 s of the wave at 1M rows)."""
    first, partners, seen = [], [], set()
    for name in names:
        shared = _made_together(fingerprints[name])
        (partners if shared is not None and shared in seen else first).append(name)
        seen.add(shared)
    return first + partners


def add_fingerprints(
    frame: pl.DataFrame, spec: MatchSpec, reference: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The input plus every fingerprint column of the spec.

    Fingerprints whose sources are all available are built together, in threads (polars
    releases the GIL), a wave at a time: later ones may be built from earlier ones.
    `reference`: the fingerprints of records resolved before (an incremental batch's
    existing records), read with the new ones where a fingerprint depends on the others
    (`given_in_order`: whether a word is a given name or a surname)."""
    missing = sorted(spec.input_columns() - set(frame.columns))
    if missing:
        raise ValueError(
            f"spec {spec.name!r} needs column(s) {', '.join(missing)} that the input lacks "
            f"(it has: {', '.join(frame.columns)})"
        )
    folded: set[str] = set()
    pending = dict(spec.fingerprints)
    frame = in_morsels(frame)
    layout = chunk_layout(frame)
    email_names = EmailNames()
    name_order = NameOrder(spec, reference)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        while pending:
            ready = {
                name: fp
                for name, fp in pending.items()
                if set(fp.source) | {c for c in (fp.fallback, fp.expand_initial) if c}
                <= set(frame.columns)
            }
            if not ready:  # pragma: no cover - the spec validator rejects cycles
                raise ValueError(f"fingerprints {', '.join(pending)} depend on each other")
            done = frozenset(folded)
            # Per-row transforms go into one select: polars computes what they share once
            # (the email split behind email_first, email_last, email_unseparated) and runs
            # them in parallel. Folds over distinct values, metaphone and the address's
            # names in the record's order go to threads.
            plain = {
                name: fp
                for name, fp in ready.items()
                if not _by_distinct(fp, done) and not _computed_apart(fp)
            }
            other = _partners_last([name for name in ready if name not in plain], ready)
            build = partial(
                fingerprint_series,
                frame,
                folded=done,
                email_names=email_names,
                name_order=name_order,
            )
            futures = [pool.submit(build, ready[name]) for name in other]
            built = {
                name: series
                for name, series in zip(
                    plain,
                    _selected(
                        frame,
                        [
                            _finished(_expression(fp, done), fp, done).alias(name)
                            for name, fp in plain.items()
                        ],
                    ),
                    strict=True,
                )
            }
            built |= {name: future.result() for name, future in zip(other, futures, strict=True)}
            frame = frame.with_columns(aligned(built[name], layout).alias(name) for name in ready)
            for name, fp in ready.items():
                del pending[name]
                if fp.transform in _FOLDED_OUTPUT:
                    folded.add(name)
    return frame
