"""Receiving catalog's allocation of units to a pre-order: into a group of its own, on to the balance."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from shop_orders.core import repository
from shop_orders.core.domain import (
    ACCEPTED,
    OrderStatus,
)
from shop_orders.core.groups import store
from shop_orders.core.tables import (
    cancellations,
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
    if order.group(allocation_id) is not None or order.status in (
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    ):
        return
    line = order.line(sku)
    group = order.allocate(line, allocation_id=allocation_id, location=location, quantity=quantity)
    await store(uow, order)
    if group is None:
        return
    cancelling = await uow.session.scalar(
        sa.select(sa.func.count()).where(
            cancellations.c.order_id == order_id, cancellations.c.status == "requested"
        )
    )
    # While a cancellation waits for fulfillment the new group waits too; the cancellation releases it.
    if order.status in ACCEPTED and not cancelling:
        if group.balance_amount > order.zero():
            await charge_after_notice(uow, order, group, line=line, now=now, notice=balance_notice)
        else:
            order.advance(group)
            await store(uow, order)
