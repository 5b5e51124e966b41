"""What fulfillment subscribes to: each consumer translates a contract into a handler call, nothing more."""

from __future__ import annotations

from shop_contracts import fulfillment as contracts
from shop_contracts import orders
from shop_fulfillment import handlers
from shop_fulfillment.domain import Line
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import UnitOfWork


async def on_create_fulfillment_order(message: contracts.CreateFulfillmentOrder, uow: UnitOfWork) -> None:
    await handlers.create_fulfillment_order(
        uow,
        order_id=message.order_id,
        location=message.location,
        lines=[Line(sku=line.sku, quantity=line.quantity, location=line.location) for line in message.lines],
        shipping_address=message.shipping_address,
        shipping_method=message.shipping_method,
        group_id=message.group_id,
    )


async def on_cancel_fulfillment_order(message: contracts.CancelFulfillmentOrder, uow: UnitOfWork) -> None:
    await handlers.cancel_fulfillment_order(
        uow,
        order_id=message.order_id,
        group_id=message.group_id,
        location=message.location,
        lines=[Line(sku=line.sku, quantity=line.quantity, location=line.location) for line in message.lines],
        reason=message.reason,
        shipping_address=message.shipping_address,
    )


async def on_return_approved(message: orders.ReturnApproved, uow: UnitOfWork) -> None:
    await handlers.create_return_label(
        uow,
        return_id=message.return_id,
        order_id=message.order_id,
        customer=message.customer,
        lines=message.lines,
    )


SUBSCRIPTIONS: Subscriptions = {
    contracts.CreateFulfillmentOrder: on_create_fulfillment_order,
    contracts.CancelFulfillmentOrder: on_cancel_fulfillment_order,
    orders.ReturnApproved: on_return_approved,
}
