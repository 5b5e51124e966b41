"""Payments' rules, free of I/O: money, what a charge records, balance attempts, refunds and the ledger."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shop_contracts.money import CurrencyMismatch, Money


class PaymentsError(Exception):
    """A request payments refuses; ``field`` names the input that is wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidAmount(PaymentsError):
    pass


class NoSavedMethod(PaymentsError):
    """The order has no saved payment method to charge or replace."""


class MethodNotVerified(PaymentsError):
    """The PSP would not verify the payment method token."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, field="token")
        self.code = code


class RefundExceedsCaptured(PaymentsError):
    """A refund asks for more than the order's captures still hold."""


class RefundKeyReused(PaymentsError):
    """A refund's idempotency key came back with a different order or amount."""


class RefundRefusedBefore(PaymentsError):
    """The same refund request was refused before: it stays refused, and is not told again."""

    def __init__(self, rejection: RefundRejection) -> None:
        super().__init__(rejection.error, field="idempotency_key")
        self.rejection = rejection


class PaymentStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LedgerKind(enum.StrEnum):
    CAPTURE = "capture"
    """Money taken: a charge, a capture of a hold, an off-session charge that replaced a hold."""
    REFUND = "refund"
    """Money given back from a capture."""
    AUTHORIZATION = "authorization"
    """Money held on the card at checkout, taken by captures as the order ships."""
    VOID = "void"
    """Part or all of a hold released, never taken (what will not ship, a cancellation before capture)."""
    EXPIRY = "expiry"
    """What a hold still held when it lapsed (or was released because it was about to)."""


class PaymentKind(enum.StrEnum):
    CHARGE = "charge"
    """Money taken at once: checkout, a deposit, a balance, a verification of 0."""
    AUTHORIZATION = "authorization"
    """A hold placed at checkout: nothing taken yet."""
    CAPTURE = "capture"
    """Taking part of a hold (a shipment's share)."""
    REPLACEMENT = "replacement"
    """An off-session charge with the saved method in place of a hold that expired or could not be captured."""


NO_SAVED_METHOD = "no_saved_method"
"""The decline code of a balance the order has no saved payment method for."""


def idempotency_key(*, order_id: str, step: str) -> str:
    """The PSP key of one step of one order: however often the step is asked for, it is charged once."""
    return f"{order_id}:{step}"


def balance_step(*, group_id: str, attempt: int) -> str:
    """The step of one attempt to charge a group's balance: ``balance:{group}``, then ``balance:{group}:{n}``.

    Each attempt has its own step, so its own PSP idempotency key: a retry after a decline is a new charge
    rather than the PSP replaying the decline. The first attempt keeps the plain name.
    """
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    return f"balance:{group_id}" if attempt == 1 else f"balance:{group_id}:{attempt}"


@dataclass(frozen=True)
class Decline:
    code: str
    message: str
    requires_action: bool = False
    """The customer must confirm the charge themselves (authentication an off-session charge cannot do)."""


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
    refund_id: uuid.UUID | None = None
    psp_reference: str | None = None


@dataclass(frozen=True)
class BalanceAttempt:
    """Which group's balance a payment tried to charge, and which try it was (from 1)."""

    group_id: str
    number: int


