"""What every capability's handlers share around the order aggregate: saving an order and publishing what its
steps sent (``store``), rejecting an order with its discount code freed, and the timeline fact that the customer
was told."""

from __future__ import annotations

from shop_orders.core import repository
from shop_orders.core.order import Order
from shop_orders.core.repository import Orders, SqlOrders
from shop_runtime.database import UnitOfWork


async def record_notification(uow: UnitOfWork, *, order_id: str, template: str, channel: str) -> None:
    """The customer was told: a fact on the order's timeline (the order itself does not change). Notifications
    announces every email it sent, also those about no order (a waitlist entry, a staff alert): those are not
    orders' to record. An email about an order is sent only after the order was stored, so an id that names no
    order never will."""
    if not await repository.lock_order_row(uow.session, order_id):
        return
    await repository.add_to_timeline(
        uow.session, order_id, "customer_notified", template=template, channel=channel
    )


async def store(uow: UnitOfWork, order: Order, orders: Orders | None = None) -> None:
    """Save what the order's steps changed and publish the messages they sent, in order."""
    await (orders or SqlOrders(uow.session)).save(order)
    for message in order.take_messages():
        uow.publish(message, subject=order.id)


async def reject_order(
    uow: UnitOfWork, order: Order, *, reason: str, detail: str, orders: Orders | None = None
) -> None:
    """Reject an order not yet accepted; a discount code it redeemed may be used again."""
    orders = orders or SqlOrders(uow.session)
    if order.reject(reason=reason, detail=detail):
        await orders.free_discount_code(order.id)
        await store(uow, order, orders)
