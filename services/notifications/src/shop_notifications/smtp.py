"""Sending email over real SMTP with aiosmtplib: the production Mailer."""

from __future__ import annotations

import asyncio
import socket
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shop_notifications.delivery import DeliveryFailed, OutgoingEmail
from shop_notifications.settings import NotificationsSettings

NOTIFICATION_ID_HEADER = "X-Shop-Notification-Id"
ORDER_ID_HEADER = "X-Shop-Order-Id"
TEMPLATE_HEADER = "X-Shop-Template"

UNFOLDED_HEADERS = policy.default.clone(max_line_length=998)
"""Headers up to RFC 5322's 998 characters stay on one line: Python's folding of a long non-ASCII subject
splits it into encoded words and drops the space at the split ("예정일이 변경" arrives as "예정일이변경")."""


def compose(email: OutgoingEmail, *, sender: str) -> EmailMessage:
    """The MIME message: plain text, with an HTML alternative when there is one."""
    message = EmailMessage(policy=UNFOLDED_HEADERS)
    message["From"] = sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # The same on every try: an email sent again after a crash (sent, not yet recorded) is one message to the
    # mail systems that drop a Message-ID they already delivered.
    message["Message-ID"] = f"<{email.notification_id}@shop.example>"
    message["Content-Language"] = email.locale
    message[NOTIFICATION_ID_HEADER] = email.notification_id
    message[ORDER_ID_HEADER] = email.order_id
    message[TEMPLATE_HEADER] = email.template
    if email.one_click_url:
        # RFC 8058: a mail client's unsubscribe button POSTs "List-Unsubscribe=One-Click" to this address.
        message["List-Unsubscribe"] = f"<{email.one_click_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    """Hands each email to the configured SMTP server on its own connection."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._local_hostname: str | None = None

    async def send(self, email: OutgoingEmail) -> None:
        settings = self._settings
        if self._local_hostname is None:
            # The name said in EHLO. aiosmtplib looks it up (socket.getfqdn, in a thread) on every connection
            # unless it is given: once per process is enough.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        try:
            await aiosmtplib.send(
                compose(email, sender=settings.mail_from),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                local_hostname=self._local_hostname,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                start_tls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            permanent = all(refusal.code >= 500 for refusal in error.recipients)
            raise DeliveryFailed(f"recipient refused: {error}", permanent=permanent) from error
        except aiosmtplib.SMTPResponseException as error:
            # 5xx means the server will never take this message as it is; 4xx may pass later.
            raise DeliveryFailed(
                f"SMTP {error.code}: {error.message}", permanent=error.code >= 500
            ) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
