"""Loading and saving fulfillment orders inside a unit of work.

``FulfillmentOrders`` is what a handler needs of storage; ``SqlFulfillmentOrders`` keeps them in PostgreSQL
(the handlers' default), and the handler tests give a fake that keeps them in memory.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from shop_fulfillment.domain import FulfillmentOrder, FulfillmentStatus, Line, StatusReached
from shop_fulfillment.tables import fulfillment_orders


class FulfillmentOrders(Protocol):
    async def add_unless_present(
        self, order: FulfillmentOrder, *, shipping_address: dict[str, Any], shipping_method: str
    ) -> bool:
        """Add ``order`` with its status as the first step of its timeline; False (and nothing added) when its
        shipment group already has a fulfillment order."""

    async def lock(self, fulfillment_id: uuid.UUID) -> FulfillmentOrder | None:
        """Load a fulfillment order and hold it, so concurrent reports about it apply one at a time."""

    async def lock_group(self, *, order_id: str, group_key: str) -> FulfillmentOrder | None:
        """The fulfillment order of one shipment group of an order, held like ``lock``."""

    async def save(self, order: FulfillmentOrder) -> None:
        """Write the order back, with the steps it reached on its timeline."""


class SqlFulfillmentOrders:
    """Fulfillment orders in PostgreSQL, in the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_unless_present(
        self, order: FulfillmentOrder, *, shipping_address: dict[str, Any], shipping_method: str
    ) -> bool:
        result = await self._session.execute(
            _ADDING,
            {
                "id": order.id,
                "order_id": order.order_id,
                "location": order.location,
                "group_key": order.group_id or order.location,
                "lines": _stored(order.lines),
                "shipping_address": shipping_address,
                "shipping_method": shipping_method,
                "status": order.status.value,
            },
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
            _SAVING,
            {
                "id": order.id,
                "status": order.status.value,
                "lines": _stored(order.lines),
                "short_lines": _stored(order.short_lines),
                "carrier": order.carrier,
                "tracking_number": order.tracking_number,
                "events": _timeline_rows(order.events),
            },
        )


def _timeline_rows(events: list[StatusReached]) -> list[dict[str, Any]]:
    return [
        {
            "fulfillment_id": str(event.fulfillment_id),
            "type": event.status.value,
            "carrier": event.carrier,
            "tracking_number": event.tracking_number,
        }
        for event in events
    ]


_ADDING = (
    sa.text(
        "WITH added AS (INSERT INTO fulfillment_orders"
        " (id, order_id, location, group_key, lines, shipping_address, shipping_method, status)"
        " VALUES (:id, :order_id, :location, :group_key, :lines, :shipping_address, :shipping_method, :status)"
        " ON CONFLICT (order_id, group_key) DO NOTHING RETURNING id, status),"
        " first_step AS (INSERT INTO fulfillment_events (fulfillment_id, type) SELECT id, status FROM added)"
        " SELECT id FROM added"
    )
    .bindparams(
        sa.bindparam("id", type_=fulfillment_orders.c.id.type),
        sa.bindparam("lines", type_=postgresql.JSONB),
        sa.bindparam("shipping_address", type_=postgresql.JSONB),
        sa.bindparam("order_id", type_=sa.Text),
        sa.bindparam("location", type_=sa.Text),
        sa.bindparam("group_key", type_=sa.Text),
        sa.bindparam("shipping_method", type_=sa.Text),
        sa.bindparam("status", type_=sa.Text),
    )
    .columns(fulfillment_orders.c.id)
)
"""A new fulfillment order and the first step of its timeline in one statement; no row when its shipment group
has one already. A text built once: the statement is the same for every order."""

_SAVING = sa.text(
    "WITH added_events AS (INSERT INTO fulfillment_events (fulfillment_id, type, carrier, tracking_number)"
    " SELECT e.fulfillment_id, e.type, e.carrier, e.tracking_number"
    " FROM jsonb_populate_recordset(NULL::fulfillment_events, :events) WITH ORDINALITY AS e"
    " ORDER BY e.ordinality)"
    " UPDATE fulfillment_orders SET status = :status, lines = :lines, short_lines = :short_lines,"
    " carrier = :carrier, tracking_number = :tracking_number, updated_at = now() WHERE id = :id"
).bindparams(
    sa.bindparam("id", type_=fulfillment_orders.c.id.type),
    sa.bindparam("status", type_=sa.Text),
    sa.bindparam("lines", type_=postgresql.JSONB),
    sa.bindparam("short_lines", type_=postgresql.JSONB),
    sa.bindparam("carrier", type_=sa.Text),
    sa.bindparam("tracking_number", type_=sa.Text),
    sa.bindparam("events", type_=postgresql.JSONB),
)
"""A fulfillment order written back with the steps it reached (its timeline, in order) in one statement."""


def _lines(stored: list[dict[str, Any]]) -> list[Line]:
    return [Line(sku=line["sku"], quantity=line["quantity"], location=line["location"]) for line in stored]


def _stored(lines: list[Line]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity, "location": line.location} for line in lines]
