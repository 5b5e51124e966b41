"""Sending email over real SMTP with aiosmtplib: the production Mailer."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import uuid
from dataclasses import dataclass
from email.utils import formataddr, formatdate, parseaddr
from typing import Literal

import aiosmtplib
from aiosmtplib.typing import Default

from shop_notifications.delivery import DeliveryFailed, OutgoingEmail
from shop_notifications.settings import NotificationsSettings

NOTIFICATION_ID_HEADER = "X-Shop-Notification-Id"
ORDER_ID_HEADER = "X-Shop-Order-Id"
TEMPLATE_HEADER = "X-Shop-Template"

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 998
"""RFC 5322's longest line, without its CRLF: a body with a longer line goes base64."""
_ENCODED_WORD_BYTES = 45
"""UTF-8 bytes per RFC 2047 encoded word: 45 are 60 base64 characters, so a word stays within 75 characters."""


@dataclass(frozen=True)
class ComposedEmail:
    """An email as it goes over SMTP: the message's bytes and the MAIL options it needs (8BITMIME for an 8-bit
    body, SMTPUTF8 for an address that is not ASCII)."""

    content: bytes
    mail_options: tuple[str, ...]


def compose(email: OutgoingEmail, *, sender: str, eight_bit: bool) -> ComposedEmail:
    """The MIME message: plain text, with an HTML alternative when there is one. ``sender`` is the From header
    as it goes on the wire (``from_header``); ``eight_bit`` says the server takes 8-bit bodies (8BITMIME).

    Written directly rather than through the standard library's email package, which parses back every header
    it is given and folds them again on the way out: that was most of the sender's CPU per email. Headers whose
    text is not ASCII go as RFC 2047 encoded words of whole characters, so a space is never lost at a fold.
    """
    headers = [
        ("From", sender),
        ("To", _address(email.recipient)),
        ("Subject", _unstructured(email.subject)),
        ("Date", formatdate(localtime=False, usegmt=True)),
        # The same on every try: an email sent again after a crash (sent, not yet recorded) is one message to
        # the mail systems that drop a Message-ID they already delivered.
        ("Message-ID", f"<{email.notification_id}@shop.example>"),
        ("Content-Language", _unstructured(email.locale)),
        (NOTIFICATION_ID_HEADER, _unstructured(email.notification_id)),
        (ORDER_ID_HEADER, _unstructured(email.order_id)),
        (TEMPLATE_HEADER, _unstructured(email.template)),
    ]
    if email.one_click_url:
        # RFC 8058: a mail client's unsubscribe button POSTs "List-Unsubscribe=One-Click" to this address.
        headers.append(("List-Unsubscribe", f"<{_one_line(email.one_click_url)}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers.append(("MIME-Version", "1.0"))
    text = _body_part("plain", email.text, eight_bit=eight_bit)
    if email.html:
        html = _body_part("html", email.html, eight_bit=eight_bit)
        boundary = _boundary(text, html)
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        delimiter = f"--{boundary}".encode()
        # The line break before a delimiter belongs to it (RFC 2046): each part's text ends as it was given.
        body = b"\r\n".join((delimiter, text.as_bytes(), delimiter, html.as_bytes(), delimiter + b"--", b""))
        parts: tuple[_BodyPart, ...] = (text, html)
    else:
        headers += text.headers
        body, parts = text.payload, (text,)
    content = "".join(f"{name}: {value}\r\n" for name, value in headers).encode() + b"\r\n" + body
    options = [] if all(part.encoding != "8bit" for part in parts) else ["BODY=8BITMIME"]
    if not email.recipient.isascii():
        options.append("SMTPUTF8")  # an internationalised address (RFC 6531)
    return ComposedEmail(content=content, mail_options=tuple(options))


def from_header(mail_from: str) -> str:
    """The From header of ``mail_from`` ("Shop <orders@shop.example>"): a display name that is not ASCII
    encoded (RFC 2047). Made once per mailer."""
    name, address = parseaddr(mail_from)
    if not address or "\r" in mail_from or "\n" in mail_from:
        raise ValueError(f"mail_from {mail_from!r} is not one address on one line")
    return formataddr((name, address), charset="utf-8")


@dataclass(frozen=True)
class _BodyPart:
    headers: list[tuple[str, str]]
    payload: bytes
    encoding: str

    def as_bytes(self) -> bytes:
        return (
            "".join(f"{name}: {value}\r\n" for name, value in self.headers).encode() + b"\r\n" + self.payload
        )


def _body_part(subtype: str, text: str, *, eight_bit: bool) -> _BodyPart:
    """One text part in UTF-8: as it is when ASCII (7bit), or the server takes 8-bit (8bit); base64 otherwise,
    and whenever a line is too long for SMTP."""
    if not text.endswith("\n"):
        text += "\n"
    data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode()  # the canonical form (RFC 2045)
    short_lines = max(map(len, data.splitlines())) <= MAX_LINE_BYTES
    if short_lines and text.isascii():
        encoding, payload = "7bit", data
    elif short_lines and eight_bit:
        encoding, payload = "8bit", data
    else:
        encoding, payload = "base64", base64.encodebytes(data)
    headers = [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", encoding),
    ]
    return _BodyPart(headers, payload, encoding)


def _boundary(*parts: _BodyPart) -> str:
    while True:
        boundary = f"=_{uuid.uuid4().hex}"
        if not any(boundary.encode() in part.payload for part in parts):
            return boundary


def _one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        # A line break would end the header and start another (an injected Bcc, say): never sent.
        raise DeliveryFailed(f"a header value has a line break: {value!r}", permanent=True)
    return value


def _address(address: str) -> str:
    """An address header's value: as it is (not ASCII only over SMTPUTF8, RFC 6532)."""
    return _one_line(address.strip())


def _unstructured(value: str) -> str:
    """An unstructured header's value: as it is when it is plain ASCII that fits a line, otherwise RFC 2047
    encoded words of whole characters, one per folded line (the text's spaces stay inside the words)."""
    _one_line(value)
    if value.isascii() and "=?" not in value and len(value) <= MAX_LINE_BYTES - 100:
        return value
    words, word = [], b""
    for character in value:
        encoded = character.encode()
        if len(word) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(word)
            word = b""
        word += encoded
    words.append(word)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


class _Connection(aiosmtplib.SMTP):
    """An SMTP connection that knows whether the message under way got as far as DATA: before it, the server
    cannot have taken the message, so a connection lost then is replaced and the message sent on the new one."""

    data_begun = False

    async def data(
        self, message: str | bytes, /, *, timeout: float | Literal[Default.token] | None = Default.token
    ) -> aiosmtplib.SMTPResponse:
        self.data_begun = True
        return await super().data(message, timeout=timeout)


class _LostBeforeData(Exception):
    """A connection kept open from earlier was gone when the next message began: nothing of it was taken."""


class SmtpMailer:
    """Hands emails to the configured SMTP server over one connection, opened for the first email and kept open
    for the ones after it, batch after batch, until ``close`` (the sender closes it once no mail is due for a
    while). One email at a time goes over it.

    A kept connection can be gone when the next email begins (the server timed it out or ended it, or answered
    421): the email goes again at once on a new connection, as the server did not take it. Lost after DATA
    began, the server may have taken the email: that is a failed try, retried later like any other, and the
    email may then arrive twice (SMTP is at least once; both copies carry the same Message-ID).
    """

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._from_header = from_header(settings.mail_from)
        self._sender_address = parseaddr(settings.mail_from)[1]
        self._local_hostname: str | None = None
        self._connection: _Connection | None = None
        self._one_at_a_time = asyncio.Lock()

    async def send(self, email: OutgoingEmail) -> None:
        async with self._one_at_a_time:
            connection = self._connection
            if connection is not None and connection.is_connected:
                try:
                    await self._transact(connection, email, kept=True)
                    return
                except _LostBeforeData:
                    log.info("the SMTP connection was closed by the server; opening a new one")
            await self._transact(await self._connect(), email, kept=False)

    def _mail_options(self, message: ComposedEmail) -> tuple[str, ...]:
        if self._sender_address.isascii() or "SMTPUTF8" in message.mail_options:
            return message.mail_options
        return (*message.mail_options, "SMTPUTF8")

    async def close(self) -> None:
        """Say QUIT and close the connection, if one is open; the next email opens a new one."""
        async with self._one_at_a_time:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                if connection.is_connected:
                    await connection.quit(timeout=min(self._settings.smtp_timeout_seconds, 5.0))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass  # it is being closed anyway
            finally:
                connection.close()

    async def _connect(self) -> _Connection:
        settings = self._settings
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._local_hostname is None:
            # The name said in EHLO. aiosmtplib looks it up (socket.getfqdn, in a thread) on every connection
            # unless it is given: once per process is enough.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        connection = _Connection(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            local_hostname=self._local_hostname,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        try:
            await connection.connect()
        except aiosmtplib.SMTPResponseException as error:
            connection.close()
            raise DeliveryFailed(
                f"SMTP {error.code}: {error.message}", permanent=error.code >= 500
            ) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            connection.close()
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
        self._connection = connection
        return connection

    async def _transact(self, connection: _Connection, email: OutgoingEmail, *, kept: bool) -> None:
        """Send ``email`` on ``connection`` or raise DeliveryFailed (``_LostBeforeData`` when a ``kept``
        connection turns out to be gone before the email's DATA)."""
        message = compose(
            email, sender=self._from_header, eight_bit=connection.supports_extension("8bitmime")
        )
        connection.data_begun = False
        try:
            await connection.sendmail(
                self._sender_address,
                [email.recipient.strip()],
                message.content,
                mail_options=self._mail_options(message),
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if kept and any(refusal.code == 421 for refusal in error.recipients):
                raise _LostBeforeData from error  # "closing the connection" at RCPT: aiosmtplib closed it
            # aiosmtplib reset the transaction (RSET): the connection carries the next email.
            permanent = all(refusal.code >= 500 for refusal in error.recipients)
            raise DeliveryFailed(f"recipient refused: {error}", permanent=permanent) from error
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421 and kept and not connection.data_begun:
                raise _LostBeforeData from error  # "closing the connection": aiosmtplib closed it
            # 5xx means the server will never take this message as it is; 4xx may pass later.
            raise DeliveryFailed(
                f"SMTP {error.code}: {error.message}", permanent=error.code >= 500
            ) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            connection.close()
            if kept and not connection.data_begun and isinstance(error, ConnectionError):
                raise _LostBeforeData from error
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
        except BaseException:
            connection.close()  # in an unknown state (or cancelled mid-command): never used again
            raise