@dataclass(frozen=True)
class Payment:
    """The recorded outcome of charging one step of an order: succeeded unless the PSP declined it.

    An amount of 0 is a verified payment method with nothing charged: it succeeds and moves no money.
    ``recorded_at`` is when payments recorded it (None until it is stored).
    """

    id: uuid.UUID
    order_id: str
    step: str
    amount: Money
    psp_reference: str | None
    decline: Decline | None = None
    card: Card | None = None
    balance: BalanceAttempt | None = None
    recorded_at: datetime | None = None
    kind: PaymentKind = PaymentKind.CHARGE
    authorization_id: uuid.UUID | None = None
    """The hold a capture or a replacement charge belongs to."""
    expires_at: datetime | None = None
    """When an authorisation's hold lapses at the PSP."""

    def __post_init__(self) -> None:
        if self.amount.amount < 0:
            raise InvalidAmount(f"a payment cannot be negative: {self.amount.amount}", field="amount")
        if (self.authorization_id is not None) != (
            self.kind in (PaymentKind.CAPTURE, PaymentKind.REPLACEMENT)
        ):
            raise ValueError("captures and replacement charges, and only they, belong to a hold")

    @property
    def status(self) -> PaymentStatus:
        return PaymentStatus.FAILED if self.decline else PaymentStatus.SUCCEEDED

    @property
    def succeeded(self) -> bool:
        return self.status is PaymentStatus.SUCCEEDED

    def ledger_entries(self) -> list[LedgerEntry]:
        """Money that moved: a capture when a charge (or a capture of a hold) succeeded, an authorisation when a
        hold was placed, nothing when it was declined or was 0."""
        if not self.succeeded or self.amount.amount == 0:
            return []
        return [
            LedgerEntry(
                order_id=self.order_id,
                payment_id=self.id,
                kind=LedgerKind.AUTHORIZATION
                if self.kind is PaymentKind.AUTHORIZATION
                else LedgerKind.CAPTURE,
                amount=self.amount,
                psp_reference=self.psp_reference,
            )
        ]


def next_balance_attempt(attempts: Iterable[Payment]) -> Payment | int:
    """What a request to charge a group's balance does, given the group's earlier attempts.

    The one that succeeded, to be told again (a group is never charged twice); otherwise the number of
    the new attempt: 1 at first, one more than the last after a decline.
    """
    number = 0
    for attempt in attempts:
        if attempt.succeeded:
            return attempt
        if attempt.balance is not None:
            number = max(number, attempt.balance.number)
    return number + 1


def answer_to_balance_ask(
    attempts: Sequence[Payment], *, attempt: int | None = None, asked_at: datetime | None = None
) -> Payment | int:
    """What an ask to charge a group's balance does given the group's attempts: the attempt that already
    answers it, or the number of a new attempt.

    The one that succeeded answers every ask (a group is charged once). After a decline, an ask for an
    ``attempt`` payments has made already is that attempt's ask or a copy of it (redelivered, re-published
    under another message id, overtaken): orders asks for the next attempt only once it heard the decline.
    An ask without a number (an older producer) is told by when it was made, ``asked_at``: one made before
    the latest attempt was recorded is its ask or a copy. With neither, every ask after a decline is a retry.
    """
    decided = next_balance_attempt(attempts)
    if isinstance(decided, Payment):
        return decided
    latest = max(
        (made for made in attempts if made.balance is not None),
        key=lambda made: made.balance.number if made.balance else 0,
        default=None,
    )
    if latest is None or latest.balance is None:
        return decided
    if attempt is not None:
        return latest if attempt <= latest.balance.number else decided
    if asked_at is not None and latest.recorded_at is not None and asked_at <= latest.recorded_at:
        return latest
    return decided


@dataclass(frozen=True)
class SavedMethod:
    """An order's payment method kept for off-session charges: the PSP's token, never card data."""

    order_id: str
    token: str
    card: Card | None

    def __repr__(self) -> str:  # a token in a log line would be a credential in the log
        return f"SavedMethod(order_id={self.order_id!r}, card={self.card!r})"


@dataclass(frozen=True)
class Capture:
    """A capture of an order and how much of it is already refunded."""

    payment_id: uuid.UUID
    psp_reference: str
    amount: Money
    refunded: Money

    @property
    def refundable(self) -> Money:
        return self.amount - self.refunded


@dataclass(frozen=True)
class RefundPart:
    """The share of a refund taken from one capture; ``refund_reference`` is the PSP's once it refunded.

    ``voided``: taken from a hold that was never captured (``payment_id`` and ``charge_reference`` are the
    authorisation's): released rather than refunded.
    """

    payment_id: uuid.UUID
    charge_reference: str
    amount: Money
    refund_reference: str | None = None
    voided: bool = False


