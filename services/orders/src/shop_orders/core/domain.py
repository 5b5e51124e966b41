"""The order's lifecycle, free of I/O: order and group statuses, which moves each allows, the promised ship date,
and the tokens that let a customer open an order or answer a question about it."""

from __future__ import annotations

import enum
import hashlib
import hmac
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from shop_contracts.values import PreorderPolicy
from shop_runtime.preorder_pricing import window_state


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    PARTIALLY_SHIPPED = "partially_shipped"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    """Everything that could ship shipped; the rest (short at the pick, or cancelled) was refunded."""
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


TERMINAL = {OrderStatus.REJECTED, OrderStatus.DELIVERED, OrderStatus.CANCELLED}


# Which status each saga step moves from; a step arriving in any other status is stale or duplicated.
ALLOWED_FROM: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.RESERVED: {OrderStatus.PENDING},
    OrderStatus.CONFIRMED: {OrderStatus.RESERVED},
    OrderStatus.REJECTED: {OrderStatus.PENDING, OrderStatus.RESERVED},
    OrderStatus.PARTIALLY_SHIPPED: {OrderStatus.CONFIRMED},
    OrderStatus.SHIPPED: {OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED},
    OrderStatus.PARTIALLY_FULFILLED: {OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED},
    # Reports of one order may be handled out of order (several workers): delivered can come before shipped.
    OrderStatus.DELIVERED: {
        OrderStatus.CONFIRMED,
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.PARTIALLY_FULFILLED,
    },
    OrderStatus.CANCELLED: {
        OrderStatus.PENDING,
        OrderStatus.RESERVED,
        OrderStatus.CONFIRMED,
        OrderStatus.PARTIALLY_SHIPPED,
    },
}


ACCEPTED = {
    OrderStatus.CONFIRMED,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.PARTIALLY_FULFILLED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
}
"""Statuses of an order whose checkout payment went through."""


class GroupStatus(enum.StrEnum):
    """Where one shipment group of an order is: in-stock units per location, or one pre-order allocation."""

    RESERVED = "reserved"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    BALANCE_SCHEDULED = "balance_scheduled"
    """The balance is charged by the clock at ``balance_due_at``, whether or not the units arrived."""
    AWAITING_BALANCE = "awaiting_balance"
    BALANCE_FAILED = "balance_failed"
    PAID_AWAITING_STOCK = "paid_awaiting_stock"
    """The balance was charged before the units arrived: released to fulfillment when they are allocated."""
    AWAITING_LINE_BALANCE = "awaiting_line_balance"
    """Units allocated ahead of their line's scheduled balance: released once that balance is paid."""
    RELEASED = "released"
    PICK_REQUESTED = "pick_requested"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


DATE_CHANGED_REASON = "preorder_date_changed"
"""Cancellation reason when the customer cancels over a changed date (full refund, deposit included)."""


PROMISE_BROKEN_REASON = "preorder_promise_broken"
"""Cancellation reason when the promised date passed without the goods or the customer's consent."""


STOCK_LOST_REASON = "stock_unavailable"
"""Cancellation reason when catalog refused the stock of an order already paid for: its hold at checkout expired
before the order's reserve claimed it (orders' relay, or catalog, down for longer than the hold)."""


SHOP_BROKE_ITS_PROMISE = frozenset({DATE_CHANGED_REASON, PROMISE_BROKEN_REASON, STOCK_LOST_REASON})
"""Cancellations the shop caused: non-refundable deposits are refunded too."""


NOT_YET_WITH_THE_WAREHOUSE = {
    GroupStatus.RESERVED,
    GroupStatus.AWAITING_CONFIRMATION,
    GroupStatus.AWAITING_BALANCE,
    GroupStatus.BALANCE_FAILED,
    GroupStatus.BALANCE_SCHEDULED,
    GroupStatus.PAID_AWAITING_STOCK,
    GroupStatus.AWAITING_LINE_BALANCE,
}
"""Groups that can still be cancelled by releasing their stock; later ones need a recall or a return."""


WITH_THE_WAREHOUSE = {GroupStatus.RELEASED, GroupStatus.PICK_REQUESTED, GroupStatus.PICKED}
"""Groups fulfillment may still stop (the warehouse has not packed them): cancelling asks it to."""


GONE = {GroupStatus.PACKED, GroupStatus.SHIPPED, GroupStatus.DELIVERED}


WAREHOUSE_PROGRESS = (
    GroupStatus.RELEASED,
    GroupStatus.PICK_REQUESTED,
    GroupStatus.PICKED,
    GroupStatus.PACKED,
    GroupStatus.SHIPPED,
    GroupStatus.DELIVERED,
)
"""A group's steps with the warehouse, in order; a report never moves a group back."""


def group_may_move(current: GroupStatus, target: GroupStatus) -> bool:
    """Whether a warehouse report of ``target`` may move a group that is ``current``: only forward along the
    warehouse's steps, never out of cancelled, and to cancelled only before the goods are packed (a report
    handled late changes nothing)."""
    if current is GroupStatus.CANCELLED or current is target:
        return False
    if target is GroupStatus.CANCELLED:
        return current not in GONE
    later = WAREHOUSE_PROGRESS[WAREHOUSE_PROGRESS.index(target) :]
    return current not in later


def status_after_shipments(
    current: OrderStatus, *, shipped: int, delivered: int, total: int, any_refunded: bool
) -> OrderStatus | None:
    """The order's status once ``shipped`` units are on their way and ``delivered`` arrived of ``total``; None
    when it stays as it is. Reports may come in any order: the status only moves forward."""
    if total > 0 and delivered == total:
        target = OrderStatus.DELIVERED
    elif total > 0 and shipped + delivered == total:
        target = OrderStatus.PARTIALLY_FULFILLED if any_refunded else OrderStatus.SHIPPED
    elif shipped + delivered > 0:
        target = OrderStatus.PARTIALLY_SHIPPED
    else:
        return None
    return target if can_move(current, target) else None


