"""The message every backend sends: plain text always, HTML when given, a recorded
Message-ID, threading headers, and the List-Unsubscribe pair Gmail and Yahoo require of bulk
senders (RFC 2369 links, RFC 8058 one-click POST)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr


class AddressError(ValueError):
    """A From or To address that cannot be used; the message names it."""


def bare_address(header: str) -> str:
    """`Sales <sales@x.example>` -> `sales@x.example` (lower case)."""
    address = parseaddr(header)[1].strip().lower()
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise AddressError(f"not an email address: {header!r}")
    return address


def new_message_id(mailbox: str) -> str:
    """A globally unique Message-ID on the sender's domain (recorded before sending, so a
    crashed send can be looked up by it)."""
    return make_msgid(domain=bare_address(mailbox).rpartition("@")[2])


@dataclass(frozen=True)
class OutgoingEmail:
    from_header: str
    to: str
    subject: str
    text: str
    message_id: str
    html: str | None = None
    in_reply_to: str | None = None
    # The provider's thread to file the message in (Gmail's threadId), when known.
    thread_hint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    date: datetime | None = None

    @property
    def mailbox(self) -> str:
        return bare_address(self.from_header)


# RFC 5322 allows 998 characters a line. At the default 78 the policy folds a long
# List-Unsubscribe URL into RFC 2047 encoded-words, which no mail client reads as a URL.
POLICY = SMTP.clone(max_line_length=998)


def to_mime(email: OutgoingEmail) -> EmailMessage:
    """The RFC 5322 message: multipart/alternative (text, then HTML) or text alone."""
    message = EmailMessage(policy=POLICY)
    name, address = parseaddr(email.from_header)
    user, _, domain = address.partition("@")
    message["From"] = Address(display_name=name, username=user, domain=domain)
    message["To"] = email.to
    message["Subject"] = email.subject
    if email.date is not None:
        message["Date"] = format_datetime(email.date)
    message["Message-ID"] = email.message_id
    if email.in_reply_to:
        message["In-Reply-To"] = email.in_reply_to
        message["References"] = email.in_reply_to
    for key, value in email.headers.items():
        message[key] = value
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message


def raw_base64url(email: OutgoingEmail) -> str:
    """The message as Gmail's `raw` field wants it."""
    return base64.urlsafe_b64encode(to_mime(email).as_bytes()).decode("ascii")
