"""Payments' rules, free of I/O: money, what a charge records, and the balance of an order's ledger."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class PaymentsError(Exception):
    """A request payments refuses; ``field`` names the input that is wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidAmount(PaymentsError):
    pass


class CurrencyMismatch(PaymentsError):
    pass


@dataclass(frozen=True)
class Money:
    """An amount in the currency's minor unit (KRW has none, USD has cents) with its ISO 4217 code."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not CURRENCY_CODE.match(self.currency):
            raise CurrencyMismatch(f"{self.currency!r} is not an ISO 4217 code", field="currency")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}", field="currency")
        return Money(self.amount + other.amount, self.currency)


class PaymentStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LedgerKind(enum.StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"


def idempotency_key(*, order_id: str, step: str) -> str:
    """The PSP key of one step of one order: however often the step is asked for, it is charged once."""
    return f"{order_id}:{step}"


@dataclass(frozen=True)
class Decline:
    code: str
    message: str


@dataclass(frozen=True)
class Card:
    """What may be kept of a card: never its number, only the brand and last four digits."""

    brand: str
    last4: str


@dataclass(frozen=True)
class LedgerEntry:
    order_id: str
    payment_id: uuid.UUID
    kind: LedgerKind
    amount: Money


@dataclass(frozen=True)
class Payment:
    """The recorded outcome of charging one step of an order: succeeded unless the PSP declined it."""

    id: uuid.UUID
    order_id: str
    step: str
    amount: Money
    psp_reference: str | None
    decline: Decline | None = None
    card: Card | None = None

    def __post_init__(self) -> None:
        if self.amount.amount <= 0:
            raise InvalidAmount(f"a payment must be of more than 0, not {self.amount.amount}", field="amount")

    @property
    def status(self) -> PaymentStatus:
        return PaymentStatus.FAILED if self.decline else PaymentStatus.SUCCEEDED

    @property
    def succeeded(self) -> bool:
        return self.status is PaymentStatus.SUCCEEDED

    def ledger_entries(self) -> list[LedgerEntry]:
        """Money that moved: a capture when the charge succeeded, nothing when it was declined."""
        if not self.succeeded:
            return []
        return [
            LedgerEntry(
                order_id=self.order_id, payment_id=self.id, kind=LedgerKind.CAPTURE, amount=self.amount
            )
        ]


@dataclass(frozen=True)
class Balance:
    """What an order's ledger adds up to; ``net`` is what the shop holds of the customer's money."""

    captured: Money
    refunded: Money

    @property
    def net(self) -> Money:
        return Money(self.captured.amount - self.refunded.amount, self.captured.currency)


def balance_of(entries: Iterable[LedgerEntry], *, currency: str) -> Balance:
    """Sum captures and refunds; an order has one currency, so an entry in another one is an error."""
    captured = refunded = Money.zero(currency)
    for entry in entries:
        if entry.kind is LedgerKind.CAPTURE:
            captured += entry.amount
        else:
            refunded += entry.amount
    return Balance(captured=captured, refunded=refunded)
