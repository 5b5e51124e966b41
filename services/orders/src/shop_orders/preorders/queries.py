"""Read side of pre-order campaigns: the figures per SKU."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import ACCEPTED, OrderStatus
from shop_orders.core.tables import (
    catalog_variants,
    order_lines,
    orders,
    refund_outcomes,
)
from shop_orders.preorders.domain import SoldPreorderLine, campaign_metrics, rate
from shop_runtime.preorder_pricing import campaign_id


async def preorder_metrics(session: AsyncSession, *, sku: str | None, campaign: str | None) -> dict[str, Any]:
    """Pre-order sales of orders whose checkout was paid (cancelled ones included, as cancellations), per
    campaign, and the pre-order share of all such orders."""
    paid = [status.value for status in (*ACCEPTED, OrderStatus.CANCELLED)]
    all_orders = (
        await session.execute(sa.select(sa.func.count()).select_from(orders).where(orders.c.status.in_(paid)))
    ).scalar_one()
    query = (
        sa.select(
            order_lines.c.order_id,
            order_lines.c.sku,
            order_lines.c.quantity,
            order_lines.c.line_total,
            order_lines.c.preorder_policy,
            orders.c.status,
            orders.c.currency,
            catalog_variants.c.options,
        )
        .join(orders, orders.c.id == order_lines.c.order_id)
        .outerjoin(catalog_variants, catalog_variants.c.sku == order_lines.c.sku)
        .where(order_lines.c.kind == "preorder", orders.c.status.in_(paid))
    )
    if sku is not None:
        query = query.where(order_lines.c.sku == sku)
    lines = [
        SoldPreorderLine(
            order_id=row.order_id,
            campaign=campaign_id(
                row.sku, PreorderPolicy.model_validate(row.preorder_policy or {"payment_mode": "pay_now"})
            ),
            sku=row.sku,
            quantity=row.quantity,
            line_total=row.line_total,
            currency=row.currency,
            cancelled=row.status == OrderStatus.CANCELLED.value,
            options=dict(row.options or {}),
        )
        for row in await session.execute(query)
    ]
    if campaign is not None:
        lines = [line for line in lines if line.campaign == campaign]
    order_ids = sorted({line.order_id for line in lines})
    refunded: dict[str, int] = {}
    if order_ids:
        refund_rows = await session.execute(
            sa.select(refund_outcomes.c.order_id, sa.func.sum(refund_outcomes.c.amount))
            .where(refund_outcomes.c.order_id.in_(order_ids), refund_outcomes.c.outcome == "refunded")
            .group_by(refund_outcomes.c.order_id)
        )
        refunded = {order_id: int(amount) for order_id, amount in refund_rows}
    return {
        "orders": int(all_orders),
        "preorder_orders": len(order_ids),
        "preorder_share": rate(len(order_ids), int(all_orders)),
        "campaigns": campaign_metrics(lines, refunded),
    }
