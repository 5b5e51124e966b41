"""Loading and saving fulfillment orders inside a unit of work.

``FulfillmentOrders`` is what a handler needs of storage; ``SqlFulfillmentOrders`` keeps them in PostgreSQL
(the handlers' default), and the handler tests give a fake that keeps them in memory.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_fulfillment.domain import FulfillmentOrder, FulfillmentStatus, Line, StatusReached
from shop_fulfillment.tables import fulfillment_events, fulfillment_orders


class FulfillmentOrders(Protocol):
    async def add_unless_present(
        self, order: FulfillmentOrder, *, shipping_address: dict[str, Any], shipping_method: str
    ) -> bool:
        """Add ``order``; False when its shipment group already has a fulfillment order."""

    async def lock(self, fulfillment_id: uuid.UUID) -> FulfillmentOrder | None:
        """Load a fulfillment order and hold it, so concurrent reports about it apply one at a time."""

    async def lock_group(self, *, order_id: str, group_key: str) -> FulfillmentOrder | None:
        """The fulfillment order of one shipment group of an order, held like ``lock``."""

    async def save(self, order: FulfillmentOrder) -> None:
        """Write the order back, with the events it recorded."""

    async def add_to_timeline(self, events: list[StatusReached]) -> None:
        """Keep the steps reached, for the order's timeline."""


class SqlFulfillmentOrders:
    """Fulfillment orders in PostgreSQL, in the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_unless_present(
        self, order: FulfillmentOrder, *, shipping_address: dict[str, Any], shipping_method: str
    ) -> bool:
        result = await self._session.execute(
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

    async def lock(self, fulfillment_id: uuid.UUID) -> FulfillmentOrder | None:
        return await self._locked(fulfillment_orders.c.id == fulfillment_id)

    async def lock_group(self, *, order_id: str, group_key: str) -> FulfillmentOrder | None:
        return await self._locked(
            sa.and_(fulfillment_orders.c.order_id == order_id, fulfillment_orders.c.group_key == group_key)
        )

    async def _locked(self, where: sa.ColumnElement[bool]) -> FulfillmentOrder | None:
        row = (
            await self._session.execute(sa.select(fulfillment_orders).where(where).with_for_update())
        ).first()
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

    async def save(self, order: FulfillmentOrder) -> None:
        await self._session.execute(
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
        await self.add_to_timeline(order.events)

    async def add_to_timeline(self, events: list[StatusReached]) -> None:
        if events:
            await self._session.execute(
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


def _lines(stored: list[dict[str, Any]]) -> list[Line]:
    return [Line(sku=line["sku"], quantity=line["quantity"], location=line["location"]) for line in stored]


def _stored(lines: list[Line]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity, "location": line.location} for line in lines]
