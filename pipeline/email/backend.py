"""What every email backend does, and the three ways a delivery can end badly.

The difference between "not delivered" and "maybe delivered" is what makes exactly-once
possible: a `DeliveryError` leaves the message free to go later; a `DeliveryInDoubt` (the
connection dropped after the message was handed over) must never be retried blindly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from pipeline.email.message import OutgoingEmail


class DeliveryError(RuntimeError):
    """The provider did not take the message (it can go later, or be given up on)."""


class RecipientRefused(DeliveryError):
    """The provider refused the recipient address for good (a bounce at the door)."""


class DeliveryInDoubt(RuntimeError):
    """The provider may have taken the message: do not send it again without looking."""


class EmailConfigError(RuntimeError):
    """Credentials or settings the provider refused; the message names the variable."""


@dataclass(frozen=True)
class ProviderResult:
    provider_id: str  # the provider's id of the message or draft (or the server's queue id)
    thread_id: str | None = None


class CannotTell(RuntimeError):
    """The backend has no way to look up whether a message went out (plain SMTP)."""


class EmailBackend(ABC):
    name: str

    @abstractmethod
    def describe(self) -> str:
        """One line for the start-up log (never a password)."""

    @abstractmethod
    def draft(self, email: OutgoingEmail) -> ProviderResult:
        """Keep the message as a draft; nothing leaves the mailbox."""

    @abstractmethod
    def send(self, email: OutgoingEmail) -> ProviderResult: ...

    @abstractmethod
    def find(self, email: OutgoingEmail, intent: str) -> ProviderResult | None:
        """The message (by its Message-ID) if the provider has it, None if it surely has
        not; raises CannotTell when the backend cannot know."""

    def close(self) -> None:
        return None
