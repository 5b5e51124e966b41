"""The order saga's steps as an operator reads them: the current step, and when an order is stuck in one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shop_ops.rows import OrderState

DEFAULT_STEP_DEADLINE = timedelta(minutes=5)

WAITING_FOR_STOCK = "waiting for stock reservation"
WAITING_FOR_PAYMENT = "waiting for payment"
WAITING_FOR_FULFILLMENT = "waiting for fulfillment"


def stuck_reason(status: str, *, has_fulfillment_order: bool) -> str | None:
    """What an order in ``status`` waits for, when the saga (not a warehouse or carrier) must move it on."""
    if status == "pending":
        return WAITING_FOR_STOCK
    if status == "reserved":
        return WAITING_FOR_PAYMENT
    if status == "confirmed" and not has_fulfillment_order:
        return WAITING_FOR_FULFILLMENT
    return None


@dataclass(frozen=True)
class StuckOrder:
    order: OrderState
    reason: str
    overdue_by: timedelta


def find_stuck(
    orders: Iterable[OrderState], *, with_fulfillment: set[str], now: datetime, deadline: timedelta
) -> list[StuckOrder]:
    """Orders that have waited in a saga step longer than ``deadline``, longest first."""
    stuck = []
    for order in orders:
        waited = now - order.since
        if waited <= deadline:
            continue
        reason = stuck_reason(order.status, has_fulfillment_order=order.order_id in with_fulfillment)
        if reason is not None:
            stuck.append(StuckOrder(order, reason, waited - deadline))
    return sorted(stuck, key=lambda item: item.order.since)


def saga_step(
    status: str | None, fulfillment_statuses: Iterable[str], status_reason: str | None = None
) -> str:
    """The step an order is at, in words, from its status in orders and its shipments in fulfillment."""
    shipments = list(fulfillment_statuses)
    if status is None:
        return "unknown to orders"
    if status == "pending":
        return "1 reserve stock: waiting for catalog"
    if status == "reserved":
        return "2 take payment: waiting for payments"
    if status == "confirmed":
        if not shipments:
            return "3 hand over to fulfillment: waiting for a fulfillment order"
        return f"4 fulfil: waiting for the warehouse ({', '.join(shipments)})"
    if status == "shipped":
        return "5 deliver: shipped, waiting for delivery"
    if status == "delivered":
        return "done: delivered"
    if status == "rejected":
        return f"done: rejected ({status_reason or 'no reason recorded'})"
    if status == "partially_shipped":
        return f"4 fulfil: part shipped, the rest waiting ({', '.join(shipments) or 'no shipments'})"
    if status == "partially_fulfilled":
        return "5 deliver: what could ship shipped, the rest was refunded"
    if status == "cancelled":
        return f"done: cancelled ({status_reason or 'no reason recorded'})"
    return f"unknown status {status!r}"