def refund_parts(captures: Sequence[Capture], amount: Money) -> list[RefundPart]:
    """Split a refund over the captures (given oldest first), latest capture first.

    The latest money in is the first out: a balance is refunded before the deposit that preceded it.
    Never more than each capture still holds; a refund larger than all of them together is refused.
    """
    if amount.amount <= 0:
        raise InvalidAmount(f"a refund must be of more than 0, not {amount.amount}", field="amount")
    for capture in captures:
        if capture.amount.currency != amount.currency:
            raise CurrencyMismatch(
                f"the order was paid in {capture.amount.currency}, not {amount.currency}", field="currency"
            )
    refundable = Money.total((capture.refundable for capture in captures), currency=amount.currency)
    if amount > refundable:
        raise RefundExceedsCaptured(
            f"only {refundable.amount} of the order's captures can still be refunded, not {amount.amount}",
            field="amount",
        )
    parts: list[RefundPart] = []
    left = amount
    for capture in reversed(captures):
        share = min(left, capture.refundable)
        if share.amount > 0:
            parts.append(RefundPart(capture.payment_id, capture.psp_reference, share))
            left -= share
    return parts


@dataclass(frozen=True)
class Refund:
    """Money given back on an order, once per idempotency key, taken from one or more captures."""

    id: uuid.UUID
    order_id: str
    idempotency_key: str
    amount: Money
    reason: str
    parts: tuple[RefundPart, ...]

    def __post_init__(self) -> None:
        if self.amount.amount <= 0:
            raise InvalidAmount(f"a refund must be of more than 0, not {self.amount.amount}", field="amount")
        if sum(part.amount.amount for part in self.parts) != self.amount.amount:
            raise InvalidAmount("a refund's parts must add up to its amount", field="amount")

    def answers(self, *, order_id: str, amount: int) -> bool:
        """Whether a request under this refund's idempotency key asks for this same refund."""
        return (self.order_id, self.amount.amount) == (order_id, amount)

    @property
    def voided(self) -> Money:
        """What of it was released from a hold rather than refunded."""
        return Money.total((part.amount for part in self.parts if part.voided), currency=self.amount.currency)

    def ledger_entries(self) -> list[LedgerEntry]:
        return [
            LedgerEntry(
                order_id=self.order_id,
                payment_id=part.payment_id,
                kind=LedgerKind.VOID if part.voided else LedgerKind.REFUND,
                amount=part.amount,
                refund_id=self.id,
                psp_reference=part.refund_reference,
            )
            for part in self.parts
        ]


@dataclass(frozen=True)
class RefundRejection:
    """A refund request payments refused, recorded once per request (its key, order and amount): asked
    again it is refused the same way and not told again, and no later capture turns it into a refund."""

    order_id: str
    idempotency_key: str
    amount: int
    currency: str
    reason: str
    error: str

    def answers(self, *, order_id: str, amount: int) -> bool:
        """Whether a request under this rejection's idempotency key is this same request."""
        return (self.order_id, self.amount) == (order_id, amount)


@dataclass(frozen=True)
class Balance:
    """What an order's ledger adds up to; ``net`` is what the shop holds of the customer's money."""

    captured: Money
    refunded: Money

    @property
    def net(self) -> Money:
        return self.captured - self.refunded


def balance_of(entries: Iterable[LedgerEntry], *, currency: str) -> Balance:
    """Sum captures and refunds (holds move no money); an order has one currency, so an entry in another one is
    an error."""
    captured = refunded = Money.zero(currency)
    for entry in entries:
        if entry.kind is LedgerKind.CAPTURE:
            captured += entry.amount
        elif entry.kind is LedgerKind.REFUND:
            refunded += entry.amount
    return Balance(captured=captured, refunded=refunded)


