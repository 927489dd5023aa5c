"""Secrets out of whatever goes to the audit log: the configured key wherever it appears,
and anything shaped like a credential (API keys, bearer tokens, `password=` pairs), since a
prompt or an answer may quote one that a form or an email carried."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"),  # OpenAI-style keys
    re.compile(r"\b(?:pat|xox[abpr])-[A-Za-z0-9\-]{10,}"),  # HubSpot / Slack tokens
    re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"),  # Google API keys
    re.compile(r"\bya29\.[0-9A-Za-z_\-\.]+"),  # Google OAuth access tokens
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(
        r"(?i)\b(api[_-]?key|secret|password|passwd|token|authorization)(\s*[:=]\s*)"
        r"(\"[^\"]*\"|'[^']*'|\S+)"
    ),
)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups >= 3:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` (str, list, dict, nested) with every string redacted."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value
