"""Cancellation's rules, free of I/O: what may be cancelled, what is refunded and kept, and the win-back outcome."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from shop_orders.core.domain import (
    GONE,
    NOT_YET_WITH_THE_WAREHOUSE,
    WITH_THE_WAREHOUSE,
    GroupStatus,
    OrderStatus,
)
from shop_orders.core.errors import NotCancellable
from shop_orders.core.pricing import discount_share, tax_share

CANCELLATION_REASONS = (
    "changed_mind",
    "shipping_cost",
    "delivery_time",
    "return_policy",
    "payment_method",
    "account_required",
    "found_cheaper",
    "other",
)
"""Why a customer or staff cancels; the shop's own reasons (balance_unpaid, short_pick) are not in it."""


@dataclass(frozen=True)
class CancellationPlan:
    """What cancelling an order does to each of its shipment groups."""

    cancel_now: list[str]
    """Groups whose stock or places are released right away."""
    ask_fulfillment: list[str]
    """Groups with the warehouse: fulfillment cancels them unless they were packed meanwhile."""
    kept: list[str]
    """Groups that shipped; the order keeps them and the customer pays for them."""


def plan_cancellation(
    status: OrderStatus, groups: list[tuple[str, GroupStatus]], *, waiting_units: int
) -> CancellationPlan:
    """Decide how an order in ``status`` is cancelled, or refuse (a return is the way for what left).

    ``waiting_units`` are pre-order units not yet allocated to any group (their places are released).
    """
    if status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
        raise NotCancellable(f"an order that is {status} cannot be cancelled", field="order_id")
    if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_FULFILLED):
        raise NotCancellable(
            f"this order is {status.replace('_', ' ')}: request a return instead", field="order_id"
        )
    packed = [group_id for group_id, group_status in groups if group_status is GroupStatus.PACKED]
    if packed:
        raise NotCancellable(
            "the warehouse has already packed part of this order: request a return instead", field="order_id"
        )
    plan = CancellationPlan(
        cancel_now=[g for g, s in groups if s in NOT_YET_WITH_THE_WAREHOUSE],
        ask_fulfillment=[g for g, s in groups if s in WITH_THE_WAREHOUSE],
        kept=[g for g, s in groups if s in GONE],
    )
    nothing_left = not plan.cancel_now and not plan.ask_fulfillment and waiting_units == 0
    if nothing_left and status not in (OrderStatus.PENDING, OrderStatus.RESERVED):
        raise NotCancellable(
            "everything in this order has shipped: request a return instead", field="order_id"
        )
    return plan


def refund_for_cancellation(
    *,
    captured: int,
    refunded: int,
    kept_value: int,
    subtotal: int,
    discount: int,
    shipping: int,
    kept_deposits: int,
    tax_added: int = 0,
) -> int:
    """What goes back when an order is cancelled except what it keeps (``kept_value`` at unit prices).

    The customer owes the kept units less their share of the order's discount, shipping when anything
    ships, and the non-refundable deposits of cancelled pre-order units; never more than was paid. Where tax
    came on top (``tax_added``), they owe the tax share of what they keep, and the rest of the tax goes back.
    """
    owed = kept_deposits
    if kept_value > 0:
        owed += kept_value - discount_share(discount=discount, subtotal=subtotal, part=kept_value) + shipping
    if tax_added > 0 and owed > 0:
        taxable = subtotal - discount + shipping
        owed += tax_added - tax_share(tax=tax_added, taxable=taxable, part=taxable - owed)
    return max(captured - refunded - owed, 0)


def kept_deposit(*, paid_now: int, quantity: int, cancelled_units: int) -> int:
    """The non-refundable deposit kept for ``cancelled_units`` of a pre-order line, rounded down."""
    if quantity <= 0:
        return 0
    return paid_now * cancelled_units // quantity


class WinBack(enum.StrEnum):
    SAVED = "saved"
    LOST = "lost"
    OPEN = "open"


def win_back_outcome(
    *, cancelled_at: datetime, reordered_at: datetime | None, now: datetime, within: timedelta
) -> WinBack:
    """Saved when the customer ordered again within ``within`` of cancelling; lost once that passed."""
    if reordered_at is not None and cancelled_at <= reordered_at <= cancelled_at + within:
        return WinBack.SAVED
    if now >= cancelled_at + within:
        return WinBack.LOST
    return WinBack.OPEN


@dataclass(frozen=True)
class CancellationResult:
    """The answer to a cancel request; asking again answers the same."""

    order_id: str
    status: str
    """cancelled, partially_cancelled, requested (the warehouse is being asked) or refused."""
    reason: str
    refund: int
    refused_because: str | None = None
