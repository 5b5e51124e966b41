"""What notifications subscribes to: each consumer translates a contract into a handler call, nothing more."""

from __future__ import annotations

from shop_contracts import orders
from shop_contracts.values import Customer
from shop_notifications import handlers
from shop_notifications.domain import Money, OrderLine, Recipient, ShippingAddress
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import UnitOfWork


def _recipient(customer: Customer) -> Recipient:
    return Recipient(email=customer.email, locale=customer.locale)


async def on_order_confirmed(message: orders.OrderConfirmed, uow: UnitOfWork) -> None:
    address = message.shipping_address
    await handlers.notify_order_confirmed(
        uow,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        lines=[
            OrderLine(
                sku=line.sku,
                title=line.title,
                quantity=line.quantity,
                unit_price=Money(line.unit_price, message.currency),
                line_total=Money(line.line_total, message.currency),
            )
            for line in message.lines
        ],
        subtotal=Money(message.subtotal, message.currency),
        shipping=Money(message.shipping, message.currency),
        total=Money(message.total, message.currency),
        shipping_address=ShippingAddress(
            name=address.name,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=address.country,
        ),
    )


async def on_order_rejected(message: orders.OrderRejected, uow: UnitOfWork) -> None:
    await handlers.notify_order_rejected(
        uow, order_id=message.order_id, recipient=_recipient(message.customer), reason=message.reason
    )


async def on_order_shipped(message: orders.OrderShipped, uow: UnitOfWork) -> None:
    await handlers.notify_order_shipped(
        uow,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        carrier=message.carrier,
        tracking_number=message.tracking_number,
    )


async def on_order_delivered(message: orders.OrderDelivered, uow: UnitOfWork) -> None:
    await handlers.notify_order_delivered(
        uow, order_id=message.order_id, recipient=_recipient(message.customer)
    )


SUBSCRIPTIONS: Subscriptions = {
    orders.OrderConfirmed: on_order_confirmed,
    orders.OrderRejected: on_order_rejected,
    orders.OrderShipped: on_order_shipped,
    orders.OrderDelivered: on_order_delivered,
}
