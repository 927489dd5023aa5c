"""Email for every domain: one message shape, three backends, one exactly-once ledger.

- `message.py`: `OutgoingEmail` and its MIME form (Message-ID, a plain-text part, the
  List-Unsubscribe headers of RFC 2369/8058).
- `outbox.py`, `smtp.py`, `gmail.py`: the backends (`EMAIL_BACKEND`). The outbox keeps whole
  messages in the operational store and nothing leaves the machine.
- `mailer.py`: reserve, send, record. Every message is a row of `email_messages` before the
  provider is called; the kill switch and the suppression list are checked before each
  draft and each send; a crash between the provider's answer and the record leaves the row
  `sending`, which the next run reconciles with the provider instead of sending again.
- `unsubscribe.py`: signed one-click unsubscribe tokens and what an unsubscribe does.

Outreach sequences, the prospecting agent (drafts only) and monitoring digests (sent to
people who asked for them) all go through `Mailer`.
"""

from pipeline.email.backend import (
    DeliveryError,
    DeliveryInDoubt,
    EmailBackend,
    ProviderResult,
    RecipientRefused,
)
from pipeline.email.message import OutgoingEmail, new_message_id, to_mime

__all__ = [
    "DeliveryError",
    "DeliveryInDoubt",
    "EmailBackend",
    "OutgoingEmail",
    "ProviderResult",
    "RecipientRefused",
    "new_message_id",
    "to_mime",
]
