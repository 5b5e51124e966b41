"""Sending an email, as notifications sees it: the rendered email, the outgoing one, a failed delivery, the
mailer it goes through, how long to wait before trying again, and what became of one claimed email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

from shop_notifications.domain import Locale


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    """An email as the mailer sends it; ``notification_id`` and ``order_id`` travel as headers, and
    ``one_click_url`` (non-transactional email only) as ``List-Unsubscribe`` with ``List-Unsubscribe-Post``."""

    notification_id: str
    order_id: str
    template: str
    recipient: str
    locale: Locale
    subject: str
    text: str
    html: str | None
    one_click_url: str | None = None


class DeliveryFailed(Exception):
    """The mail server did not take an email. ``permanent`` when retrying cannot help (a 5xx answer)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None:
        """Hand ``email`` to the mail server or raise DeliveryFailed."""

    async def close(self) -> None:
        """Let go of the connection to the mail server, if one is kept open; the next ``send`` opens another."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_delay: timedelta
    max_delay: timedelta

    def after_failure(self, *, attempts: int, permanent: bool) -> timedelta | None:
        """How long to wait before the next try after ``attempts`` failed ones; None when it is failed for good."""
        if permanent or attempts >= self.max_attempts:
            return None
        return min(self.base_delay * (1 << (attempts - 1)), self.max_delay)


OutcomeKind = Literal["sent", "retried", "failed", "suppressed"]


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed email in a batch: sent; retried after ``delay``; failed for good; or
    suppressed by its recipient's preferences (``reason``), never tried. ``error`` is what the try ran into."""

    notification_id: str
    kind: OutcomeKind
    error: str | None = None
    delay: timedelta | None = None
    reason: str | None = None

    @classmethod
    def sent(cls, notification_id: str) -> Outcome:
        return cls(notification_id, "sent")

    @classmethod
    def retried(cls, notification_id: str, *, error: str, delay: timedelta) -> Outcome:
        return cls(notification_id, "retried", error=error, delay=delay)

    @classmethod
    def failed(cls, notification_id: str, *, error: str) -> Outcome:
        return cls(notification_id, "failed", error=error)

    @classmethod
    def suppressed(cls, notification_id: str, *, reason: str) -> Outcome:
        return cls(notification_id, "suppressed", reason=reason)
