"""The steps every capability takes on an order's shipment groups: load, add, move a group forward, release it to
the warehouse, reject an order, and the customer and line details that messages carry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from shop_contracts.values import (
    Customer,
    LocatedLine,
)
from shop_orders.core import repository
from shop_orders.core.domain import (
    GroupStatus,
)
from shop_orders.core.order import Order
from shop_orders.core.parts import ShipmentGroup
from shop_orders.core.repository import Orders, SqlOrders, group_of
from shop_orders.core.tables import (
    shipment_groups,
)
from shop_runtime.database import UnitOfWork


async def record_notification(uow: UnitOfWork, *, order_id: str, template: str, channel: str) -> None:
    await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(
        uow.session, order_id, "customer_notified", template=template, channel=channel
    )


async def store(uow: UnitOfWork, order: Order, orders: Orders | None = None) -> None:
    """Save what the order's steps changed and publish the messages they sent, in order."""
    await (orders or SqlOrders(uow.session)).save(order)
    for message in order.take_messages():
        uow.publish(message, subject=order.id)


async def advance(uow: UnitOfWork, order: Order, group: ShipmentGroup) -> None:
    """Move a group of an accepted order on: charge its balance first if it has one, else release it."""
    order.advance(group)
    await store(uow, order)


async def release_group(uow: UnitOfWork, order: Order, group: ShipmentGroup) -> None:
    order.release(group)
    await store(uow, order)


async def add_group(
    uow: UnitOfWork,
    order_id: str,
    *,
    kind: str,
    location: str,
    lines: list[LocatedLine],
    status: GroupStatus,
    group_id: str | None = None,
    balance_amount: int = 0,
    expected_ship_date: date | None = None,
    balance_due_at: datetime | None = None,
) -> ShipmentGroup:
    row = (
        await uow.session.execute(
            insert(shipment_groups)
            .values(
                id=group_id or str(uuid.uuid4()),
                order_id=order_id,
                kind=kind,
                location=location,
                status=status.value,
                lines=[line.model_dump() for line in lines],
                balance_amount=balance_amount,
                expected_ship_date=expected_ship_date,
                balance_due_at=balance_due_at,
            )
            .returning(*shipment_groups.c)
        )
    ).one()
    return group_of(row._mapping)


async def load_group(uow: UnitOfWork, group_id: str) -> ShipmentGroup | None:
    row = (
        await uow.session.execute(sa.select(shipment_groups).where(shipment_groups.c.id == group_id))
    ).first()
    return None if row is None else group_of(row._mapping)


async def groups_in(uow: UnitOfWork, order_id: str, *statuses: GroupStatus) -> list[ShipmentGroup]:
    rows = await uow.session.execute(
        sa.select(shipment_groups)
        .where(
            shipment_groups.c.order_id == order_id, shipment_groups.c.status.in_([s.value for s in statuses])
        )
        .order_by(shipment_groups.c.created_at, shipment_groups.c.id)
    )
    return [group_of(row._mapping) for row in rows]


async def set_group_status(uow: UnitOfWork, group_id: str, *, status: GroupStatus, **values: Any) -> None:
    await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group_id)
        .values(status=status.value, updated_at=sa.func.now(), **values)
    )


async def reject_order(
    uow: UnitOfWork, order: Order, *, reason: str, detail: str, orders: Orders | None = None
) -> None:
    """Reject an order not yet accepted; a discount code it redeemed may be used again."""
    orders = orders or SqlOrders(uow.session)
    if order.reject(reason=reason, detail=detail):
        await orders.free_discount_code(order.id)
        await store(uow, order, orders)


def customer_of(order: Order) -> Customer:
    return order.customer
