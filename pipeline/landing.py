"""Content-addressed landing zone: the bytes of every file version we have taken in.

Addressing by sha256 makes landing idempotent and doubles as the record of which contents
were already ingested, so an identical re-upload is recognised without any other ledger.

A source that names content without its bytes (Drive's md5Checksum, a Google Sheet's version)
records that name as an alias of the sha256 it landed under (`aliases/`), so the same content
is recognised, and never downloaded, again. Bytes are streamed in (`LandingSink`): a large
download is hashed as it is written, never held whole in memory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from types import TracebackType

ALIASES = "aliases"


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


class LandingSink:
    """A writable file object that lands what is written to it under its sha256 on close.

    `with LandingSink(landing_dir) as sink: sink.write(...)`; then `sink.sha256`, `sink.path`,
    `sink.size` and `sink.md5` (Drive's checksum, to check a download against). Bytes go to a
    temporary file beside the landing zone; an exception inside the block removes it.
    """

    def __init__(self, landing_dir: Path) -> None:
        landing_dir.mkdir(parents=True, exist_ok=True)
        self._dir = landing_dir
        self._tmp = landing_dir / f".incoming.{os.getpid()}.{threading.get_ident()}.{id(self)}.tmp"
        self._fh = self._tmp.open("wb")
        self._sha, self._md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.sha256 = ""
        self.md5 = ""
        self.path = self._tmp

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        self._md5.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def __enter__(self) -> LandingSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._fh.close()
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)
            return
        self.sha256, self.md5 = self._sha.hexdigest(), self._md5.hexdigest()
        self.path = landed_path(self._dir, self.sha256)
        if self.path.exists():
            self._tmp.unlink()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, self.path)


def land_file(landing_dir: Path, source: Path, chunk_size: int = 1 << 20) -> tuple[str, Path]:
    """Land a file's bytes, streamed (the file is never read whole into memory)."""
    with source.open("rb") as fh, LandingSink(landing_dir) as sink:
        while chunk := fh.read(chunk_size):
            sink.write(chunk)
    return sink.sha256, sink.path


def _alias_path(landing_dir: Path, key: str) -> Path:
    digest = sha256_bytes(key.encode())
    return landing_dir / ALIASES / digest[:2] / digest


def remember_alias(landing_dir: Path, key: str, sha256: str) -> None:
    """Record that the content named `key` landed under `sha256`."""
    target = _alias_path(landing_dir, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(sha256)
    os.replace(tmp, target)


def aliased_sha256(landing_dir: Path, key: str) -> str | None:
    """The sha256 the content named `key` landed under, if it is still in the landing zone."""
    try:
        sha256 = _alias_path(landing_dir, key).read_text().strip()
    except FileNotFoundError:
        return None
    return sha256 if is_landed(landing_dir, sha256) else None


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
