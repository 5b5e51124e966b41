"""Plain rows the ops tool reads from the service databases: what the pure checks and rules decide on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class StockLevel:
    sku: str
    location: str
    on_hand: int
    reserved: int
    safety_stock: int


@dataclass(frozen=True)
class PreorderCapUse:
    """A pre-order policy's cap and the units its accepted pre-orders (waiting or allocated) hold under it."""

    sku: str
    cap: int
    accepted: int


@dataclass(frozen=True)
class OrderState:
    """An order as orders sees it; ``since`` is when it last changed status."""

    order_id: str
    status: str
    total: int
    currency: str
    created_at: datetime
    since: datetime
    status_reason: str | None = None
    charged_now: int | None = None
    """What checkout charges when the order has pre-order lines (the rest later); None: the whole total."""
    waiting_preorder: bool = False
    """Pre-order units wait for stock, or for a balance charged later, before anything can ship."""
    payment_status: str | None = None
    """On payment terms (a draft completed unpaid): awaiting_payment, overdue or paid; None: paid at checkout."""
    payment_terms: str | None = None
    payment_due_date: date | None = None

    @property
    def awaiting_payment_on_terms(self) -> bool:
        return self.payment_status in ("awaiting_payment", "overdue")

    @property
    def due_at_checkout(self) -> int:
        return self.total if self.charged_now is None else self.charged_now


@dataclass(frozen=True)
class OrderLedger:
    """Payments' ledger summed for one order."""

    order_id: str
    currencies: tuple[str, ...]
    captured: int
    refunded: int

    @property
    def net(self) -> int:
        return self.captured - self.refunded


@dataclass(frozen=True)
class PaymentLedger:
    """Payments' ledger summed for one payment."""

    payment_id: uuid.UUID
    order_id: str
    captured: int
    refunded: int


@dataclass(frozen=True)
class StepPayments:
    """The successful payments recorded for one step of one order."""

    order_id: str
    step: str
    payment_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class SucceededPayments:
    """The sum of one order's successful payments."""

    order_id: str
    amount: int
    currencies: tuple[str, ...]


@dataclass(frozen=True)
class FulfillmentOrderState:
    fulfillment_id: uuid.UUID
    order_id: str
    location: str
    status: str
    created_at: datetime
    group_key: str = ""
    """The order's shipment group id (or the location, for orders that group by location)."""


@dataclass(frozen=True)
class ShipmentGroupState:
    """One of an order's shipment groups as orders records it: its status and the facts it follows from."""

    group_id: str
    order_id: str
    order_status: str
    kind: str
    status: str
    fulfillment_id: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    stock_committed_at: datetime | None


@dataclass(frozen=True)
class UnpublishedOutboxRow:
    service: str
    row_id: int
    message_id: uuid.UUID
    message_type: str
    created_at: datetime


@dataclass(frozen=True)
class DraftHold:
    """A draft order and the reservations it asked catalog for: the current one and those it gave up."""

    draft_id: str
    status: str
    reservation_id: str | None
    reservation_status: str
    earlier_reservations: tuple[str, ...]
    updated_at: datetime


@dataclass(frozen=True)
class HoldMovement:
    """One ledger entry of a card hold, in the order the ledger recorded them: authorization, capture (of the
    hold), void or expiry."""

    kind: str
    amount: int


@dataclass(frozen=True)
class HoldLedger:
    """Payments' ledger of one card hold (an authorisation) and the captures made of it."""

    authorization_id: uuid.UUID
    order_id: str
    movements: tuple[HoldMovement, ...]

    def total(self, kind: str) -> int:
        return sum(movement.amount for movement in self.movements if movement.kind == kind)


@dataclass(frozen=True)
class UnpaidHold:
    """A hold replaced by an off-session charge that failed (no saved method, or declined), none succeeding."""

    order_id: str
    amount: int
    currency: str
    decline_code: str
    since: datetime
