"""Messages owned by fulfillment: fulfillment orders, pick work for warehouses, shipments."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import (
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    WAREHOUSE_EXCHANGE,
    warehouse_routing_key,
)
from shop_contracts.values import Address, Customer, LocatedLine, Value


class CreateFulfillmentOrder(Message):
    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.create.v1"
    order_id: str
    location: str
    lines: list[LocatedLine] = Field(min_length=1)
    shipping_address: Address
    shipping_method: str
    group_id: str | None = Field(
        default=None,
        description="The order's shipment group; one fulfillment order per group (else per location).",
    )


class FulfillmentEvent(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "fulfillment"
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE


def _group_id() -> Any:
    return Field(
        default=None,
        description="The order's shipment group this fulfillment order serves (None for one opened before groups "
        "had ids): orders applies the report even when it has not yet heard that the fulfillment order exists.",
    )


def _short_lines() -> Any:
    return Field(
        default_factory=list,
        description="The units the warehouse could not pick (they will not ship), as reported with picked.",
    )


class FulfillmentOrderCreated(FulfillmentEvent):
    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.created.v1"
    fulfillment_id: str
    order_id: str
    location: str
    group_id: str | None = None


class PickRequested(FulfillmentEvent):
    """Pick work for the warehouse at ``location``; warehouse systems bind ``pick.<location>``."""

    EXCHANGE: ClassVar[str] = WAREHOUSE_EXCHANGE
    TYPE: ClassVar[str] = "fulfillment.pick.requested.v1"
    fulfillment_id: str
    order_id: str
    location: str
    lines: list[LocatedLine]
    shipping_address: Address
    shipping_method: str

    def routing_key(self) -> str:
        return warehouse_routing_key(self.location)


class FulfillmentPicked(FulfillmentEvent):
    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.picked.v1"
    fulfillment_id: str
    order_id: str
    group_id: str | None = _group_id()
    short_lines: list[LocatedLine] = Field(
        default_factory=list,
        description="A short pick: the units of each line the warehouse could not pick; they will not ship.",
    )


class FulfillmentPacked(FulfillmentEvent):
    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.packed.v1"
    fulfillment_id: str
    order_id: str
    group_id: str | None = _group_id()


class ShipmentShipped(FulfillmentEvent):
    """A parcel left: ``lines`` are the units in it; it carries the pick's short lines too, so a consumer that
    handles it before the picked report still knows the whole shipment."""

    TYPE: ClassVar[str] = "fulfillment.shipment.shipped.v1"
    fulfillment_id: str
    order_id: str
    location: str
    lines: list[LocatedLine]
    carrier: str
    tracking_number: str
    group_id: str | None = _group_id()
    short_lines: list[LocatedLine] = _short_lines()


class Shipment(Value):
    """What left in one parcel, as ``ShipmentShipped`` said it."""

    location: str
    lines: list[LocatedLine]
    carrier: str
    tracking_number: str
    short_lines: list[LocatedLine] = Field(default_factory=list)


class ShipmentDelivered(FulfillmentEvent):
    TYPE: ClassVar[str] = "fulfillment.shipment.delivered.v1"
    fulfillment_id: str
    order_id: str
    group_id: str | None = _group_id()
    shipment: Shipment | None = Field(
        default=None,
        description="The shipment delivered, as shipped said it: a consumer that handles delivered before "
        "shipped records the shipment from it.",
    )


class CancelFulfillmentOrder(Message):
    """Stop a shipment group before it leaves: cancelled while unpacked, refused once packed or shipped.

    Sent per shipment group; a group whose fulfillment order does not exist yet is cancelled ahead of it.
    """

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.cancel.v1"
    order_id: str
    group_id: str
    location: str
    lines: list[LocatedLine] = Field(min_length=1)
    shipping_address: Address
    reason: str


class FulfillmentCancelled(FulfillmentEvent):
    """A shipment group will not ship; ``fulfillment_id`` is None when it was cancelled before it opened."""

    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.cancelled.v1"
    order_id: str
    group_id: str
    fulfillment_id: str | None = None


class FulfillmentCancelRefused(FulfillmentEvent):
    """The warehouse already packed or shipped the group: it cannot be stopped, only returned."""

    TYPE: ClassVar[str] = "fulfillment.fulfillment_order.cancel_refused.v1"
    order_id: str
    group_id: str
    fulfillment_id: str
    status: str = Field(description="Where the fulfillment order is: packed, shipped or delivered")


class PickCancelled(FulfillmentEvent):
    """Pick work the warehouse at ``location`` must drop (the customer cancelled); bound like pick requests."""

    EXCHANGE: ClassVar[str] = WAREHOUSE_EXCHANGE
    TYPE: ClassVar[str] = "fulfillment.pick.cancelled.v1"
    fulfillment_id: str
    order_id: str
    location: str
    reason: str

    def routing_key(self) -> str:
        return warehouse_routing_key(self.location)


class ReturnLabelCreated(FulfillmentEvent):
    """The carrier made the label a customer sends an approved return with."""

    TYPE: ClassVar[str] = "fulfillment.return.label_created.v1"
    return_id: str
    order_id: str
    customer: Customer
    carrier: str
    label_id: str
    tracking_number: str
    label_url: str


class ReturnedLine(Value):
    sku: str
    quantity: int = Field(gt=0)
    location: str
    condition: Literal["resellable", "damaged"]


class ReturnReceived(FulfillmentEvent):
    """The warehouse received and inspected a return: resellable units go back to stock, damaged are disposed."""

    TYPE: ClassVar[str] = "fulfillment.return.received.v1"
    return_id: str
    order_id: str
    lines: list[ReturnedLine] = Field(min_length=1)
