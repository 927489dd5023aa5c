"""A failure told as one paragraph a person can act on: what failed, where (the host or
file), the cause in plain words ("connection refused", "401: the credentials were
rejected") and what to do, with where the traceback is kept. Used by the demo runner for
Dagster runs and by the command line for everything else."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.config import Settings

# Where a client library names the host it could not talk to, most specific first.
_HOSTS = (
    re.compile(r"host='(?P<host>[^']+)'(?:, port=(?P<port>\d+))?"),
    re.compile(r'server at "(?P<host>[^"]+)", port (?P<port>\d+)'),
    re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>[^/\s'\")]+)"),
)
# Links to documentation inside error messages are not the host that failed.
_DOC_HOSTS = ("sqlalche.me", "docs.dagster.io", "errors.pydantic.dev", "docs.python.org")
# (pattern in the error chain, plain cause, what to do)
_CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cause, advice)
    for pattern, cause, advice in (
        (
            r"paused by",
            "side effects are paused (the kill switch)",
            "run `python -m pipeline resume-all` when it is safe to continue",
        ),
        (
            r"connection refused|Errno 111|ConnectError",
            "connection refused",
            "check that the service is up and that its URL setting points at it",
        ),
        (
            r"Name or service not known|nodename nor servname|getaddrinfo|Temporary failure in "
            r"name resolution|NameResolution",
            "the host name does not resolve",
            "check the host's URL setting and this machine's network and DNS",
        ),
        (
            r"timed out|Timeout",
            "the connection timed out",
            "check the network, or try again when the service answers",
        ),
        (
            r"\b401\b|Unauthorized|token rejected|invalid.*(api key|token)",
            "401: the credentials were rejected",
            "check the token or API key variable named above (is it current, for this account?)",
        ),
        (
            r"\b403\b|Forbidden|MISSING_SCOPES",
            "403: the credentials lack a permission",
            "grant the scope or share the resource named above with the account",
        ),
        (
            r"\b429\b|rate limit|daily (quota|limit)",
            "the service's rate limit or daily quota is spent",
            "wait for the quota to reset, or lower the request limits in the settings",
        ),
        (
            r"No such file or directory|FileNotFoundError|does not exist",
            "a file or folder is missing",
            "check the path named above (and the variable that sets it)",
        ),
        (
            r"Permission denied|PermissionError",
            "permission denied",
            "check who owns the file or folder named above",
        ),
    )
)


_QUALIFIED = re.compile(r"\b(?:[a-z_][\w]*\.)+([A-Z]\w*(?:Error|Exception|Reached)):")


def _host(text: str) -> str | None:
    for pattern in _HOSTS:
        for match in pattern.finditer(text):
            host = match.group("host")
            if any(host.startswith(doc) for doc in _DOC_HOSTS):
                continue
            port = match.groupdict().get("port")
            return f"{host}:{port}" if port else host
    return None


def _short(message: str, limit: int = 300) -> str:
    line = _QUALIFIED.sub(r"\1:", " ".join(message.strip().split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Failure:
    what: str  # "The crm_job run failed in step crm_contacts"
    errors: tuple[str, ...]  # the error and its causes, outermost first
    traceback_at: str  # where a person finds the traceback

    def paragraph(
        self,
        url_settings: dict[str, str | None] | None = None,
        credentials: dict[str, str] | None = None,
    ) -> str:
        """`url_settings` (variable -> URL) lets the advice name the variable pointing at the
        host that failed; `credentials` (a word in the error -> variable) the variable
        holding a credential that was refused."""
        chain = " | ".join(self.errors)
        host = _host(chain)
        variable = next(
            (name for name, url in (url_settings or {}).items() if host and url and host in url),
            None,
        )
        where = f"The traceback is in {self.traceback_at}."
        for pattern, cause, advice in _CAUSES:
            if pattern.search(chain):
                at = f" talking to {host}" if host else ""
                if variable and "URL setting" in advice:
                    advice = advice.replace("its URL setting", variable)
                secret = next((v for word, v in (credentials or {}).items() if word in chain), None)
                if secret and "variable named above" in advice:
                    advice = advice.replace("the token or API key variable named above", secret)
                return (
                    f"{self.what}{at}: {cause} ({_short(self.errors[0])}). "
                    f"What to do: {advice}. {where}"
                )
        return (
            f"{self.what}: {_short(self.errors[-1])}"
            + (f" (from: {_short(self.errors[0])})" if len(self.errors) > 1 else "")
            + f". {where}"
        )


def service_hints(settings: Settings) -> tuple[dict[str, str | None], dict[str, str]]:
    """(URL variables, credential variables) of the outside services the settings name."""
    urls: dict[str, str | None] = {
        "HUBSPOT_BASE_URL": settings.hubspot_base_url or "https://api.hubapi.com",
        "GOOGLE_API_BASE_URL": settings.google_api_base_url or "https://www.googleapis.com",
        "LEADS_DATABASE_URL": settings.database_url,
    }
    credentials = {
        "HubSpot": "HUBSPOT_ACCESS_TOKEN",
        "Google": "GOOGLE_APPLICATION_CREDENTIALS",
    }
    return urls, credentials


def exception_chain(exc: BaseException) -> tuple[str, ...]:
    """`Class: message` of the exception and each cause (or context), outermost first."""
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return tuple(chain)


def record_crash(exc: BaseException, command: str, logs_dir: Path) -> Failure:
    """Keep the traceback in a log file and return the failure to tell."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    # The command may hold a path ('dedupe /data/leads.csv'): only its safe characters.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", command).strip("-.")[:80] or "command"
    path = logs_dir / f"{name}-{stamp}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return Failure(f"`python -m pipeline {command}` failed", exception_chain(exc), str(path))
