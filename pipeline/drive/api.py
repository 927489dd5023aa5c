"""The Drive API as this pipeline calls it: google-api-python-client with retries and errors a
person can act on.

Every call goes through `DriveApi.call`: 429, 5xx, transport errors and a 403
`rateLimitExceeded` / `userRateLimitExceeded` are retried with exponential backoff (tenacity),
never sooner than the server's `Retry-After`; retries stop at `max_attempts` or at the
caller's deadline (a sensor tick's budget), and what is left is raised as
`DriveQuotaExhausted` or `DriveUnavailable` so the caller can stop cleanly and resume from its
cursor. A 403 for permissions, a 404 and a disabled API are `DriveAccessError`s whose message
says what to do ("share the folder with <account>"). The client's own retry is off
(`num_retries=0`): it does not honour `Retry-After`.

Downloads stream through `MediaIoBaseDownload` in chunks into any file object (the landing
zone's sink), so a large file is never held whole in memory.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import google.auth.exceptions
import httplib2
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from pipeline.google.auth import GoogleAuth
from pipeline.retrying import TransientError, WaitRespectingRetryAfter, retry_after_seconds
from pipeline.sources import FileUnavailable

SCOPES = ["https://www.googleapis.com/auth/drive.readonly"]
FOLDER_MIME = "application/vnd.google-apps.folder"
SHEET_MIME = "application/vnd.google-apps.spreadsheet"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What the pipeline reads of a file, in every listing and change.
ITEM_FIELDS = (
    "id,name,mimeType,parents,size,modifiedTime,md5Checksum,headRevisionId,version,trashed,driveId"
)
PAGE_SIZE = 1000  # the largest page files.list and changes.list give
DOWNLOAD_CHUNK_BYTES = 16 * 2**20
# Reasons Google gives for a 403 that means "slow down", not "no".
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
DAILY_LIMIT_REASONS = frozenset({"dailyLimitExceeded", "dailyLimitExceededUnreg"})
NOT_ENABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
# One file cannot be fetched (the rest of the day can).
FILE_UNAVAILABLE_REASONS = frozenset(
    {
        "exportSizeLimitExceeded",
        "fileNotDownloadable",
        "cannotDownloadAbusiveFile",
        "cannotExportFile",
        "fileNotExportable",
    }
)


class DriveError(RuntimeError):
    """Drive refused a request for a reason retrying will not fix."""


class DriveAccessError(DriveError):
    """Not shared, not found, not enabled, not authorised: the message says what to do."""


class DriveNotFound(DriveAccessError):
    """404: the file or folder does not exist, or the account cannot see it."""


class DriveFileUnavailable(DriveError, FileUnavailable):
    """One file cannot be downloaded or exported (too large to export, gone, flagged)."""


class DriveRetriesExhausted(DriveError):
    """Retries ran out (or the deadline came); the caller stops cleanly and resumes later."""


class DriveQuotaExhausted(DriveRetriesExhausted):
    """Drive kept answering 429 / rate-limit 403s, or the project's daily limit is spent."""


class DriveUnavailable(DriveRetriesExhausted):
    """Drive kept answering 5xx, or the connection kept failing."""


class _RateLimited(TransientError):
    """A 429 or a rate-limit 403 (retried; exhausted, it becomes DriveQuotaExhausted)."""


@dataclass
class CallStats:
    """API calls by method, retries and bytes fetched: for run metadata and the benchmark."""

    calls: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    bytes_fetched: int = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def error_details(exc: HttpError) -> tuple[str, str]:
    """(reason, message) from Google's JSON error body (`error.errors[0].reason`)."""
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
        error = body.get("error", {}) if isinstance(body, dict) else {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):  # OAuth-style {"error": "invalid_grant"}
        return str(error), str(error)
    reasons = [e.get("reason", "") for e in error.get("errors") or [] if isinstance(e, dict)]
    detail_reasons = [
        d.get("reason", "") for d in error.get("details") or [] if isinstance(d, dict)
    ]
    reason = next((r for r in reasons + detail_reasons if r), error.get("status", ""))
    return str(reason), str(error.get("message") or exc.reason or "")


