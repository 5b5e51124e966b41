"""Receiving catalog's allocation of units to a pre-order: into a group of its own, on to the balance."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from shop_contracts.values import LocatedLine
from shop_orders.core import repository
from shop_orders.core.domain import (
    ACCEPTED,
    UNALLOCATED,
    GroupStatus,
    OrderStatus,
)
from shop_orders.core.groups import add_group, advance, load_group, release_group, sku_of
from shop_orders.core.order import Order
from shop_orders.core.parts import OrderLine, ShipmentGroup
from shop_orders.core.pricing import balance_for_units
from shop_orders.core.repository import group_of
from shop_orders.core.tables import (
    cancellations,
    order_lines,
    orders,
    shipment_groups,
)
from shop_orders.payment.balances import charge_after_notice
from shop_runtime.database import UnitOfWork


async def receive_preorder_allocation(
    uow: UnitOfWork,
    *,
    order_id: str,
    allocation_id: str,
    sku: str,
    location: str,
    quantity: int,
    now: datetime,
    balance_notice: timedelta,
) -> None:
    """Received stock was allocated to this order's pre-order: its units become a shipment group whose
    share of the balance is charged (when the balance is due on readiness) before it ships, no sooner than
    ``balance_notice`` after the customer was reminded of it."""
    order = await repository.lock_order(uow.session, order_id)
    if await load_group(uow, allocation_id) is not None or OrderStatus(order.status) in (
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    ):
        return
    line = next(line for line in await repository.lines_of(uow.session, order_id) if line.sku == sku)
    units = min(quantity, line.quantity - line.units_allocated)
    scheduled = await _unallocated_group(uow, order_id, sku)
    if scheduled is not None and units > 0:
        await _allocate_to_scheduled_group(
            uow, order, scheduled, allocation_id=allocation_id, line=line, location=location, units=units
        )
        return
    balance = balance_for_units(
        balance_left=line.balance - line.balance_assigned,
        units_left=line.quantity - line.units_allocated,
        units=units,
    )
    if order.shipping_deferred:
        balance += order.shipping  # pay later: shipping is charged with the first balance
        await uow.session.execute(
            sa.update(orders).where(orders.c.id == order_id).values(shipping_deferred=False)
        )
    await uow.session.execute(
        sa.update(order_lines)
        .where(order_lines.c.order_id == order_id, order_lines.c.sku == sku)
        .values(
            units_allocated=line.units_allocated + units, balance_assigned=line.balance_assigned + balance
        )
    )
    group = await add_group(
        uow,
        order_id,
        kind="preorder",
        location=location,
        lines=[LocatedLine(sku=sku, quantity=units, location=location)],
        status=GroupStatus.AWAITING_CONFIRMATION,
        group_id=allocation_id,
        balance_amount=balance,
        expected_ship_date=line.expected_ship_date,
    )
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "preorder_allocated",
        group_id=allocation_id,
        sku=sku,
        quantity=units,
        location=location,
    )
    cancelling = await uow.session.scalar(
        sa.select(sa.func.count()).where(
            cancellations.c.order_id == order_id, cancellations.c.status == "requested"
        )
    )
    # While a cancellation waits for fulfillment the new group waits too; the cancellation releases it.
    if OrderStatus(order.status) in ACCEPTED and not cancelling:
        if group.balance_amount > 0:
            await charge_after_notice(uow, order, group, line=line, now=now, notice=balance_notice)
        else:
            await advance(uow, order, group)


async def _unallocated_group(uow: UnitOfWork, order_id: str, sku: str) -> ShipmentGroup | None:
    """The group of a line whose balance is due by the clock, while units of it still wait for stock."""
    rows = await uow.session.execute(
        sa.select(shipment_groups).where(
            shipment_groups.c.order_id == order_id,
            shipment_groups.c.location == UNALLOCATED,
            shipment_groups.c.status != GroupStatus.CANCELLED.value,
        )
    )
    return next(
        (group for group in map(group_of, (row._mapping for row in rows)) if sku_of(group) == sku), None
    )


async def _allocate_to_scheduled_group(
    uow: UnitOfWork,
    order: Order,
    group: ShipmentGroup,
    *,
    allocation_id: str,
    line: OrderLine,
    location: str,
    units: int,
) -> None:
    """Received units of a line whose balance is due by the clock: the last of them take the line's group
    (a partial allocation before that gets a group of its own, owing nothing); either ships as soon as the
    line's balance is paid, at once if it already is."""
    await uow.session.execute(
        sa.update(order_lines)
        .where(order_lines.c.order_id == order.id, order_lines.c.sku == line.sku)
        .values(units_allocated=line.units_allocated + units)
    )
    await repository.add_to_timeline(
        uow.session,
        order.id,
        "preorder_allocated",
        group_id=allocation_id,
        sku=line.sku,
        quantity=units,
        location=location,
    )
    placed = LocatedLine(sku=line.sku, quantity=units, location=location)
    paid = GroupStatus(group.status) is GroupStatus.PAID_AWAITING_STOCK
    waiting = int(group.lines[0]["quantity"])
    if units >= waiting:
        await uow.session.execute(
            sa.update(shipment_groups)
            .where(shipment_groups.c.id == group.id)
            .values(location=location, lines=[placed.model_dump()], updated_at=sa.func.now())
        )
        allocated = await load_group(uow, group.id)
        if paid and allocated is not None:
            await release_group(uow, order, allocated)
        return
    left = LocatedLine(sku=line.sku, quantity=waiting - units, location=UNALLOCATED)
    await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group.id)
        .values(lines=[left.model_dump()], updated_at=sa.func.now())
    )
    part = await add_group(
        uow,
        order.id,
        kind="preorder",
        location=location,
        lines=[placed],
        status=GroupStatus.AWAITING_LINE_BALANCE,
        group_id=allocation_id,
        expected_ship_date=line.expected_ship_date,
    )
    if paid:
        await release_group(uow, order, part)
