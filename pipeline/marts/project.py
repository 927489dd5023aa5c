"""Finding the SQL models, resolving what each reads, and ordering them.

Every `.sql` file under the models folder is one model named after the file; a subfolder is a
layer and the schema its table is written to (`marts/lead_funnel_daily.sql` ->
`marts.lead_funnel_daily`; a file at the top goes to `marts`). A table the SQL names must be
one of the pipeline's warehouse tables (`leads.normalized_leads`) or another model; anything
else stops the load with the file and line. Unqualified names are looked up among the models,
then the pipeline's tables; a name both could mean must be qualified.
"""

from __future__ import annotations

import difflib
import graphlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.marts.errors import ModelError
from pipeline.marts.header import ModelDoc, ModelTest, read_doc
from pipeline.marts.references import (
    TableReference,
    parse_query,
    qualify,
    statement_body,
    table_references,
)

DEFAULT_LAYER = "marts"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, order=True)
class Relation:
    """A table in the warehouse: `schema.name`."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return f'"{self.schema}"."{self.name}"'


@dataclass(frozen=True)
class SqlModel:
    name: str
    layer: str  # the schema its table is written to
    path: Path
    text: str  # the file as written
    doc: ModelDoc
    references: tuple[TableReference, ...]
    depends_on: tuple[Relation, ...]  # distinct, in order of first reference
    test_targets: Mapping[str, Relation]  # relationships test name -> the table it reads
    executable: str  # the query with every table reference qualified

    @property
    def relation(self) -> Relation:
        return Relation(self.layer, self.name)

    @property
    def tests(self) -> tuple[ModelTest, ...]:
        return self.doc.tests

    @property
    def upstream(self) -> tuple[Relation, ...]:
        """What the model's build and tests read: its lineage edges."""
        return tuple(dict.fromkeys((*self.depends_on, *self.test_targets.values())))


@dataclass(frozen=True)
class SqlProject:
    folder: Path
    models: Mapping[str, SqlModel]  # in build order: every model after what it reads
    sources: frozenset[Relation]  # the pipeline's warehouse tables

    def model(self, name: str) -> SqlModel:
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(self.models) or "none"
            raise KeyError(f"no model named {name!r} in {self.folder} (models: {known})") from None

    def model_for(self, relation: Relation) -> SqlModel | None:
        model = self.models.get(relation.name)
        return model if model is not None and model.relation == relation else None

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.layer for m in self.models.values()))


def _resolve(
    path: Path,
    ref: TableReference,
    models: Mapping[str, Relation],
    sources: frozenset[Relation],
) -> Relation:
    known = sorted(str(r) for r in (*models.values(), *sources))
    if ref.schema is not None:
        relation = Relation(ref.schema, ref.name)
        if relation in sources or models.get(ref.name) == relation:
            return relation
    else:
        matches = [r for r in (models.get(ref.name), *sources) if r and r.name == ref.name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            options = " or ".join(str(m) for m in matches)
            raise ModelError(path, ref.line, f"{ref.name} is ambiguous: write {options}")
    same_name = [k for k in known if k.endswith(f".{ref.name}")]
    close = same_name or difflib.get_close_matches(ref.shown, known, n=2, cutoff=0.8)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ModelError(
        path,
        ref.line,
        f"unknown table {ref.shown}: not a pipeline asset's table or another model{hint}",
    )


def discover(folder: Path) -> list[tuple[str, str, Path]]:
    """(name, layer, path) of every model file, sorted by path."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no SQL models folder at {folder}")
    found: list[tuple[str, str, Path]] = []
    for path in sorted(folder.rglob("*.sql")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if len(relative.parts) > 2:
            raise ModelError(path, None, "models sit in the folder or one layer below it")
        layer = relative.parts[0].lower() if len(relative.parts) == 2 else DEFAULT_LAYER
        name = path.stem.lower()
        for what, value in (("model", name), ("layer", layer)):
            if not _NAME.match(value):
                raise ModelError(
                    path, None, f"{what} name {value!r}: use lowercase letters, digits and _"
                )
        found.append((name, layer, path))
    return found


def load_project(folder: Path, sources: Iterable[tuple[str, str]]) -> SqlProject:
    """Parse every model under `folder`; `sources` are the pipeline's warehouse tables as
    (schema, table). Raises ModelError for the first problem, naming its file and line."""
    source_set = frozenset(Relation(s.lower(), t.lower()) for s, t in sources)
    files = discover(folder)
    names: dict[str, Relation] = {}
    paths: dict[str, Path] = {}
    for name, layer, path in files:
        if name in names:
            raise ModelError(
                path,
                None,
                f"a model named {name} already exists ({paths[name].name}); "
                "model names are unique across layers",
            )
        relation = Relation(layer, name)
        if relation in source_set:
            raise ModelError(path, None, f"{relation} is a pipeline asset's table already")
        names[name] = relation
        paths[name] = path

    parsed: dict[str, SqlModel] = {}
    for name, layer, path in files:
        text = path.read_text(encoding="utf-8")
        query = parse_query(path, text)
        refs = table_references(path, query)
        doc = read_doc(path, text)
        resolved = {ref.start: _resolve(path, ref, names, source_set) for ref in refs}
        depends_on = tuple(dict.fromkeys(resolved[r.start] for r in refs))
        if Relation(layer, name) in depends_on:
            line = next(r.line for r in refs if resolved[r.start] == Relation(layer, name))
            raise ModelError(path, line, f"{name} reads its own table")
        test_targets: dict[str, Relation] = {}
        for test in doc.tests:
            if test.kind != "relationships" or test.to is None:
                continue
            schema, _, table = test.to.rpartition(".")
            ref = TableReference(schema or None, table, test.line or 1, -1)
            test_targets[test.name] = _resolve(doc.source or path, ref, names, source_set)
        executable = statement_body(qualify(text, refs, {s: r.schema for s, r in resolved.items()}))
        parsed[name] = SqlModel(
            name=name,
            layer=layer,
            path=path,
            text=text,
            doc=doc,
            references=tuple(refs),
            depends_on=depends_on,
            test_targets=test_targets,
            executable=executable,
        )

    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for model in parsed.values():
        upstream = [r.name for r in model.upstream if names.get(r.name) == r]
        sorter.add(model.name, *upstream)
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        first = parsed[cycle[0]]
        raise ModelError(
            first.path, None, "models read each other in a cycle: " + " -> ".join(cycle)
        ) from None
    return SqlProject(folder=folder, models={n: parsed[n] for n in order}, sources=source_set)
