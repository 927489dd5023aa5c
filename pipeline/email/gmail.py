"""The Gmail backend on google-api-python-client, through the shared `GoogleAuth`.

A sequence's mailbox is the user the service account impersonates for its messages (domain-
wide delegation), or the user of GMAIL_OAUTH_TOKEN_FILE. Messages and drafts are sent as
`{"raw": ...}` JSON bodies (a media upload would use Google's upload host, whatever the API
root). `messages.send` is never retried by the client: a 5xx or a dropped connection after
the request left is `DeliveryInDoubt`, resolved by looking the Message-ID up
(`rfc822msgid:` search) rather than by sending again. Replies are found by listing the
mailbox's recent threads (`threads.list`) and reading their senders (`threads.get`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

import httplib2
from googleapiclient.errors import HttpError

from pipeline.email.backend import (
    DeliveryError,
    DeliveryInDoubt,
    EmailBackend,
    EmailConfigError,
    ProviderResult,
    RecipientRefused,
)
from pipeline.email.message import OutgoingEmail, raw_base64url
from pipeline.google.auth import GoogleAuth, GoogleAuthError, refused

SCOPES = [
    "https://www.googleapis.com/auth/gmail.compose",  # drafts.create, messages.send
    "https://www.googleapis.com/auth/gmail.readonly",  # threads.list/get, messages.list
]
READ_RETRIES = 3  # reads are safe to retry (429, 5xx); sends never are
THREAD_PAGE = 100


@dataclass(frozen=True)
class InboundMessage:
    """A message found in a mailbox's threads: who wrote it, in which thread, when."""

    mailbox: str
    thread_id: str
    message_id: str | None  # the RFC Message-ID header
    sender: str
    subject: str
    received_at: datetime
    in_reply_to: str | None


