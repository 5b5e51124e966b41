"""The rules of card holds, free of I/O: what a hold still holds, what each shipment captures of it, and how
money asked back is split between releasing the hold and refunding captures.

An in-stock order paid ``at_shipment`` is authorised for its total at checkout. Each shipment captures its
share (the value of its units at the order's ratio of total to subtotal, so shipping, discount and tax are
spread over the goods); the shipment after which every ordered unit has shipped or was short captures all
that is left. Money asked back (a short pick, a cancellation) is released from the hold first and refunded
from captures only for the rest, so a cancellation before any capture only voids.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shop_contracts.money import CurrencyMismatch, Money
from shop_payments.domain import (
    Capture,
    InvalidAmount,
    Payment,
    PaymentKind,
    PaymentsError,
    RefundExceedsCaptured,
    RefundPart,
    refund_parts,
)

CHECKOUT_CAPTURE = "checkout"
"""The capture of a whole hold at confirmation: the order has pre-order lines, paid in full at checkout."""
SETTLE_CAPTURE = "settle"
"""The capture of what is left of a hold once nothing more will ship, made when the hold is settled."""
REPLACEMENT_STEP = "replacement"
"""The off-session charge made in place of a hold that expired or could not be captured."""


def replacement_step(attempt: int) -> str:
    """The step of one attempt at charging a lapsed hold off session: the first is ``replacement``, then
    ``replacement:2``, ``replacement:3``: each is charged once under its own PSP idempotency key."""
    return REPLACEMENT_STEP if attempt == 1 else f"{REPLACEMENT_STEP}:{attempt}"


@dataclass(frozen=True)
class Dunning:
    """An order whose lapsed hold could not be charged off session: what is owed, and until when payments
    tries again. ``outcome`` is None while it runs, then ``paid`` or ``unpaid``."""

    order_id: str
    authorization_id: uuid.UUID
    owed: Money
    began_at: datetime
    give_up_at: datetime
    outcome: str | None = None

    @property
    def running(self) -> bool:
        return self.outcome is None

    def next_retry(self, *, now: datetime, retry_after: timedelta) -> datetime | None:
        """When a charge that failed ``now`` is tried again: ``retry_after`` later, unless that is not before
        giving up (then no retry: the period's end decides)."""
        at = now + retry_after
        return at if at < self.give_up_at else None


class CaptureExceedsHold(PaymentsError):
    """A capture asks for more than the hold still holds (or the hold is closed: voided or expired)."""


def capture_step(shipment_id: str) -> str:
    """The step of one capture of an order's hold: one per shipment, so a shipment is captured once."""
    return f"capture:{shipment_id}"


@dataclass(frozen=True)
class Hold:
    """An authorisation and what its ledger says of it: captured, released (voided) and lapsed (expired)."""

    authorization: Payment
    captured: Money
    voided: Money
    expired: Money
    captures: tuple[Payment, ...] = ()
    """The captures of it made so far, succeeded or refused, oldest first."""
    replacements: tuple[Payment, ...] = ()

    def __post_init__(self) -> None:
        if self.authorization.kind is not PaymentKind.AUTHORIZATION:
            raise ValueError("a hold is an authorisation")

    @property
    def order_id(self) -> str:
        return self.authorization.order_id

    @property
    def currency(self) -> str:
        return self.authorization.amount.currency

    @property
    def authorised(self) -> Money:
        return self.authorization.amount if self.authorization.succeeded else Money.zero(self.currency)

    @property
    def open(self) -> Money:
        """What the card still holds for the shop to capture."""
        return self.authorised - self.captured - self.voided - self.expired

    @property
    def expired_at_psp(self) -> bool:
        return self.expired.amount > 0

    def steps_done(self) -> set[str]:
        return {capture.step for capture in self.captures}

    def check_capture(self, amount: Money) -> None:
        """A capture takes no more than the hold still holds, and nothing once it lapsed."""
        if amount.currency != self.currency:
            raise CurrencyMismatch(f"the hold is in {self.currency}, not {amount.currency}", field="currency")
        if amount.amount < 0:
            raise InvalidAmount(f"a capture cannot be negative: {amount.amount}", field="amount")
        if self.expired_at_psp and amount.amount > 0:
            raise CaptureExceedsHold("the hold expired: nothing more can be captured of it", field="amount")
        if amount > self.open:
            raise CaptureExceedsHold(
                f"the hold holds {self.open.amount} {self.currency}, not {amount.amount}", field="amount"
            )


def settle_at(*, authorised_at: datetime, expires_at: datetime | None, margin: timedelta) -> datetime | None:
    """When payments settles a hold: ``margin`` before it lapses, never before it was placed."""
    if expires_at is None:
        return None
    return max(authorised_at, expires_at - margin)


@dataclass(frozen=True)
class OrderTerms:
    """What payments keeps of an order's confirmation to share a hold over its shipments."""

    order_id: str
    currency: str
    subtotal: int
    total: int
    units: Mapping[str, int]
    """Units ordered by SKU."""
    prices: Mapping[str, int]
    """Unit price by SKU, in minor units."""
    has_preorder_lines: bool = False
    customer_email: str | None = None
    """Who hears of a lapsed hold that could not be charged (None: kept before payments kept it)."""
    customer_locale: str | None = None

    def value_of(self, units: Mapping[str, int]) -> int:
        return sum(self.prices.get(sku, 0) * quantity for sku, quantity in units.items())

    def share_of(self, value: int) -> int:
        """``value`` of goods at the ratio of the order's total to its subtotal, rounded half up."""
        if self.subtotal <= 0:
            return 0
        return (value * self.total * 2 + self.subtotal) // (2 * self.subtotal)


@dataclass(frozen=True)
class ShipmentFact:
    """A shipment as fulfillment reported it: units that left, and units found short at the pick."""

    shipment_id: str
    shipped: Mapping[str, int] = field(default_factory=dict)
    short: Mapping[str, int] = field(default_factory=dict)


def nothing_left_to_ship(terms: OrderTerms, shipments: Iterable[ShipmentFact]) -> bool:
    """Every ordered unit has shipped or was found short."""
    accounted: Counter[str] = Counter()
    for shipment in shipments:
        accounted.update(shipment.shipped)
        accounted.update(shipment.short)
    return all(accounted[sku] >= quantity for sku, quantity in terms.units.items())


@dataclass(frozen=True)
class PlannedCapture:
    step: str
    amount: Money


def shipment_captures(
    terms: OrderTerms, shipments: Sequence[ShipmentFact], hold: Hold, *, shorts_answered: int = 0
) -> list[PlannedCapture]:
    """What each shipment not captured yet takes of the hold, in the order the shipments were recorded.

    Shares are cumulative (the shipments' value so far at the order's ratio, less what earlier shipments
    took), so rounding never drifts; the shipment that leaves nothing to ship takes all the hold still holds.
    A shipment whose share is 0 (the hold was released, or lapsed and was replaced) still gets its step, of 0.

    Units found short are orders' to give back (it asks once per shipment with short units, for what they cost
    the customer). Until orders' ask for each such shipment has been answered here (``shorts_answered``: given
    back or refused), the shipment that leaves nothing to ship waits: taking all the hold still holds would take
    the short units' money too, and then refund it instead of releasing it, depending only on which message
    came first.
    """
    done = hold.steps_done()
    pending = [shipment for shipment in shipments if capture_step(shipment.shipment_id) not in done]
    if not pending:
        return []
    shipped_value = sum(
        terms.value_of(shipment.shipped)
        for shipment in shipments
        if capture_step(shipment.shipment_id) in done
    )
    taken = sum(
        capture.amount.amount
        for capture in hold.captures
        if capture.succeeded and capture.step != capture_step(CHECKOUT_CAPTURE)
    )
    left = 0 if hold.expired_at_psp else hold.open.amount
    last_leaves_nothing = nothing_left_to_ship(terms, shipments)
    shorts_asked = sum(1 for shipment in shipments if terms.value_of(shipment.short) > 0)
    planned = []
    for index, shipment in enumerate(pending):
        shipped_value += terms.value_of(shipment.shipped)
        if last_leaves_nothing and index == len(pending) - 1:
            if shorts_answered < shorts_asked:
                break  # the short units' money is not answered for yet: the rest waits for it
            amount = left
        else:
            amount = max(0, min(left, terms.share_of(shipped_value) - taken))
        taken += amount
        left -= amount
        planned.append(PlannedCapture(capture_step(shipment.shipment_id), Money(amount, hold.currency)))
    return planned


def money_back_parts(holds: Sequence[Hold], captures: Sequence[Capture], amount: Money) -> list[RefundPart]:
    """Split money asked back: released from what holds still hold first (latest hold first), then refunded
    from captures (latest first, see ``refund_parts``). More than both together is refused whole."""
    if amount.amount <= 0:
        raise InvalidAmount(f"a refund must be of more than 0, not {amount.amount}", field="amount")
    for hold in holds:
        if hold.currency != amount.currency:
            raise CurrencyMismatch(
                f"the order was authorised in {hold.currency}, not {amount.currency}", field="currency"
            )
    releasable = Money.total(
        (hold.open for hold in holds if not hold.expired_at_psp), currency=amount.currency
    )
    refundable = Money.total(
        (capture.refundable for capture in captures if capture.amount.currency == amount.currency),
        currency=amount.currency,
    )
    if amount > releasable + refundable:
        raise RefundExceedsCaptured(
            f"only {refundable.amount} of the order's captures can still be refunded and {releasable.amount} "
            f"of its holds released, not {amount.amount}",
            field="amount",
        )
    parts: list[RefundPart] = []
    left = amount
    for hold in reversed(holds):
        if hold.expired_at_psp:
            continue
        share = min(left, hold.open)
        if share.amount > 0:
            assert hold.authorization.psp_reference is not None  # an approved hold has one
            parts.append(
                RefundPart(hold.authorization.id, hold.authorization.psp_reference, share, voided=True)
            )
            left -= share
    if left.amount > 0:
        parts += refund_parts(captures, left)
    return parts


def new_capture(hold: Hold, *, step: str, amount: Money, payment_id: uuid.UUID | None = None) -> Payment:
    """A capture of 0 to record a step that takes nothing (the PSP is not asked)."""
    hold.check_capture(amount)
    return Payment(
        id=payment_id or uuid.uuid4(),
        order_id=hold.order_id,
        step=step,
        amount=amount,
        psp_reference=None,
        kind=PaymentKind.CAPTURE,
        authorization_id=hold.authorization.id,
    )
