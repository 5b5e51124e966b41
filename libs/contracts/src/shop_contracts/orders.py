"""Events owned by orders: the life of an order as the saga moves it."""

from __future__ import annotations

from typing import ClassVar, Literal

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import EVENTS_EXCHANGE
from shop_contracts.values import Address, Customer, PricedLine


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
