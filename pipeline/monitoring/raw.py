"""Raw answers kept for audit: every response body and feed file a run read, gzipped under
`<LEADS_DATA_DIR>/monitoring/raw/<day>/<source>/<sha256>.gz` (content addressed: the same
answer twice is one file), indexed in `monitoring_fetches` with the request (keys removed),
the HTTP status, the item count and any error."""

from __future__ import annotations

import gzip
import re
import threading
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, insert

from pipeline.monitoring.sources import RawArchiveLike
from pipeline.store.sql import sha256_hex, utcnow
from pipeline.store.tables import monitoring_fetches

# Query parameters that carry credentials, never stored.
_SECRET_PARAMS = re.compile(r"([?&](?:key|apikey|api_key|apiKey|token|access_token)=)[^&#]*", re.I)


def redact(url: str) -> str:
    return _SECRET_PARAMS.sub(r"\1REDACTED", url)


class RawArchive(RawArchiveLike):
    def __init__(self, engine: Engine, root: Path, run_id: str | None, live: bool) -> None:
        self.engine = engine
        self.root = root
        self.run_id = run_id
        self.live = live
        self._lock = threading.Lock()

    def keep(
        self,
        source: str,
        day: date,
        body: bytes,
        *,
        request: str,
        status: int | None,
        kind: str,
        error: str | None = None,
        items: int | None = None,
    ) -> str:
        sha = sha256_hex(body)
        path = self.root / day.isoformat() / source / f"{sha}.gz"
        with self._lock:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(gzip.compress(body, compresslevel=6))
                tmp.replace(path)
        with self.engine.begin() as conn:
            conn.execute(
                insert(monitoring_fetches),
                {
                    "run_id": self.run_id,
                    "source": source,
                    "kind": kind,
                    "news_day": day,
                    "live": self.live,
                    "request": redact(request)[:4000],
                    "http_status": status,
                    "items": items,
                    "error": error[:2000] if error else None,
                    "raw_sha256": sha,
                    "raw_path": str(path),
                    "fetched_at": utcnow(),
                },
            )
        return sha