"""Groups that leave (packed) or left: only a return brings them back."""


UNALLOCATED = ""
"""The location of a group whose balance is charged by the clock before its units are allocated anywhere."""


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return current in ALLOWED_FROM[target]


@dataclass(frozen=True)
class CatalogVariant:
    """What orders knows of a variant from catalog's events."""

    sku: str
    title: str
    prices: dict[str, int]
    preorder_policy: PreorderPolicy | None = None
    policy_version: int | None = None
    """Version of ``preorder_policy`` (None when catalog never sent one)."""
    availability: Availability | None = None
    """What catalog last said the SKU can still sell; None when it has not said."""
    sellable: bool = True
    """False while catalog does not sell the variant: it was retired, or its product is archived."""


@dataclass(frozen=True)
class Availability:
    """Catalog's last word on what a SKU can still sell (``StockAvailabilityChanged``). Between two words the
    figures only go down, so they are an upper bound: a line above them cannot be served."""

    in_stock_units: int
    preorder_units_left: int | None
    """Under the policy's cap; None without a policy or a cap."""
    policy_version: int | None
    """The policy version the figures were counted under."""


def sold_out_reason(variant: CatalogVariant, now: datetime) -> str | None:
    """Why catalog is known to refuse the variant now (it is sold out), or None when only catalog can say.

    Decides only what catalog's last figures rule out, under the same pre-order policy as orders' own copy
    (another version means one of the two is behind: catalog decides): an in-stock SKU with no units left,
    an open pre-order whose cap is full, or a policy that sells from stock and then on pre-order when both
    are gone. A SKU with some units left is catalog's to decide, even for a line of more units (catalog
    names the shortage); so is a window that is not open.
    """
    figures = variant.availability
    if figures is None or figures.policy_version != variant.policy_version:
        return None
    policy = variant.preorder_policy
    out_of_stock = figures.in_stock_units == 0
    cap_full = figures.preorder_units_left == 0
    if policy is None:
        return "out_of_stock" if out_of_stock else None
    if policy.continue_selling_when_sold_out:
        return "preorder_cap_reached" if out_of_stock and cap_full else None
    if window_state(policy, now) == "open" and cap_full:
        return "preorder_cap_reached"
    return None


def access_token(secret: str, order_id: str) -> str:
    """The customer's bearer token for one order: an HMAC of the order id, so it is never stored."""
    digest = hmac.new(secret.encode(), f"order:{order_id}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def access_token_matches(secret: str, order_id: str, token: str) -> bool:
    return hmac.compare_digest(access_token(secret, order_id), token)


def decision_token(secret: str, order_id: str) -> str:
    """The token of an email's link to accept a changed pre-order date or cancel: good for that one order
    and that decision only (it opens nothing else), and never stored."""
    digest = hmac.new(secret.encode(), f"preorder-decision:{order_id}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def decision_token_matches(secret: str, order_id: str, token: str) -> bool:
    return hmac.compare_digest(decision_token(secret, order_id), token)


PROMISE_WITHOUT_DATE = timedelta(days=30)
"""What the shop promises for a pre-order whose policy names no ship date: shipping within 30 days."""


def promised_ship_date(policy: PreorderPolicy, ordered_at: datetime) -> date:
    """The ship date promised at checkout: the policy's latest date of its window, else its expected date,
    else the order date plus 30 days."""
    if policy.expected_ship_latest is not None:
        return policy.expected_ship_latest
    if policy.expected_ship_date is not None:
        return policy.expected_ship_date
    return (ordered_at.astimezone(UTC) + PROMISE_WITHOUT_DATE).date()


def needs_consent(expected_ship_date: date | None, promised: date) -> bool:
    """A new expected date past the promise needs the customer's consent (an unknown date does not break it)."""
    return expected_ship_date is not None and expected_ship_date > promised


def promise_check_due(promised: date) -> datetime:
    """When a promise is checked: once the promised day is over (UTC)."""
    return datetime.combine(promised + timedelta(days=1), time(), tzinfo=UTC)


PaymentTermsKind = Literal["due_on_receipt", "net", "on_fulfillment"]


BANK_TRANSFER_TOKEN_PREFIX = "bank-transfer:"
"""An order paid by bank transfer keeps this and the transfer's reference where a PSP token would be."""


def bank_transfer_reference(payment_token: str | None) -> str | None:
    """The bank transfer's reference an order was paid with, or None for a PSP token."""
    if payment_token is not None and payment_token.startswith(BANK_TRANSFER_TOKEN_PREFIX):
        return payment_token.removeprefix(BANK_TRANSFER_TOKEN_PREFIX)
    return None


def payment_due_date(
    kind: PaymentTermsKind, net_days: int | None, invoiced_at: datetime | None
) -> date | None:
    """The day payment is due: net N is N days after the invoice was sent (none before it is); due on receipt
    is the day it was sent; on fulfillment has no date."""
    if invoiced_at is None or kind == "on_fulfillment":
        return None
    if kind == "net":
        return (invoiced_at + timedelta(days=net_days or 0)).date()
    return invoiced_at.date()


def draft_token(secret: str, draft_id: str) -> str:
    """The token of an invoice's checkout link: good for that one draft (its invoice and its checkout) only,
    never for an order, and never stored."""
    digest = hmac.new(secret.encode(), f"draft-invoice:{draft_id}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def draft_token_matches(secret: str, draft_id: str, token: str) -> bool:
    return hmac.compare_digest(draft_token(secret, draft_id), token)
