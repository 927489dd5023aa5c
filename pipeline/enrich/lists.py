"""Domain lists from maintained packages, read once per process.

Free-mail domains come from `freemail` (its data file only: importing the package would make
tldextract fetch the public suffix list over the network), disposable domains from
`disposable-email-domains` (updated weekly upstream).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from disposable_email_domains import blocklist


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the {name!r} package is required for offline enrichment")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def free_mail_domains() -> frozenset[str]:
    text = (_package_dir("freemail") / "data" / "free.txt").read_text(encoding="utf-8")
    disposable = disposable_domains()
    # freemail's free list also carries throwaway domains; those are disposable, not free.
    return (
        frozenset(line.strip().lower() for line in text.splitlines() if line.strip()) - disposable
    )


@cache
def disposable_domains() -> frozenset[str]:
    return frozenset(d.lower() for d in blocklist)
