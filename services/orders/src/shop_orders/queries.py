"""Read side of orders: one order as its customer and staff see it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.domain import UnknownOrder
from shop_orders.tables import order_fulfillments, order_lines, order_timeline, orders


async def order_view(session: AsyncSession, order_id: str) -> dict[str, Any]:
    order = (await session.execute(sa.select(orders).where(orders.c.id == order_id))).first()
    if order is None:
        raise UnknownOrder(f"no order {order_id}", field="order_id")
    lines = await session.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
    )
    fulfillments = await session.execute(
        sa.select(order_fulfillments)
        .where(order_fulfillments.c.order_id == order_id)
        .order_by(order_fulfillments.c.location)
    )
    timeline = await session.execute(
        sa.select(order_timeline).where(order_timeline.c.order_id == order_id).order_by(order_timeline.c.id)
    )
    return {
        "id": order.id,
        "status": order.status,
        "status_reason": order.status_reason,
        "email": order.email,
        "locale": order.locale,
        "currency": order.currency,
        "lines": [
            {
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.line_total,
            }
            for line in lines
        ],
        "totals": {"subtotal": order.subtotal, "shipping": order.shipping, "total": order.total},
        "shipping_address": order.shipping_address,
        "shipping_method": order.shipping_method,
        "fulfillments": [
            {
                "id": f.fulfillment_id,
                "location": f.location,
                "status": f.status,
                "carrier": f.carrier,
                "tracking_number": f.tracking_number,
            }
            for f in fulfillments
        ],
        "timeline": [{"at": entry.at, "event": entry.event, "detail": entry.detail} for entry in timeline],
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }
