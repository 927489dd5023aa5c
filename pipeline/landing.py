"""Content-addressed landing zone: the bytes of every file version we have taken in.

Addressing by sha256 makes landing idempotent and doubles as the record of which contents
were already ingested, so an identical re-upload is recognised without any other ledger.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def landed_path(landing_dir: Path, sha256: str) -> Path:
    return landing_dir / sha256[:2] / sha256


def is_landed(landing_dir: Path, sha256: str) -> bool:
    return landed_path(landing_dir, sha256).exists()


def land_bytes(landing_dir: Path, data: bytes, sha256: str | None = None) -> tuple[str, Path]:
    """Write bytes once under their hash; a crash mid-write leaves no partial file behind."""
    digest = sha256 or sha256_bytes(data)
    target = landed_path(landing_dir, digest)
    if target.exists():
        return digest, target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return digest, target


def quarantine(quarantine_dir: Path, source: Path | bytes, name: str, sha256: str) -> Path:
    """Copy a file (or an archive member's bytes) that could not be parsed aside, named so
    a person can find and fix it: `<sha256[:12]>__leads.csv`, `..__archive.zip!a_b.csv`."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    safe = name.replace("/", "_").replace("\\", "_")
    target = quarantine_dir / f"{sha256[:12]}__{safe}"
    if not target.exists():
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)
    return target