class PspEventOutcome(enum.StrEnum):
    """What a PSP webhook event did; each event id is recorded with it once."""

    BALANCE_CHARGED = "balance_charged"
    """A balance charge the customer had to confirm went through: the group is paid."""
    ALREADY_PAID = "already_paid"
    """The group was paid by another attempt meanwhile: this second charge is recorded and refunded at once."""
    NO_CHANGE = "no_change"
    """The event tells what payments already knows."""
    IGNORED = "ignored"
    """An event type payments does not act on."""
    DUPLICATE = "duplicate"
    """The event id was processed before: nothing changes (never recorded, it is the answer to a replay)."""
    HOLD_EXPIRED = "hold_expired"
    """A hold lapsed with money still on it: recorded as expired and replaced by an off-session charge."""
    NEEDS_REVIEW = "needs_review"
    """The PSP tells of a capture otherwise than payments recorded it: kept for an operator, nothing changes."""


CHARGE_SUCCEEDED = "charge.succeeded"
"""The PSP event of a charge that went through after all: the customer completed the action it required."""


class UnknownCharge(PaymentsError):
    """A PSP event names a charge payments has no record of (yet): the PSP delivers it again later."""


class EventMismatch(PaymentsError):
    """A PSP event's amount or currency differs from the charge payments recorded."""


AUTHORIZATION_EXPIRED = "authorization.expired"
"""The PSP event of a hold that lapsed (the issuer let it go) before it was all captured or released."""
CAPTURE_SUCCEEDED = "capture.succeeded"
CAPTURE_FAILED = "capture.failed"
"""The PSP's word on a capture, after it answered it: it confirms what payments recorded, or differs."""


@dataclass(frozen=True)
class PspEvent:
    """A webhook event from the PSP, after its signature was verified."""

    id: str
    type: str
    charge_reference: str | None = None
    amount: Money | None = None
    authorization_reference: str | None = None
    capture_reference: str | None = None

    @property
    def reference(self) -> str | None:
        """The PSP object the event is about: a charge, a capture or a hold."""
        return self.charge_reference or self.capture_reference or self.authorization_reference


REFUND_OF_SECOND_CHARGE = "charged_twice"
"""The reason of the refund of a charge the customer confirmed after their group was paid by another one."""


def second_charge_step(charge_reference: str) -> str:
    """The step of a charge the customer confirmed after its group was paid by another attempt: one per
    PSP charge, so however often the PSP tells of it, it is recorded, and refunded, once."""
    return f"charged-twice:{charge_reference}"


def payment_after_action(
    declined: Payment, attempts: Iterable[Payment], *, event: PspEvent, payment_id: uuid.UUID
) -> Payment | PspEventOutcome:
    """What a charge that succeeded after the customer's action makes of the balance attempt it declined.

    A new successful attempt of the group (its own step, the PSP's same charge reference), or why there is
    none: the declined payment needed no action (or is no balance), or the group was paid by another attempt.
    """
    if event.amount is not None and event.amount != declined.amount:
        raise EventMismatch(
            f"the event is for {event.amount.amount} {event.amount.currency}, the charge was "
            f"{declined.amount.amount} {declined.amount.currency}",
            field="data.amount",
        )
    if declined.balance is None or declined.decline is None or not declined.decline.requires_action:
        return PspEventOutcome.NO_CHANGE
    decided = next_balance_attempt(attempts)
    if isinstance(decided, Payment):
        # Paid by this same charge (an earlier event about it) or by another attempt meanwhile.
        same_charge = decided.psp_reference == declined.psp_reference
        return PspEventOutcome.NO_CHANGE if same_charge else PspEventOutcome.ALREADY_PAID
    group_id = declined.balance.group_id
    return Payment(
        id=payment_id,
        order_id=declined.order_id,
        step=balance_step(group_id=group_id, attempt=decided),
        amount=declined.amount,
        psp_reference=declined.psp_reference,
        card=declined.card,
        balance=BalanceAttempt(group_id=group_id, number=decided),
    )


BANK_TRANSFER_PREFIX = "bank-transfer:"
"""How a capture that came by bank transfer is told apart in the ledger (its PSP reference column)."""
