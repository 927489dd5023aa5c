"""Step 3, mail history: the last messages exchanged with the prospect's address and, for a
company domain (not a free-mail one), with anyone at it.

Backends (MAIL_HISTORY_BACKEND): `local` reads MAIL_ARCHIVE, a folder of `.eml` files (any
depth) or an mbox file, with the standard library's parsers; `gmail` searches the owner's
mailbox (GOOGLE_IMPERSONATE by default) with `threads.list` and reads the threads'
headers and snippets with `threads.get`, through the shared `GoogleAuth`. Without an
archive the history is empty, and says why.
"""

from __future__ import annotations

import mailbox
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

SNIPPET_CHARS = 200
GMAIL_SCOPES = ["https://www.googleapis.com/auth/gmail.readonly"]
THREADS_PER_SEARCH = 20


class MailHistoryError(RuntimeError):
    """The archive or mailbox cannot be read; the message names the setting."""


@dataclass(frozen=True)
class MailItem:
    at: datetime
    sender: str
    recipients: tuple[str, ...]
    subject: str
    snippet: str
    direction: str  # from_them | from_us | other

    def as_fact(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.astimezone(UTC).strftime("%Y-%m-%d")
        data["recipients"] = list(self.recipients)
        return data


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def involves(addresses: list[str], email: str, domain: str | None) -> bool:
    email = email.lower()
    return any(a == email or (domain is not None and _domain(a) == domain) for a in addresses)


def direction_of(sender: str, owner: str, email: str, domain: str | None) -> str:
    if sender == email or (domain is not None and _domain(sender) == domain):
        return "from_them"
    if sender == owner or _domain(sender) == _domain(owner):
        return "from_us"
    return "other"


def latest(items: list[MailItem], limit: int) -> list[MailItem]:
    return sorted(items, key=lambda m: m.at, reverse=True)[:limit]


class MailHistory(ABC):
    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def exchanged(
        self, owner: str, email: str, domain: str | None, since: datetime, limit: int
    ) -> list[MailItem]:
        """Messages since `since` from or to `email` (or anyone at `domain`), newest first."""


class NoMailHistory(MailHistory):
    def describe(self) -> str:
        return "mail history: none (MAIL_ARCHIVE is not set)"

    def exchanged(
        self, owner: str, email: str, domain: str | None, since: datetime, limit: int
    ) -> list[MailItem]:
        return []


def _text_of(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
    except (KeyError, LookupError, UnicodeDecodeError):
        text = ""
    return " ".join(str(text).split())[:SNIPPET_CHARS]


def _item(message: EmailMessage, owner: str, email: str, domain: str | None) -> MailItem | None:
    senders = [a.lower() for _, a in getaddresses(message.get_all("From", [])) if a]
    recipients = [
        a.lower()
        for _, a in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        if a
    ]
    if not senders or not involves(senders + recipients, email, domain):
        return None
    try:
        at = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return MailItem(
        at=at.astimezone(UTC),
        sender=senders[0],
        recipients=tuple(recipients),
        subject=str(message["Subject"] or ""),
        snippet=_text_of(message),
        direction=direction_of(senders[0], owner, email, domain),
    )


class ArchiveMailHistory(MailHistory):
    """MAIL_ARCHIVE: a folder of `.eml` files, or one mbox file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        kind = "folder of .eml files" if self.path.is_dir() else "mbox"
        return f"mail history: {kind} {self.path} (MAIL_ARCHIVE)"

    def _messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        if self.path.is_dir():
            found = []
            for file in sorted(self.path.rglob("*.eml")):
                with file.open("rb") as handle:
                    found.append(parser.parse(handle))
            return found
        if self.path.is_file():
            box = mailbox.mbox(self.path, factory=lambda f: parser.parse(f), create=False)
            try:
                return list(box)
            finally:
                box.close()
        raise MailHistoryError(f"MAIL_ARCHIVE={self.path}: no such folder or mbox file")

    def exchanged(
        self, owner: str, email: str, domain: str | None, since: datetime, limit: int
    ) -> list[MailItem]:
        items = []
        for message in self._messages():
            item = _item(message, owner, email, domain)
            if item is not None and item.at >= since:
                items.append(item)
        return latest(items, limit)


class GmailMailHistory(MailHistory):
    """The owner's mailbox through the Gmail API (threads.list, threads.get)."""

    def __init__(self, auth: Any) -> None:
        self._auth = auth
        self._clients: dict[str, Any] = {}

    def describe(self) -> str:
        root = self._auth.api_base_url or "https://gmail.googleapis.com/"
        return f"mail history: Gmail API at {root} (the owner's mailbox)"

    def _client(self, owner: str) -> Any:
        from pipeline.google.auth import GoogleAuthError

        if owner not in self._clients:
            try:
                self._clients[owner] = self._auth.client(
                    "gmail",
                    "v1",
                    GMAIL_SCOPES,
                    subject=owner if self._auth.service_account_file else None,
                )
            except GoogleAuthError as exc:
                raise MailHistoryError(str(exc)) from None
        return self._clients[owner]

    def _execute(self, request: Any, owner: str) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        from pipeline.google.auth import refused

        try:
            return request.execute(num_retries=3)
        except HttpError as exc:
            raise MailHistoryError(
                f"Gmail answered {exc.resp.status} for mailbox {owner}: {exc.reason}"
            ) from None
        except Exception as exc:
            if refused(exc):
                raise MailHistoryError(
                    f"Google refused the credentials for mailbox {owner} ({exc}); check "
                    "GOOGLE_APPLICATION_CREDENTIALS and its delegation of gmail.readonly"
                ) from None
            raise

    def exchanged(
        self, owner: str, email: str, domain: str | None, since: datetime, limit: int
    ) -> list[MailItem]:
        users = self._client(owner).users()
        terms = [f"from:{email}", f"to:{email}", f"cc:{email}"]
        if domain:
            terms += [f"from:{domain}", f"to:{domain}", f"cc:{domain}"]
        query = f"{{{' '.join(terms)}}} after:{int(since.timestamp())}"
        page = self._execute(
            users.threads().list(userId="me", q=query, maxResults=THREADS_PER_SEARCH), owner
        )
        items: list[MailItem] = []
        for thread in page.get("threads") or []:
            detail = self._execute(
                users.threads().get(
                    userId="me",
                    id=thread["id"],
                    format="metadata",
                    metadataHeaders=["From", "To", "Cc", "Subject"],
                ),
                owner,
            )
            for message in detail.get("messages") or []:
                headers = {
                    h["name"].lower(): h["value"]
                    for h in (message.get("payload") or {}).get("headers", [])
                }
                senders = [a.lower() for _, a in getaddresses([headers.get("from", "")]) if a]
                recipients = [
                    a.lower()
                    for _, a in getaddresses([headers.get("to", ""), headers.get("cc", "")])
                    if a
                ]
                at = datetime.fromtimestamp(int(message.get("internalDate", 0)) / 1000, UTC)
                if not senders or at < since or not involves(senders + recipients, email, domain):
                    continue
                items.append(
                    MailItem(
                        at=at,
                        sender=senders[0],
                        recipients=tuple(recipients),
                        subject=headers.get("subject", ""),
                        snippet=" ".join(str(message.get("snippet", "")).split())[:SNIPPET_CHARS],
                        direction=direction_of(senders[0], owner, email, domain),
                    )
                )
        return latest(items, limit)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
