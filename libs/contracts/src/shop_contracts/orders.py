"""Events owned by orders: the life of an order as the saga moves it."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import EVENTS_EXCHANGE
from shop_contracts.values import Address, Customer, PaymentMode, PricedLine, Value


class PreorderSummary(Value):
    """What a customer is told about one pre-ordered line."""

    sku: str
    title: str
    quantity: int
    payment_mode: PaymentMode
    paid_now: int
    balance: int
    balance_due: str = Field(description="on_ready, or the ISO date-time the balance will be charged")
    expected_ship_date: date | None = None
    queue_position: int | None = None


class OrderEvent(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE


class OrderPlaced(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.placed.v1"
    order_id: str
    customer: Customer
    currency: str
    lines: list[PricedLine]
    total: int


class OrderConfirmed(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.confirmed.v1"
    order_id: str
    customer: Customer
    currency: str
    lines: list[PricedLine]
    subtotal: int
    shipping: int
    total: int
    shipping_address: Address
    charged_now: int | None = Field(
        default=None, description="What was charged at checkout, when not the total."
    )
    preorder_lines: list[PreorderSummary] = Field(default_factory=list)


class OrderRejected(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.rejected.v1"
    order_id: str
    customer: Customer
    reason: Literal["out_of_stock", "payment_declined"]
    detail: str


class OrderShipped(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.shipped.v1"
    order_id: str
    customer: Customer
    fulfillment_id: str
    carrier: str
    tracking_number: str


class OrderDelivered(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.delivered.v1"
    order_id: str
    customer: Customer
    fulfillment_id: str


class OrderBalanceCharged(OrderEvent):
    TYPE: ClassVar[str] = "orders.balance.charged.v1"
    order_id: str
    customer: Customer
    group_id: str
    amount: int
    currency: str
    expected_ship_date: date | None = None


class OrderBalanceChargeFailed(OrderEvent):
    TYPE: ClassVar[str] = "orders.balance.failed.v1"
    order_id: str
    customer: Customer
    group_id: str
    amount: int
    currency: str
    reason: str
    requires_action: bool = False
    retry_at: AwareDatetime | None = None


class OrderBalanceReminder(OrderEvent):
    """A pre-order's balance will be charged off-session soon: tell the customer what, when and where to
    change the card."""

    TYPE: ClassVar[str] = "orders.balance.reminder.v1"
    order_id: str
    customer: Customer
    group_id: str | None = Field(
        default=None, description="The shipment group charged; None before its units are allocated."
    )
    sku: str | None = None
    amount: int
    currency: str
    charge_at: AwareDatetime = Field(
        description="When the balance will be charged; with when_ready, when the goods are expected."
    )
    when_ready: bool = Field(
        default=False,
        description="Charged when the goods are ready to ship (expected at charge_at), never before a day's notice.",
    )


class OrderCancelled(OrderEvent):
    """An order (or what was left of it) was cancelled; ``refund`` is what goes back to the customer."""

    TYPE: ClassVar[str] = "orders.order.cancelled.v1"
    order_id: str
    customer: Customer
    reason: str
    refund: int
    currency: str
