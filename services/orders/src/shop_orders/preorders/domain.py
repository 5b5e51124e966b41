"""A pre-order campaign's figures, free of I/O: units sold, deposits, conversion and cancellation rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SoldPreorderLine:
    """A pre-order line of an order whose checkout was paid, as the pre-order metrics count it."""

    order_id: str
    campaign: str
    sku: str
    quantity: int
    line_total: int
    currency: str
    cancelled: bool
    options: dict[str, str] = field(default_factory=dict)


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when there is no whole to divide."""
    return round(part / whole, 4) if whole else None


def campaign_metrics(lines: list[SoldPreorderLine], refunded: dict[str, int]) -> list[dict[str, Any]]:
    """Per campaign: orders, units and revenue kept (per currency), cancellations, refunds (orders refunded
    anything, amounts per currency) and units kept per option value. ``refunded`` is each order's refunds."""
    by_campaign: dict[str, list[SoldPreorderLine]] = {}
    for line in lines:
        by_campaign.setdefault(line.campaign, []).append(line)
    found = []
    for campaign, sold in sorted(by_campaign.items()):
        orders = {line.order_id: line.currency for line in sold}
        cancelled = {line.order_id for line in sold if line.cancelled}
        with_refund = {order_id for order_id in orders if refunded.get(order_id, 0) > 0}
        revenue: dict[str, int] = {}
        refunds: dict[str, int] = {}
        demand: dict[str, dict[str, int]] = {}
        for line in sold:
            if line.cancelled:
                continue
            revenue[line.currency] = revenue.get(line.currency, 0) + line.line_total
            for option, value in line.options.items():
                values = demand.setdefault(option, {})
                values[value] = values.get(value, 0) + line.quantity
        for order_id in with_refund:
            refunds[orders[order_id]] = refunds.get(orders[order_id], 0) + refunded[order_id]
        found.append(
            {
                "campaign": campaign,
                "sku": sold[0].sku,
                "orders": len(orders),
                "units": sum(line.quantity for line in sold if not line.cancelled),
                "units_cancelled": sum(line.quantity for line in sold if line.cancelled),
                "revenue": revenue,
                "cancelled_orders": len(cancelled),
                "cancellation_rate": rate(len(cancelled), len(orders)),
                "refunded_orders": len(with_refund),
                "refund_rate": rate(len(with_refund), len(orders)),
                "refunded": refunds,
                "demand_by_option": demand,
            }
        )
    return found
