"""Loading and saving fulfillment orders inside a unit of work."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_fulfillment.domain import FulfillmentOrder, FulfillmentStatus, Line, StatusReached
from shop_fulfillment.tables import fulfillment_events, fulfillment_orders


async def add_unless_present(
    session: AsyncSession,
    order: FulfillmentOrder,
    *,
    shipping_address: dict[str, Any],
    shipping_method: str,
) -> bool:
    """Insert ``order``; False when its shipment group already has a fulfillment order."""
    result = await session.execute(
        insert(fulfillment_orders)
        .values(
            id=order.id,
            order_id=order.order_id,
            location=order.location,
            group_key=order.group_id or order.location,
            lines=_stored(order.lines),
            shipping_address=shipping_address,
            shipping_method=shipping_method,
            status=order.status.value,
        )
        .on_conflict_do_nothing(index_elements=["order_id", "group_key"])
        .returning(fulfillment_orders.c.id)
    )
    return result.first() is not None


async def lock(session: AsyncSession, fulfillment_id: uuid.UUID) -> FulfillmentOrder | None:
    """Load a fulfillment order and hold its row, so concurrent reports about it apply one at a time."""
    return await _locked(session, fulfillment_orders.c.id == fulfillment_id)


async def lock_group(session: AsyncSession, *, order_id: str, group_key: str) -> FulfillmentOrder | None:
    """The fulfillment order of one shipment group of an order, held like ``lock``."""
    return await _locked(
        session,
        sa.and_(fulfillment_orders.c.order_id == order_id, fulfillment_orders.c.group_key == group_key),
    )


async def _locked(session: AsyncSession, where: sa.ColumnElement[bool]) -> FulfillmentOrder | None:
    row = (await session.execute(sa.select(fulfillment_orders).where(where).with_for_update())).first()
    if row is None:
        return None
    return FulfillmentOrder(
        id=row.id,
        order_id=row.order_id,
        location=row.location,
        lines=_lines(row.lines),
        group_id=row.group_key,
        status=FulfillmentStatus(row.status),
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        short_lines=_lines(row.short_lines),
    )


def _lines(stored: list[dict[str, Any]]) -> list[Line]:
    return [Line(sku=line["sku"], quantity=line["quantity"], location=line["location"]) for line in stored]


def _stored(lines: list[Line]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity, "location": line.location} for line in lines]


async def save(session: AsyncSession, order: FulfillmentOrder) -> None:
    """Write the order's status back, with the events it recorded."""
    await session.execute(
        sa.update(fulfillment_orders)
        .where(fulfillment_orders.c.id == order.id)
        .values(
            status=order.status.value,
            lines=_stored(order.lines),
            short_lines=_stored(order.short_lines),
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            updated_at=sa.func.now(),
        )
    )
    await add_to_timeline(session, order.events)


async def add_to_timeline(session: AsyncSession, events: list[StatusReached]) -> None:
    if events:
        await session.execute(
            sa.insert(fulfillment_events),
            [
                {
                    "fulfillment_id": event.fulfillment_id,
                    "type": event.status.value,
                    "carrier": event.carrier,
                    "tracking_number": event.tracking_number,
                }
                for event in events
            ],
        )
