"""The lockfile pins every dependency pyproject.toml declares, so a fresh clone installs
exactly what was tested (`make install` uses requirements.lock with hashes)."""

from __future__ import annotations

import re
import tomllib

from pipeline.config import PROJECT_ROOT

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_declared_dependency_is_pinned_with_hashes():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = (PROJECT_ROOT / "requirements.lock").read_text()
    pinned = {
        _canonical(m.group(1)): line
        for line in lock.splitlines()
        if (m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line))
    }
    missing = [d for d in declared if _canonical(_NAME.match(d).group(1)) not in pinned]
    assert not missing, f"run `make lock`: requirements.lock lacks {missing}"
    assert lock.count("--hash=sha256:") >= len(pinned)
