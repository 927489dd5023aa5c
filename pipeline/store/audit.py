"""The append-only audit log: who or what caused which side effect, when, in which run.

Only a hash of the payload is kept, plus details the caller vouches are free of secrets;
`record` refuses detail keys that look like credentials so a careless caller cannot leak one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from pipeline.store.sql import sha256_hex, utcnow
from pipeline.store.tables import audit_log

SECRET_KEY = re.compile(r"secret|token|password|api[_-]?key|authorization|signature", re.I)


def record(
    target: Engine | Connection,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    run_id: str | None = None,
    payload: bytes | str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry; pass a Connection to make it part of the caller's transaction."""
    leaked = [k for k in (details or {}) if SECRET_KEY.search(k)]
    if leaked:
        raise ValueError(f"audit details must not carry credentials (keys: {', '.join(leaked)})")
    values = {
        "at": utcnow(),
        "actor": actor[:120],
        "action": action[:120],
        "target": subject[:300] if subject else None,
        "run_id": run_id,
        "payload_sha256": sha256_hex(payload) if payload is not None else None,
        "details": json.dumps(details, default=str, sort_keys=True) if details else None,
    }
    if isinstance(target, Connection):
        target.execute(insert(audit_log), values)
        return
    with target.begin() as conn:
        conn.execute(insert(audit_log), values)


def entries(engine: Engine, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in conn.execute(query)]