class GmailBackend(EmailBackend):
    name = "gmail"

    def __init__(self, auth: GoogleAuth) -> None:
        self._auth = auth
        self._clients: dict[str, Any] = {}

    def describe(self) -> str:
        root = self._auth.api_base_url or "https://gmail.googleapis.com/"
        how = (
            "service account, acting as each sequence's mailbox"
            if self._auth.service_account_file
            else "OAuth token file"
        )
        return f"Gmail API at {root} ({how})"

    def _client(self, mailbox: str) -> Any:
        if mailbox not in self._clients:
            try:
                self._clients[mailbox] = self._auth.client(
                    "gmail",
                    "v1",
                    SCOPES,
                    subject=mailbox if self._auth.service_account_file else None,
                )
            except GoogleAuthError as exc:
                raise EmailConfigError(str(exc)) from None
        return self._clients[mailbox]

    def _refusal(self, exc: BaseException, mailbox: str) -> EmailConfigError | None:
        if refused(exc):
            return EmailConfigError(
                f"Google refused the credentials for mailbox {mailbox} ({exc}); check "
                "GOOGLE_APPLICATION_CREDENTIALS and the domain-wide delegation of the Gmail "
                "scopes to the service account (or GMAIL_OAUTH_TOKEN_FILE)"
            )
        if isinstance(exc, HttpError) and exc.resp.status in (401, 403):
            return EmailConfigError(
                f"Gmail answered {exc.resp.status} for mailbox {mailbox}: {_reason(exc)}"
            )
        return None

    def _write(self, request: Any, mailbox: str) -> dict[str, Any]:
        """Execute a draft or send once; classify what a failure means."""
        try:
            return request.execute(num_retries=0)
        except HttpError as exc:
            config = self._refusal(exc, mailbox)
            if config is not None:
                raise config from None
            status = exc.resp.status
            if status >= 500:
                raise DeliveryInDoubt(f"Gmail answered {status}: {_reason(exc)}") from None
            if status == 400 and "invalid to header" in _reason(exc).lower():
                raise RecipientRefused(f"Gmail refused the recipient: {_reason(exc)}") from None
            raise DeliveryError(f"Gmail answered {status}: {_reason(exc)}") from None
        except (httplib2.HttpLib2Error, TimeoutError, OSError) as exc:
            raise DeliveryInDoubt(f"Gmail connection failed mid-request: {exc}") from None
        except Exception as exc:
            config = self._refusal(exc, mailbox)
            if config is not None:
                raise config from None
            raise

    def _read(self, request: Any, mailbox: str) -> dict[str, Any]:
        try:
            return request.execute(num_retries=READ_RETRIES)
        except HttpError as exc:
            config = self._refusal(exc, mailbox)
            if config is not None:
                raise config from None
            raise DeliveryError(f"Gmail answered {exc.resp.status}: {_reason(exc)}") from None
        except Exception as exc:
            config = self._refusal(exc, mailbox)
            if config is not None:
                raise config from None
            raise

    @staticmethod
    def _body(email: OutgoingEmail) -> dict[str, Any]:
        body: dict[str, Any] = {"raw": raw_base64url(email)}
        if email.thread_hint:
            body["threadId"] = email.thread_hint
        return body

    def draft(self, email: OutgoingEmail) -> ProviderResult:
        users = self._client(email.mailbox).users()
        answer = self._write(
            users.drafts().create(userId="me", body={"message": self._body(email)}),
            email.mailbox,
        )
        message = answer.get("message") or {}
        return ProviderResult(provider_id=str(answer["id"]), thread_id=message.get("threadId"))

    def send(self, email: OutgoingEmail) -> ProviderResult:
        users = self._client(email.mailbox).users()
        answer = self._write(
            users.messages().send(userId="me", body=self._body(email)), email.mailbox
        )
        return ProviderResult(provider_id=str(answer["id"]), thread_id=answer.get("threadId"))

    def find(self, email: OutgoingEmail, intent: str) -> ProviderResult | None:
        users = self._client(email.mailbox).users()
        query = f"rfc822msgid:{email.message_id.strip('<>')}"
        if intent == "draft":
            answer = self._read(users.drafts().list(userId="me", q=query), email.mailbox)
            drafts = answer.get("drafts") or []
            if not drafts:
                return None
            message = drafts[0].get("message") or {}
            return ProviderResult(str(drafts[0]["id"]), message.get("threadId"))
        answer = self._read(
            users.messages().list(userId="me", q=query, includeSpamTrash=True), email.mailbox
        )
        messages = answer.get("messages") or []
        if not messages:
            return None
        return ProviderResult(str(messages[0]["id"]), messages[0].get("threadId"))

    def inbound(self, mailbox: str, since: datetime) -> list[InboundMessage]:
        """Messages not from the mailbox itself in threads active since `since`."""
        users = self._client(mailbox).users()
        query = f"after:{int(since.timestamp())} -from:me"
        found: list[InboundMessage] = []
        token: str | None = None
        while True:
            page = self._read(
                users.threads().list(userId="me", q=query, maxResults=THREAD_PAGE, pageToken=token),
                mailbox,
            )
            for thread in page.get("threads") or []:
                detail = self._read(
                    users.threads().get(
                        userId="me",
                        id=thread["id"],
                        format="metadata",
                        metadataHeaders=["From", "Subject", "Message-ID", "In-Reply-To"],
                    ),
                    mailbox,
                )
                found.extend(_inbound(mailbox, thread["id"], detail, since))
            token = page.get("nextPageToken")
            if not token:
                return found

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def _inbound(mailbox: str, thread_id: str, thread: dict, since: datetime) -> list[InboundMessage]:
    from datetime import UTC

    messages = []
    for message in thread.get("messages") or []:
        headers = {
            h["name"].lower(): h["value"] for h in (message.get("payload") or {}).get("headers", [])
        }
        sender = parseaddr(headers.get("from", ""))[1].lower()
        received = datetime.fromtimestamp(int(message.get("internalDate", 0)) / 1000, UTC)
        if not sender or sender == mailbox or received < since:
            continue
        messages.append(
            InboundMessage(
                mailbox=mailbox,
                thread_id=thread_id,
                message_id=headers.get("message-id"),
                sender=sender,
                subject=headers.get("subject", ""),
                received_at=received,
                in_reply_to=headers.get("in-reply-to"),
            )
        )
    return messages


def _reason(exc: HttpError) -> str:
    try:
        import json

        error = json.loads(exc.content)["error"]
        return str(error.get("message") or error)
    except Exception:
        return exc.reason or str(exc)