class DriveApi:
    """Drive v3 through google-api-python-client, built offline from the shipped discovery
    document (pipeline/google/auth.py); `deadline` (time.monotonic) bounds retries."""

    def __init__(
        self,
        auth: GoogleAuth,
        *,
        max_attempts: int = 6,
        max_backoff: float = 32.0,
        initial_backoff: float = 0.5,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.auth = auth
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff
        self.initial_backoff = initial_backoff
        self.deadline = deadline
        self.page_size = PAGE_SIZE
        self.stats = CallStats()
        self._sleep = sleep
        self._service: Any = None
        self._resources: dict[str, Any] = {}

    @property
    def service(self) -> Any:
        if self._service is None:
            # 30 s without a byte: a hung connection fails well inside a sensor tick's 60 s.
            self._service = self.auth.client("drive", "v3", SCOPES, timeout=30.0)
        return self._service

    def _resource(self, name: str) -> Any:
        """`service.files()` and friends, built once: building one parses every method of the
        discovery document (~8 ms), which per download was most of a download's CPU."""
        if name not in self._resources:
            self._resources[name] = getattr(self.service, name)()
        return self._resources[name]

    @property
    def principal(self) -> str:
        """The account Drive sees (the service account's email, or the impersonated user)."""
        return self.auth.principal

    # --- the one way to call --------------------------------------------------------------

    def call(self, what: str, method: str, make: Callable[[], Any]) -> Any:
        """Run `make().execute()` with retries; `what` names the call in errors."""
        return self._retrying(what, method, lambda: make().execute(num_retries=0))

    def _retrying(self, what: str, method: str, attempt_call: Callable[[], Any]) -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts) | self._past_deadline,
            wait=WaitRespectingRetryAfter(self.max_backoff, initial=self.initial_backoff),
            retry=retry_if_exception_type(TransientError),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.stats.retries += 1
                    self.stats.calls[method] += 1
                    try:
                        return attempt_call()
                    except HttpError as exc:
                        raise self._classify(what, exc) from None
                    except (
                        TimeoutError,
                        OSError,
                        httplib2.HttpLib2Error,
                        google.auth.exceptions.TransportError,
                    ) as exc:
                        raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from None
        except _RateLimited as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise DriveQuotaExhausted(
                f"{what}: Drive's rate limit held after {attempts} attempt(s) ({exc}); the "
                "next run resumes where this one stopped"
            ) from None
        except TransientError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise DriveUnavailable(
                f"{what}: Drive did not answer after {attempts} attempt(s) ({exc})"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _past_deadline(self, state: RetryCallState) -> bool:
        return self.deadline is not None and time.monotonic() + state.upcoming_sleep > self.deadline

    def _classify(self, what: str, exc: HttpError) -> Exception:
        status = exc.resp.status
        reason, message = error_details(exc)
        retry_after = retry_after_seconds(exc.resp.get("retry-after"))
        said = f"{status} {reason}: {message}" if reason else f"{status}: {message}"
        if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
            return _RateLimited(f"{what}: {said}", retry_after)
        if status >= 500:
            return TransientError(f"{what}: {said}", retry_after)
        if status == 403 and reason in DAILY_LIMIT_REASONS:
            return DriveQuotaExhausted(
                f"{what}: the project's daily Drive quota is spent ({said}); the next run "
                "after the quota resets resumes where this one stopped"
            )
        if status == 403 and (reason in NOT_ENABLED_REASONS or "has not been used" in message):
            return DriveAccessError(
                f"{what}: the Google Drive API is not enabled for the credentials' project "
                f"({said}). Enable it in the Google Cloud console: APIs & Services -> Library "
                "-> Google Drive API -> Enable, then wait a few minutes"
            )
        if status == 403 and reason in FILE_UNAVAILABLE_REASONS:
            return DriveFileUnavailable(f"{what}: {said}")
        if status == 403 and reason == "insufficientPermissions":
            return DriveAccessError(
                f"{what}: the credentials lack Drive's read-only scope ({said}). With "
                "domain-wide delegation, allow https://www.googleapis.com/auth/drive.readonly "
                "for the service account's client id in the Admin console"
            )
        if status == 403:
            return DriveAccessError(
                f"{what}: Drive refused access ({said}): share the folder with "
                f"{self.principal} (Viewer is enough)"
            )
        if status == 404:
            return DriveNotFound(
                f"{what}: not found ({said}): check the id, and share the folder with "
                f"{self.principal} (Drive answers 'not found' for what it does not show you)"
            )
        if status == 401:
            return DriveAccessError(f"{what}: the credentials were rejected ({said})")
        return DriveError(f"{what}: {said}")

    # --- the calls used -------------------------------------------------------------------

    def get_item(self, file_id: str, what: str | None = None) -> dict[str, Any]:
        return self.call(
            what or f"reading {file_id}",
            "files.get",
            lambda: self._resource("files").get(
                fileId=file_id, fields=ITEM_FIELDS, supportsAllDrives=True
            ),
        )

    def list_page(
        self, q: str, page_token: str | None, drive_id: str | None, what: str
    ) -> dict[str, Any]:
        """One page of files.list; shared drives included (corpora=drive for one)."""
        corpus = {"corpora": "drive", "driveId": drive_id} if drive_id else {"corpora": "user"}
        return self.call(
            what,
            "files.list",
            lambda: self._resource("files").list(
                q=q,
                pageSize=self.page_size,
                pageToken=page_token,
                fields=f"nextPageToken,files({ITEM_FIELDS})",
                supportsAllDrives=True,
                includeItemsFromAllDrives=True,
                **corpus,
            ),
        )

    def start_page_token(self) -> str:
        reply = self.call(
            "reading the change feed's start token",
            "changes.getStartPageToken",
            lambda: self._resource("changes").getStartPageToken(supportsAllDrives=True),
        )
        return str(reply["startPageToken"])

    def changes_page(self, page_token: str) -> dict[str, Any]:
        return self.call(
            "reading Drive's change feed",
            "changes.list",
            lambda: self._resource("changes").list(
                pageToken=page_token,
                pageSize=self.page_size,
                includeRemoved=True,
                includeItemsFromAllDrives=True,
                supportsAllDrives=True,
                fields=(
                    "nextPageToken,newStartPageToken,"
                    f"changes(changeType,fileId,removed,time,file({ITEM_FIELDS}))"
                ),
            ),
        )

    def download(self, file_id: str, sink: BinaryIO, what: str) -> int:
        """Stream an uploaded file's bytes (alt=media) into `sink`; returns the byte count."""
        request = self._resource("files").get_media(fileId=file_id, supportsAllDrives=True)
        return self._stream(request, sink, what, "files.get_media")

    def export(self, file_id: str, mime_type: str, sink: BinaryIO, what: str) -> int:
        """Stream a Google-native file exported as `mime_type` (a Sheet as XLSX)."""
        request = self._resource("files").export_media(fileId=file_id, mimeType=mime_type)
        return self._stream(request, sink, what, "files.export")

    def _stream(self, request: Any, sink: BinaryIO, what: str, method: str) -> int:
        """Chunk by chunk (Range requests); a failed chunk is retried from where it began."""
        downloader = MediaIoBaseDownload(sink, request, chunksize=DOWNLOAD_CHUNK_BYTES)
        done, fetched = False, 0
        while not done:
            status, done = self._retrying(
                what, method, lambda: downloader.next_chunk(num_retries=0)
            )
            fetched = status.resumable_progress if status else fetched
        self.stats.bytes_fetched += fetched
        return fetched

    def watch_changes(
        self, page_token: str, channel_id: str, token: str, address: str, expiration_ms: int
    ) -> dict[str, Any]:
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "expiration": str(expiration_ms),
        }
        return self.call(
            "opening a Drive watch channel",
            "changes.watch",
            lambda: self._resource("changes").watch(
                pageToken=page_token,
                body=body,
                includeItemsFromAllDrives=True,
                supportsAllDrives=True,
                includeRemoved=True,
            ),
        )

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        self.call(
            f"stopping Drive watch channel {channel_id}",
            "channels.stop",
            lambda: self._resource("channels").stop(
                body={"id": channel_id, "resourceId": resource_id}
            ),
        )
