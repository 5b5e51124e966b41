"""Read side of orders: one order as its customer and staff see it, and whose order it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.money import Money
from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import payment_due_date
from shop_orders.core.errors import UnknownOrder
from shop_orders.core.pricing import included_tax
from shop_orders.core.tables import (
    draft_orders,
    order_lines,
    order_timeline,
    orders,
    shipment_groups,
)
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
    group_rows = list(groups)
    shipped: dict[str, int] = {}
    for group in group_rows:
        if group.status in ("shipped", "delivered"):
            for line in group.lines:
                shipped[line["sku"]] = shipped.get(line["sku"], 0) + int(line["quantity"])
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
            "quantity_shipped": shipped.get(line.sku, 0),
            "quantity_refunded": line.quantity_refunded,
            "promised_ship_date": line.promised_ship_date,
            "consent_awaited": line.consent_awaited,
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
            "short_lines": group.short_lines,
        }
        for group in group_rows
    ]
    waiting = [
        {
            "sku": line["sku"],
            "quantity": line["quantity"] - line["units_allocated"] - line["quantity_refunded"],
            "queue_position": line["queue_position"],
            "expected_ship_date": line["expected_ship_date"],
            "promised_ship_date": line["promised_ship_date"],
            "consent_awaited": line["consent_awaited"],
        }
        for line in line_views
        if line["kind"] == "preorder"
        and line["quantity"] - line["units_allocated"] - line["quantity_refunded"] > 0
    ]
    return {
        "id": order.id,
        "status": order.status,
        "status_reason": order.status_reason,
        "email": order.email,
        "locale": order.locale,
        "customer_id": order.customer_id,
        "currency": order.currency,
        "lines": line_views,
        "totals": {
            "subtotal": order.subtotal,
            "shipping": order.shipping,
            "discount": order.discount,
            "tax": order.tax_added
            if order.tax_added_on_top
            else included_tax(Money(order.total, order.currency), order.tax_rate).amount,
            "tax_included": not order.tax_added_on_top,
            "total": order.total,
        },
        "discount_code": order.discount_code,
        "tax_rate": order.tax_rate,
        "charged_at_checkout": order.charged_now,
        "shipping_address": order.shipping_address,
        "shipping_method": order.shipping_method,
        "shipment_groups": group_views,
        "waiting_preorders": waiting,
        "preorder_consent_awaited": any(line["consent_awaited"] for line in line_views),
        "timeline": [{"at": entry.at, "event": entry.event, "detail": entry.detail} for entry in timeline],
        "draft_order": await _draft_of(session, order_id),
        "payment_due": _payment_due(order),
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def _balance_charged_at(line: Row[Any], ordered_at: datetime) -> datetime | str | None:
    """When a pre-order line's balance is charged: a time, "on_ready" (when its units are allocated, after a
    reminder), or None when nothing is left to pay later."""
    if line.kind != "preorder" or line.balance == 0 or line.preorder_policy is None:
        return None
    return balance_due_at(PreorderPolicy.model_validate(line.preorder_policy), ordered_at) or "on_ready"


def _payment_due(order: Row[Any]) -> dict[str, Any] | None:
    """What an order on payment terms owes, by when, and whether it was paid; None for an order paid at
    checkout. The due date of on-fulfillment terms is set when the order first ships."""
    if order.payment_terms is None:
        return None
    return {
        "terms": order.payment_terms,
        "net_days": order.net_days,
        "amount": order.payment_due_amount,
        "currency": order.currency,
        "due_date": order.payment_due_date,
        # Nothing is owed for an order cancelled (or rejected) before it was paid.
        "status": "cancelled"
        if order.payment_status != "paid" and order.status in ("cancelled", "rejected")
        else order.payment_status,
        "paid_at": order.paid_at,
    }


async def _draft_of(session: AsyncSession, order_id: str) -> dict[str, Any] | None:
    """The draft an order came from: who paid how, and the payment terms the invoice gave."""
    draft = (
        await session.execute(sa.select(draft_orders).where(draft_orders.c.order_id == order_id))
    ).first()
    if draft is None:
        return None
    return {
        "id": draft.id,
        "paid_by": draft.paid_by,
        "payment_reference": draft.payment_reference,
        "payment_terms": {
            "type": draft.payment_terms,
            "net_days": draft.net_days,
            "due_date": payment_due_date(draft.payment_terms, draft.net_days, draft.invoice_sent_at),
        },
    }


async def customer_of_order(session: AsyncSession, order_id: str) -> str | None:
    """The account an order belongs to (None for a guest order); UnknownOrder when there is no such order."""
    row = (await session.execute(sa.select(orders.c.customer_id).where(orders.c.id == order_id))).first()
    if row is None:
        raise UnknownOrder(f"no order {order_id}", field="order_id")
    return row.customer_id  # type: ignore[no-any-return]
