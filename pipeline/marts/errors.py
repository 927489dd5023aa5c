"""Errors that point at a line of a model file, so a person can go straight to it."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import PROJECT_ROOT


def shown(path: Path) -> str:
    """The path as a person in the project would type it (relative to the project root)."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


class ModelError(ValueError):
    """A model file is wrong: an unknown table, a bad header, a cycle. Raised when the models
    are loaded (so the code location does not load), naming the file and line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = shown(path) + (f", line {line}" if line else "")
        super().__init__(f"{where}: {message}")


class BuildError(RuntimeError):
    """A model could not be built in the warehouse (a SQL error, a missing upstream table,
    a documented column the query does not produce)."""
