"""The SMTP backend on the standard library's smtplib (any relay: Postfix, SES, Workspace).

Sending walks the SMTP conversation itself (MAIL, RCPT, DATA) so the server's final reply,
which names its queue id ("250 2.0.0 Ok: queued as 4F2A1"), is recorded as the provider's
id, and so the moment the message was handed over is known: a connection lost after DATA
began is `DeliveryInDoubt`, anything before it a plain `DeliveryError`. SMTP has no drafts
folder and no way to ask what was sent, so drafts live in the outbox table and a crashed
send cannot be looked up (`find` raises `CannotTell`; the message waits for a person).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl

from sqlalchemy import Engine

from pipeline.email.backend import (
    CannotTell,
    DeliveryError,
    DeliveryInDoubt,
    EmailBackend,
    EmailConfigError,
    ProviderResult,
    RecipientRefused,
)
from pipeline.email.message import OutgoingEmail, to_mime
from pipeline.email.outbox import store_message, stored_message


class SmtpBackend(EmailBackend):
    name = "smtp"

    def __init__(
        self,
        engine: Engine,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._engine = engine
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._starttls = starttls
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._connection: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never the password
        return f"SmtpBackend({self._host}:{self._port})"

    def describe(self) -> str:
        tls = "STARTTLS" if self._starttls else "no TLS"
        login = f", login {self._username}" if self._username else ""
        return f"SMTP relay {self._host}:{self._port} ({tls}{login}); drafts in the outbox table"

    def draft(self, email: OutgoingEmail) -> ProviderResult:
        return store_message(self._engine, email, "draft")

    def _connect(self) -> smtplib.SMTP:
        """One connection per backend, reused across messages (reopened after a failure)."""
        if self._connection is not None:
            try:
                if self._connection.noop()[0] == 250:
                    return self._connection
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        try:
            connection = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            connection.ehlo()
            if self._starttls:
                connection.starttls(context=self._ssl_context or ssl.create_default_context())
                connection.ehlo()
            if self._username:
                connection.login(self._username, self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise EmailConfigError(
                f"SMTP {self._host}:{self._port} refused the login of SMTP_USERNAME="
                f"{self._username} ({exc.smtp_code}); check SMTP_USERNAME and SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise EmailConfigError(
                f"SMTP {self._host}:{self._port}: {exc} (set SMTP_STARTTLS=false for a relay "
                "without TLS, or point SMTP_HOST at one that has it)"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"SMTP {self._host}:{self._port}: could not connect: {type(exc).__name__}: {exc}"
            ) from None
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def send(self, email: OutgoingEmail) -> ProviderResult:
        connection = self._connect()
        data = to_mime(email).as_bytes()
        try:
            code, reply = connection.mail(email.mailbox)
            if code != 250:
                connection.rset()
                raise DeliveryError(
                    f"SMTP MAIL FROM refused: {code} {reply.decode(errors='replace')}"
                )
            code, reply = connection.rcpt(email.to)
            if code not in (250, 251):
                connection.rset()
                text = f"{code} {reply.decode(errors='replace')}"
                if 500 <= code < 600:
                    raise RecipientRefused(f"SMTP refused the recipient: {text}")
                raise DeliveryError(f"SMTP deferred the recipient: {text}")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise DeliveryError(f"SMTP connection lost before DATA: {exc}") from None
        try:
            code, reply = connection.data(data)
        except smtplib.SMTPDataError as exc:  # the server refused the message itself
            raise DeliveryError(
                f"SMTP refused the message: {exc.smtp_code} {exc.smtp_error!r}"
            ) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            self._drop()
            raise DeliveryInDoubt(
                f"SMTP connection lost while the message was handed over: {exc}"
            ) from None
        except TimeoutError as exc:  # pragma: no cover - a subclass of OSError today
            self._drop()
            raise DeliveryInDoubt(f"SMTP timed out during DATA: {exc}") from None
        if code != 250:
            raise DeliveryError(
                f"SMTP refused the message: {code} {reply.decode(errors='replace')}"
            )
        return ProviderResult(provider_id=reply.decode(errors="replace").strip()[:300])

    def find(self, email: OutgoingEmail, intent: str) -> ProviderResult | None:
        if intent == "draft":
            found = stored_message(self._engine, email.message_id, "draft")
            return None if found is None else ProviderResult(provider_id=f"outbox:{found}")
        raise CannotTell(
            f"SMTP cannot tell whether {email.message_id} went out; look in {email.mailbox}'s "
            "Sent folder"
        )

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._connection = None
