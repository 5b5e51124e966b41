"""Read-only views of fulfillment: the warehouse's pick list and each order's shipments with their timeline."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_fulfillment.domain import AWAITING_WAREHOUSE, UnknownFulfillment
from shop_fulfillment.tables import fulfillment_events, fulfillment_orders


async def pick_requests(session: AsyncSession, *, location: str, limit: int) -> list[dict[str, Any]]:
    """Fulfillment orders at ``location`` the warehouse still has to pick, pack or ship, oldest first."""
    rows = await session.execute(
        sa.select(fulfillment_orders)
        .where(
            fulfillment_orders.c.location == location,
            fulfillment_orders.c.status.in_([status.value for status in AWAITING_WAREHOUSE]),
        )
        .order_by(fulfillment_orders.c.created_at, fulfillment_orders.c.id)
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "order_id": row.order_id,
            "location": row.location,
            "status": row.status,
            "lines": row.lines,
            "shipping_address": row.shipping_address,
            "shipping_method": row.shipping_method,
            "created_at": row.created_at,
        }
        for row in rows
    ]


async def fulfillments_of_order(session: AsyncSession, order_id: str) -> list[dict[str, Any]]:
    return await _fulfillments(session, fulfillment_orders.c.order_id == order_id)


async def get_fulfillment(session: AsyncSession, fulfillment_id: uuid.UUID) -> dict[str, Any]:
    found = await _fulfillments(session, fulfillment_orders.c.id == fulfillment_id)
    if not found:
        raise UnknownFulfillment(f"no fulfillment order {fulfillment_id}", fields=("fulfillment_id",))
    return found[0]


async def _fulfillments(session: AsyncSession, where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    orders = (
        await session.execute(
            sa.select(fulfillment_orders)
            .where(where)
            .order_by(fulfillment_orders.c.created_at, fulfillment_orders.c.id)
        )
    ).all()
    if not orders:
        return []
    events = await session.execute(
        sa.select(fulfillment_events)
        .where(fulfillment_events.c.fulfillment_id.in_([order.id for order in orders]))
        .order_by(fulfillment_events.c.id)
    )
    timelines: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for event in events:
        timelines.setdefault(event.fulfillment_id, []).append(
            {
                "type": event.type,
                "at": event.at,
                "carrier": event.carrier,
                "tracking_number": event.tracking_number,
            }
        )
    return [
        {
            "id": order.id,
            "order_id": order.order_id,
            "location": order.location,
            "status": order.status,
            "lines": order.lines,
            "shipping_address": order.shipping_address,
            "shipping_method": order.shipping_method,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "events": timelines.get(order.id, []),
        }
        for order in orders
    ]
