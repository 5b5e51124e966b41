"""Read side of orders: one order as its customer and staff see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.values import PreorderPolicy
from shop_orders.domain import UnknownOrder
from shop_orders.tables import order_lines, order_timeline, orders, shipment_groups
from shop_runtime.preorder_pricing import balance_due_at


async def order_view(session: AsyncSession, order_id: str) -> dict[str, Any]:
    order = (await session.execute(sa.select(orders).where(orders.c.id == order_id))).first()
    if order is None:
        raise UnknownOrder(f"no order {order_id}", field="order_id")
    lines = await session.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
    )
    groups = await session.execute(
        sa.select(shipment_groups)
        .where(shipment_groups.c.order_id == order_id)
        .order_by(shipment_groups.c.created_at, shipment_groups.c.id)
    )
    timeline = await session.execute(
        sa.select(order_timeline).where(order_timeline.c.order_id == order_id).order_by(order_timeline.c.id)
    )
    line_views = [
        {
            "sku": line.sku,
            "title": line.title,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "line_total": line.line_total,
            "early_bird_percent_off": line.percent_off,
            "kind": line.kind,
            "queue_position": line.queue_position,
            "expected_ship_date": line.expected_ship_date,
            "paid_now": line.paid_now,
            "balance": line.balance,
            "units_allocated": line.units_allocated,
            "balance_charged_at": _balance_charged_at(line, order.created_at),
        }
        for line in lines
    ]
    group_views = [
        {
            "id": group.id,
            "kind": group.kind,
            "location": group.location,
            "status": group.status,
            "lines": group.lines,
            "balance": group.balance_amount,
            "balance_due_at": group.balance_due_at,
            "expected_ship_date": group.expected_ship_date,
            "fulfillment_id": group.fulfillment_id,
        }
        for group in groups
    ]
    waiting = [
        {
            "sku": line["sku"],
            "quantity": line["quantity"] - line["units_allocated"],
            "queue_position": line["queue_position"],
            "expected_ship_date": line["expected_ship_date"],
        }
        for line in line_views
        if line["kind"] == "preorder" and line["quantity"] > line["units_allocated"]
    ]
    return {
        "id": order.id,
        "status": order.status,
        "status_reason": order.status_reason,
        "email": order.email,
        "locale": order.locale,
        "currency": order.currency,
        "lines": line_views,
        "totals": {"subtotal": order.subtotal, "shipping": order.shipping, "total": order.total},
        "charged_at_checkout": order.charged_now,
        "shipping_address": order.shipping_address,
        "shipping_method": order.shipping_method,
        "shipment_groups": group_views,
        "waiting_preorders": waiting,
        "timeline": [{"at": entry.at, "event": entry.event, "detail": entry.detail} for entry in timeline],
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def _balance_charged_at(line: Row[Any], ordered_at: datetime) -> datetime | str | None:
    """When a pre-order line's balance is charged: a time, "on_ready" (when its units are allocated, after a
    reminder), or None when nothing is left to pay later."""
    if line.kind != "preorder" or line.balance == 0 or line.preorder_policy is None:
        return None
    return balance_due_at(PreorderPolicy.model_validate(line.preorder_policy), ordered_at) or "on_ready"
