"""What a stored model and stored fingerprints were made with. Incremental runs reuse both,
so they must be this engine's and this spec's: after a change to either (a level added, a
transform changed), the next resolution is full."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from pipeline.dedupe.spec import MatchSpec

ENGINE_DIR = Path(__file__).parent


@cache
def engine_digest() -> str:
    """A hash of the engine's sources and built-in specs (`pipeline/dedupe`); the
    benchmarks tag their results with it too."""
    digest = hashlib.sha256()
    for path in sorted(ENGINE_DIR.rglob("*")):
        if path.suffix in {".py", ".yaml"}:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_digest(spec: MatchSpec) -> str:
    """The spec (a file outside the package included) and the engine a model is made by."""
    text = spec.model_dump_json() + engine_digest()
    return hashlib.sha256(text.encode()).hexdigest()[:16]
