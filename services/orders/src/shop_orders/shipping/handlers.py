"""The warehouse's reports about an order's shipment groups (created, picked, short, packed, shipped,
delivered), applied as facts: whatever order they arrive in, and however often, the end state is the same.

Each report records its fact on the group once (a field set only while empty, under the order's lock); the
group's status follows the facts and only moves forward; a side effect (stock committed, the customer told, a
refund asked) is sent only by the step that first records its fact. The steps are the ``Order``'s methods. Reports carry the group, so one that arrives before
orders heard of its fulfillment order is applied at once; shipped and delivered carry the whole shipment,
so a delivered handled first records the shipment too.

A handler never commits: its edge does, once (the dispatcher, the scheduler, or `committed` for a request).
"""

from __future__ import annotations

from datetime import datetime

from shop_contracts.fulfillment import Shipment
from shop_contracts.values import LocatedLine
from shop_orders.core.groups import store
from shop_orders.core.repository import Orders, SqlOrders
from shop_orders.payment.terms import schedule_payment_overdue
from shop_runtime.database import UnitOfWork


async def record_fulfillment_created(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    location: str,
    group_id: str | None,
    orders: Orders | None = None,
) -> None:
    """Fulfillment opened pick work for a group; a group cancelled meanwhile stays cancelled."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.reported_group(
        fulfillment_id=fulfillment_id, group_id=group_id, location=location if group_id is None else None
    )
    order.record_pick_requested(group, location=location)
    await store(uow, order, orders)


async def record_pick(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    short_lines: list[LocatedLine],
    now: datetime,
    orders: Orders | None = None,
) -> None:
    """The warehouse picked a group, possibly fewer units than asked (a short pick)."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    order.record_pick(
        order.reported_group(fulfillment_id=fulfillment_id, group_id=group_id), short_lines, now=now
    )
    await store(uow, order, orders)


async def record_packed(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    now: datetime,
    orders: Orders | None = None,
) -> None:
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    order.record_packed(order.reported_group(fulfillment_id=fulfillment_id, group_id=group_id), now=now)
    await store(uow, order, orders)


async def record_shipment(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    shipment: Shipment,
    now: datetime,
    orders: Orders | None = None,
) -> None:
    """A shipment left: take its units out of stock, tell the customer, and move the order on. An order on
    on-fulfillment terms is due from its first shipment on."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.reported_group(fulfillment_id=fulfillment_id, group_id=group_id)
    if order.record_shipment(group, shipment, now=now):
        await schedule_payment_overdue(uow, order_id=order_id, due_date=now.date())
    await store(uow, order, orders)


async def record_delivery(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    shipment: Shipment | None,
    now: datetime,
    orders: Orders | None = None,
) -> None:
    """The carrier delivered a shipment. Handled before its shipped report, it records the shipment first
    from what it carries; a delivered report without it waits as a fact that the shipped report completes."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.reported_group(fulfillment_id=fulfillment_id, group_id=group_id)
    if shipment is not None and group.shipped_at is None and order.record_shipment(group, shipment, now=now):
        await schedule_payment_overdue(uow, order_id=order_id, due_date=now.date())
    order.record_delivery(group, now=now)
    await store(uow, order, orders)
