"""YAML files people write (sequences, the agent, monitoring): read and validated so an error
names the file, the key (`sequences[0].mailbox.daily_cap`) and what is wrong, never a
traceback from deep inside pydantic or the YAML parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def key_path(loc: tuple[Any, ...]) -> str:
    """pydantic's error location as the YAML key a person edits: `steps[1].template`
    (a field named `from_` because `from` is a Python keyword reads `from`)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out.replace("from_", "from")


def read_yaml(path: Path, variable: str, error: type[Exception]) -> Any:
    """The file's YAML (an empty file is {}); `variable` is the setting that names it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such file ({variable})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    return {} if data is None else data


def validate(model: type[M], data: Any, source: str, error: type[Exception]) -> M:
    """`data` as `model`; every problem at once, each as `source: key: message`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{source}: {key_path(e['loc']) or '(top level)'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors(include_url=False)
        ]
        raise error("; ".join(problems)) from None


def label(path: str | Path | None, default: Path) -> tuple[Path, str]:
    """(the file to read, how errors name it: the default's bare name, or the given path)."""
    file = Path(path) if path else default
    return file, (file.name if path is None else str(file))
