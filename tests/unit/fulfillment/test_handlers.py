"""Fulfillment's saga steps as handlers, with a fake repository and unit of work (no database, no broker).

Each test drives the real handler as the dispatcher would and checks what a warehouse and orders would see:
the messages published and the fulfillment order as stored. The same steps run against PostgreSQL and
RabbitMQ in the integration and system tests; these pin the decisions, fast.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from shop_contracts import fulfillment as contracts
from shop_contracts.values import Address, LocatedLine
from shop_fulfillment import handlers
from shop_fulfillment.domain import (
    FulfillmentOrder,
    FulfillmentStatus,
    Line,
    OutOfOrderReport,
    StatusReached,
    UnknownFulfillment,
)
from tests.support.fakes import FakeUnitOfWork

ADDRESS = Address(name="김민수", line1="테헤란로 1", city="Seoul", postal_code="06236", country="KR")
LINES = [Line(sku="TEE-M", quantity=2, location="seoul-1"), Line(sku="CAP", quantity=1, location="seoul-1")]


class FakeFulfillmentOrders:
    """Fulfillment orders in memory. Like the database, each load is a fresh copy: what a handler changes is
    kept only when it saves, and the events it recorded go to the timeline."""

    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, FulfillmentOrder] = {}
        self.timeline: list[StatusReached] = []

    async def add_unless_present(
        self, order: FulfillmentOrder, *, shipping_address: dict[str, Any], shipping_method: str
    ) -> bool:
        group_key = order.group_id or order.location
        if await self.lock_group(order_id=order.order_id, group_key=group_key) is not None:
            return False
        self.stored[order.id] = dataclasses.replace(order, group_id=group_key, events=[])
        await self.add_to_timeline([StatusReached(fulfillment_id=order.id, status=order.status)])
        return True

    async def lock(self, fulfillment_id: uuid.UUID) -> FulfillmentOrder | None:
        order = self.stored.get(fulfillment_id)
        return None if order is None else _loaded(order)

    async def lock_group(self, *, order_id: str, group_key: str) -> FulfillmentOrder | None:
        for order in self.stored.values():
            if (order.order_id, order.group_id) == (order_id, group_key):
                return _loaded(order)
        return None

    async def save(self, order: FulfillmentOrder) -> None:
        self.stored[order.id] = dataclasses.replace(order, events=[])
        await self.add_to_timeline(order.events)

    async def add_to_timeline(self, events: list[StatusReached]) -> None:
        self.timeline += events

    def only(self) -> FulfillmentOrder:
        [order] = self.stored.values()
        return order


def _loaded(order: FulfillmentOrder) -> FulfillmentOrder:
    return dataclasses.replace(order, lines=list(order.lines), short_lines=list(order.short_lines), events=[])


async def created(orders: FakeFulfillmentOrders, *, group_id: str = "g-1") -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await handlers.create_fulfillment_order(
        uow,
        order_id="o-1",
        location="seoul-1",
        lines=list(LINES),
        shipping_address=ADDRESS,
        shipping_method="standard",
        group_id=group_id,
        fulfillment_orders=orders,
    )
    return uow


async def reported(
    orders: FakeFulfillmentOrders, status: FulfillmentStatus, **details: Any
) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await handlers.report_fulfillment_event(
        uow, fulfillment_id=orders.only().id, reported=status, fulfillment_orders=orders, **details
    )
    return uow


async def cancelled(orders: FakeFulfillmentOrders, *, group_id: str = "g-1") -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await handlers.cancel_fulfillment_order(
        uow,
        order_id="o-1",
        group_id=group_id,
        location="seoul-1",
        lines=list(LINES),
        reason="changed_mind",
        shipping_address=ADDRESS,
        fulfillment_orders=orders,
    )
    return uow


async def test_opening_a_fulfillment_order_hands_the_pick_to_the_warehouse_once() -> None:
    orders = FakeFulfillmentOrders()

    first = await created(orders)
    again = await created(orders)

    [pick] = first.of_type(contracts.PickRequested)
    assert (pick.order_id, pick.location, pick.routing_key()) == ("o-1", "seoul-1", "pick.seoul-1")
    assert pick.lines == [
        LocatedLine(sku="TEE-M", quantity=2, location="seoul-1"),
        LocatedLine(sku="CAP", quantity=1, location="seoul-1"),
    ]
    [opened] = first.of_type(contracts.FulfillmentOrderCreated)
    assert (opened.fulfillment_id, opened.group_id) == (pick.fulfillment_id, "g-1")
    assert again.published == []  # a repeated command opens nothing and tells nothing
    assert [event.status for event in orders.timeline] == [FulfillmentStatus.PICK_REQUESTED]


async def test_each_report_moves_one_step_and_announces_it_and_shipped_and_delivered_carry_the_shipment() -> (
    None
):
    orders = FakeFulfillmentOrders()
    await created(orders)

    picked = await reported(orders, FulfillmentStatus.PICKED)
    packed = await reported(orders, FulfillmentStatus.PACKED)
    shipped = await reported(orders, FulfillmentStatus.SHIPPED, carrier="CJ", tracking_number="CJ0001")
    delivered = await reported(orders, FulfillmentStatus.DELIVERED)

    assert [type(message) for message in picked.published] == [contracts.FulfillmentPicked]
    assert [type(message) for message in packed.published] == [contracts.FulfillmentPacked]
    [shipment] = shipped.of_type(contracts.ShipmentShipped)
    assert (shipment.carrier, shipment.tracking_number, shipment.group_id) == ("CJ", "CJ0001", "g-1")
    [arrived] = delivered.of_type(contracts.ShipmentDelivered)
    assert arrived.shipment is not None
    assert arrived.shipment.tracking_number == "CJ0001"  # so orders can apply it before the shipped report
    assert orders.only().status is FulfillmentStatus.DELIVERED


async def test_a_repeated_report_changes_nothing_and_a_skipped_step_is_refused() -> None:
    orders = FakeFulfillmentOrders()
    await created(orders)
    await reported(orders, FulfillmentStatus.PICKED)

    again = await reported(orders, FulfillmentStatus.PICKED)
    with pytest.raises(OutOfOrderReport):
        await reported(orders, FulfillmentStatus.SHIPPED, carrier="CJ", tracking_number="CJ0001")

    assert again.published == []
    assert orders.only().status is FulfillmentStatus.PICKED
    assert [event.status for event in orders.timeline] == [
        FulfillmentStatus.PICK_REQUESTED,
        FulfillmentStatus.PICKED,
    ]


async def test_a_short_pick_ships_what_was_picked_and_tells_orders_what_was_short() -> None:
    orders = FakeFulfillmentOrders()
    await created(orders)

    picked = await reported(orders, FulfillmentStatus.PICKED, picked={"TEE-M": 1})

    [message] = picked.of_type(contracts.FulfillmentPicked)
    assert message.short_lines == [LocatedLine(sku="TEE-M", quantity=1, location="seoul-1")]
    assert orders.only().lines == [Line("TEE-M", 1, "seoul-1"), Line("CAP", 1, "seoul-1")]


async def test_cancelling_before_packing_drops_the_pick_and_after_packing_is_refused() -> None:
    unpacked = FakeFulfillmentOrders()
    await created(unpacked)
    dropped = await cancelled(unpacked)
    assert [type(message) for message in dropped.published] == [
        contracts.PickCancelled,
        contracts.FulfillmentCancelled,
    ]
    assert (
        dropped.of_type(contracts.PickCancelled)[0].routing_key() == "pick.seoul-1"
    )  # the warehouse hears it
    with pytest.raises(OutOfOrderReport):
        await reported(unpacked, FulfillmentStatus.PICKED)

    packed = FakeFulfillmentOrders()
    await created(packed)
    await reported(packed, FulfillmentStatus.PICKED)
    await reported(packed, FulfillmentStatus.PACKED)
    refused = await cancelled(packed)
    [answer] = refused.of_type(contracts.FulfillmentCancelRefused)
    assert answer.status == FulfillmentStatus.PACKED.value
    assert packed.only().status is FulfillmentStatus.PACKED


async def test_a_cancel_that_overtakes_the_create_stops_the_group_before_it_opens() -> None:
    orders = FakeFulfillmentOrders()

    early = await cancelled(orders)
    late = await created(orders)

    [answer] = early.of_type(contracts.FulfillmentCancelled)
    assert answer.fulfillment_id is None  # nothing was opened
    assert late.published == []  # the create arriving later opens nothing and sends no pick
    assert orders.only().status is FulfillmentStatus.CANCELLED


async def test_a_report_about_an_unknown_fulfillment_is_refused() -> None:
    orders = FakeFulfillmentOrders()
    with pytest.raises(UnknownFulfillment):
        await handlers.report_fulfillment_event(
            FakeUnitOfWork(),
            fulfillment_id=uuid.uuid4(),
            reported=FulfillmentStatus.PICKED,
            fulfillment_orders=orders,
        )
