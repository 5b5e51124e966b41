"""Notifications' rules, free of I/O: what each email says (as template values), money per locale, retries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

Locale = Literal["ko", "en"]
Channel = Literal["email"]
Status = Literal["pending", "sent", "failed"]

EMAIL: Channel = "email"

ORDER_CONFIRMED = "order_confirmed"
ORDER_REJECTED = "order_rejected"
ORDER_SHIPPED = "order_shipped"
ORDER_DELIVERED = "order_delivered"
TEMPLATES = (ORDER_CONFIRMED, ORDER_REJECTED, ORDER_SHIPPED, ORDER_DELIVERED)

MINOR_UNIT_DIGITS = {"KRW": 0, "JPY": 0, "USD": 2, "EUR": 2, "GBP": 2}
"""ISO 4217 exponents of the currencies the shop sells in; any other currency is assumed to have cents."""

_SYMBOLS_EN = {"KRW": "₩", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_SUFFIXES_KO = {"KRW": "원", "USD": "달러", "EUR": "유로", "GBP": "파운드", "JPY": "엔"}


def format_money(amount: int, currency: str, locale: Locale) -> str:
    """An amount in minor units as a customer reads it: ``39,000원`` (ko), ``₩39,000`` or ``$12.50`` (en).

    Korean readers get the number then the unit (``12.50달러``), except for dollars, which Korean shops
    commonly show as ``$12.50`` too.
    """
    digits = MINOR_UNIT_DIGITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    number = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    if locale == "ko" and currency != "USD":
        suffix = _SUFFIXES_KO.get(currency)
        return f"{sign}{number}{suffix}" if suffix else f"{sign}{number} {currency}"
    symbol = _SYMBOLS_EN.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


@dataclass(frozen=True)
class Money:
    """An amount in the currency's minor unit (KRW has none, USD has cents)."""

    amount: int
    currency: str

    def format(self, locale: Locale) -> str:
        return format_money(self.amount, self.currency, locale)


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: Locale


@dataclass(frozen=True)
class OrderLine:
    sku: str
    title: str
    quantity: int
    unit_price: Money
    line_total: Money


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None

    def lines(self, locale: Locale) -> list[str]:
        """The address as printed on a letter in the customer's language."""
        if locale == "ko":
            street = " ".join(part for part in (self.region, self.city, self.line1, self.line2) if part)
            return [self.name, f"({self.postal_code}) {street}", self.country]
        city = ", ".join(part for part in (self.city, self.region) if part)
        return [
            self.name,
            self.line1,
            *([self.line2] if self.line2 else []),
            f"{city} {self.postal_code}",
            self.country,
        ]


RejectionReason = Literal["out_of_stock", "payment_declined"]


@dataclass(frozen=True)
class EmailDraft:
    """One email decided but not yet rendered: which template, to whom, about which order, with what values."""

    template: str
    order_id: str
    recipient: Recipient
    values: Mapping[str, object]

    @property
    def locale(self) -> Locale:
        return self.recipient.locale


def order_confirmed_email(
    *,
    order_id: str,
    recipient: Recipient,
    lines: list[OrderLine],
    subtotal: Money,
    shipping: Money,
    total: Money,
    shipping_address: ShippingAddress,
) -> EmailDraft:
    locale = recipient.locale
    return EmailDraft(
        template=ORDER_CONFIRMED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "lines": [
                {
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price.format(locale),
                    "line_total": line.line_total.format(locale),
                }
                for line in lines
            ],
            "subtotal": subtotal.format(locale),
            "shipping": shipping.format(locale),
            "total": total.format(locale),
            "address_lines": shipping_address.lines(locale),
        },
    )


def order_rejected_email(*, order_id: str, recipient: Recipient, reason: RejectionReason) -> EmailDraft:
    return EmailDraft(
        template=ORDER_REJECTED,
        order_id=order_id,
        recipient=recipient,
        values={"order_id": order_id, "reason": reason},
    )


def order_shipped_email(
    *, order_id: str, recipient: Recipient, carrier: str, tracking_number: str
) -> EmailDraft:
    return EmailDraft(
        template=ORDER_SHIPPED,
        order_id=order_id,
        recipient=recipient,
        values={"order_id": order_id, "carrier": carrier, "tracking_number": tracking_number},
    )


def order_delivered_email(*, order_id: str, recipient: Recipient) -> EmailDraft:
    return EmailDraft(
        template=ORDER_DELIVERED, order_id=order_id, recipient=recipient, values={"order_id": order_id}
    )


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    """An email as the mailer sends it; ``notification_id`` and ``order_id`` travel as headers."""

    notification_id: str
    order_id: str
    template: str
    recipient: str
    locale: Locale
    subject: str
    text: str
    html: str | None


class DeliveryFailed(Exception):
    """The mail server did not take an email. ``permanent`` when retrying cannot help (a 5xx answer)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None:
        """Hand ``email`` to the mail server or raise DeliveryFailed."""


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
