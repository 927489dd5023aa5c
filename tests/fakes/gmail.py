"""A fake Gmail API on `GoogleApiServer` (real HTTP; the official client talks to it).

Mailboxes are the users the service account impersonates (the token's `sub`). It keeps
sent messages and drafts per mailbox (parsed from the `raw` MIME), answers `rfc822msgid:`
searches, lists threads matching a query (`after:`, `from:`/`to:`/`cc:` an address, a
domain or `me`, a `{...}` group of alternatives, `-from:me`) and serves threads with metadata
headers and snippets. `seed` adds a past message (either direction) for mail history. Inbound
messages (replies, bounces) are added by tests with `receive`. `fail_next_send` scripts a
Google error for the next messages.send.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses

from tests.fakes.google_api import GoogleApiServer, Reply, Request, google_error

USER = r"/gmail/v1/users/(?P<user>[^/]+)"


@dataclass
class Stored:
    id: str
    thread_id: str
    mailbox: str
    message: Message
    internal_ms: int
    labels: list[str]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")


@dataclass
class FakeGmail:
    server: GoogleApiServer
    sent: list[Stored] = field(default_factory=list)
    drafts: list[tuple[str, Stored]] = field(default_factory=list)
    inbox: list[Stored] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        state = self.server.state
        state.route("POST", USER + r"/messages/send", self._send)
        state.route("POST", USER + r"/drafts", self._draft)
        state.route("GET", USER + r"/messages", self._list_messages)
        state.route("GET", USER + r"/drafts", self._list_drafts)
        state.route("GET", USER + r"/threads", self._list_threads)
        state.route("GET", USER + r"/threads/(?P<id>[^/]+)", self._thread)

    def _mailbox(self, request: Request) -> str:
        return (self.server.state.subject_of(request) or "oauth-user@ourcompany.example").lower()

    def _new(self, mailbox: str, raw: str, thread: str | None, labels: list[str]) -> Stored:
        message = message_from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        number = next(self._ids)
        return Stored(
            id=f"m{number:05d}",
            thread_id=thread or f"t{number:05d}",
            mailbox=mailbox,
            message=message,
            internal_ms=int(time.time() * 1000),
            labels=labels,
        )

    def _send(self, request: Request, _match: re.Match[str]) -> Reply:
        with self.lock:
            if self.failures:
                return google_error(self.failures.pop(0), "backendError", "Backend Error")
            body = request.json()
            if "raw" not in body:
                return google_error(400, "invalidArgument", "'raw' RFC822 payload required")
            stored = self._new(self._mailbox(request), body["raw"], body.get("threadId"), ["SENT"])
            self.sent.append(stored)
        return Reply(200, {"id": stored.id, "threadId": stored.thread_id, "labelIds": ["SENT"]})

    def _draft(self, request: Request, _match: re.Match[str]) -> Reply:
        body = request.json().get("message") or {}
        if "raw" not in body:
            return google_error(400, "invalidArgument", "Missing draft message")
        with self.lock:
            stored = self._new(self._mailbox(request), body["raw"], body.get("threadId"), ["DRAFT"])
            draft_id = f"r-{stored.id}"
            self.drafts.append((draft_id, stored))
        return Reply(
            200, {"id": draft_id, "message": {"id": stored.id, "threadId": stored.thread_id}}
        )

    def _wanted(self, request: Request) -> str:
        query = (request.query.get("q") or [""])[0]
        found = re.search(r"rfc822msgid:(\S+)", query)
        return found.group(1) if found else ""

    def _list_messages(self, request: Request, _match: re.Match[str]) -> Reply:
        wanted, mailbox = self._wanted(request), self._mailbox(request)
        hits = [
            {"id": s.id, "threadId": s.thread_id}
            for s in self.sent + [d for _, d in self.drafts]
            if s.mailbox == mailbox and s.message_id.strip("<>") == wanted
        ]
        return Reply(200, {"messages": hits, "resultSizeEstimate": len(hits)} if hits else {})

    def _list_drafts(self, request: Request, _match: re.Match[str]) -> Reply:
        wanted, mailbox = self._wanted(request), self._mailbox(request)
        hits = [
            {"id": draft_id, "message": {"id": s.id, "threadId": s.thread_id}}
            for draft_id, s in self.drafts
            if s.mailbox == mailbox and s.message_id.strip("<>") == wanted
        ]
        return Reply(200, {"drafts": hits} if hits else {})

    def receive(
        self, mailbox: str, sender: str, subject: str, thread_id: str | None = None,
        in_reply_to: str | None = None, at_ms: int | None = None,
    ) -> Stored:  # fmt: skip
        """A message arriving in `mailbox` (a reply when `thread_id` is one of ours)."""
        headers = f"From: {sender}\r\nTo: {mailbox}\r\nSubject: {subject}\r\n"
        if in_reply_to:
            headers += f"In-Reply-To: {in_reply_to}\r\n"
        raw = base64.urlsafe_b64encode((headers + "\r\nhello\r\n").encode()).decode()
        with self.lock:
            stored = self._new(mailbox, raw, thread_id, ["INBOX"])
            if at_ms is not None:
                stored.internal_ms = at_ms
            self.inbox.append(stored)
        return stored

    def seed(
        self, mailbox: str, sender: str, to: str, subject: str, body: str, at_ms: int,
        thread_id: str | None = None, cc: str | None = None,
    ) -> Stored:  # fmt: skip
        """A past message in `mailbox`: from the mailbox (filed as sent) or to it (inbox)."""
        headers = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        if cc:
            headers += f"Cc: {cc}\r\n"
        raw = base64.urlsafe_b64encode((headers + "\r\n" + body + "\r\n").encode()).decode()
        outgoing = mailbox.lower() in sender.lower()
        with self.lock:
            stored = self._new(mailbox, raw, thread_id, ["SENT"] if outgoing else ["INBOX"])
            stored.internal_ms = at_ms
            (self.sent if outgoing else self.inbox).append(stored)
        return stored

    @staticmethod
    def _addresses(message: Message, *names: str) -> list[str]:
        values = [str(v) for name in names for v in (message.get_all(name) or [])]
        return [a.lower() for _, a in getaddresses(values) if a]

    def _term_matches(self, stored: Stored, term: str) -> bool:
        field_name, _, wanted = term.partition(":")
        headers = {"from": ("From",), "to": ("To", "Cc"), "cc": ("Cc",)}.get(field_name)
        if headers is None:
            return True  # an operator this fake does not model narrows nothing
        wanted = stored.mailbox if wanted.lower() == "me" else wanted.lower()
        addresses = self._addresses(stored.message, *headers)
        if "@" in wanted:
            return wanted in addresses
        return any(a.rpartition("@")[2] == wanted for a in addresses)

    def _query_matches(self, stored: Stored, query: str) -> bool:
        for group in re.findall(r"\{([^}]*)\}", query):
            if not any(self._term_matches(stored, t) for t in group.split()):
                return False
        rest = re.sub(r"\{[^}]*\}", " ", query).split()
        for term in rest:
            if term.startswith("after:") or term.startswith("rfc822msgid:"):
                continue
            negated = term.startswith("-")
            if self._term_matches(stored, term.lstrip("-")) == negated:
                return False
        return True

    def _list_threads(self, request: Request, _match: re.Match[str]) -> Reply:
        query = (request.query.get("q") or [""])[0]
        after = re.search(r"after:(\d+)", query)
        since_ms = int(after.group(1)) * 1000 if after else 0
        mailbox = self._mailbox(request)
        threads = sorted(
            {
                s.thread_id
                for s in self.inbox + self.sent
                if s.mailbox == mailbox
                and s.internal_ms >= since_ms
                and self._query_matches(s, query)
            }
        )
        return Reply(
            200, {"threads": [{"id": t, "snippet": "", "historyId": "1"} for t in threads]}
        )

    def _thread(self, request: Request, match: re.Match[str]) -> Reply:
        mailbox = self._mailbox(request)
        messages = [
            s for s in self.sent + self.inbox
            if s.mailbox == mailbox and s.thread_id == match.group("id")
        ]  # fmt: skip
        if not messages:
            return google_error(404, "notFound", "Requested entity was not found.")
        wanted = request.query.get("metadataHeaders") or []
        return Reply(
            200,
            {
                "id": match.group("id"),
                "messages": [
                    {
                        "id": s.id,
                        "threadId": s.thread_id,
                        "labelIds": s.labels,
                        "internalDate": str(s.internal_ms),
                        "snippet": _snippet(s.message),
                        "payload": {
                            "headers": [
                                {"name": name, "value": str(s.message[name])}
                                for name in wanted
                                if s.message[name] is not None
                            ]
                        },
                    }
                    for s in messages
                ],
            },
        )


def _snippet(message: Message) -> str:
    """The start of the plain text, as Gmail's `snippet`."""
    part = message
    if message.is_multipart():
        part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), message)
    payload = part.get_payload(decode=True) or b""
    return " ".join(payload.decode("utf-8", "replace").split())[:120]
