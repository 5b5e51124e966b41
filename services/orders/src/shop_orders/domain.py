"""Orders' rules, free of I/O: pricing a checkout, the order's states and what each saga step may do."""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shop_contracts.values import PreorderPolicy
from shop_runtime.preorder_pricing import discounted_unit_price, early_bird, split_line, window_state


class OrderError(Exception):
    """A request orders refuses; ``field`` names the input that is wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownSku(OrderError):
    pass


class NotSoldInCurrency(OrderError):
    pass


class UnknownShippingMethod(OrderError):
    pass


class IdempotencyKeyReused(OrderError):
    """The same Idempotency-Key came with a different request body."""


class UnknownOrder(OrderError):
    pass


class DuplicateSku(OrderError):
    pass


class NotCancellable(OrderError):
    """Part of the order is already with the warehouse or on its way: the answer is a return."""


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    PARTIALLY_SHIPPED = "partially_shipped"
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
    OrderStatus.DELIVERED: {OrderStatus.SHIPPED},
    OrderStatus.CANCELLED: {OrderStatus.CONFIRMED},
}

ACCEPTED = {OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.DELIVERED}
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


@dataclass(frozen=True)
class CheckoutLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    sku: str
    title: str
    quantity: int
    unit_price: int
    percent_off: int = 0
    preorder_policy: PreorderPolicy | None = None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class PricedCheckout:
    currency: str
    lines: list[PricedLine]
    shipping: int
    subtotal: int = field(init=False)
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subtotal", sum(line.line_total for line in self.lines))
        object.__setattr__(self, "total", self.subtotal + self.shipping)


def price_checkout(
    *,
    currency: str,
    lines: list[CheckoutLine],
    variants: dict[str, CatalogVariant],
    shipping_method: str,
    shipping_rates: dict[str, dict[str, int]],
    now: datetime,
) -> PricedCheckout:
    """Price every line at the catalog price in the order's currency and add shipping once per order.

    A variant whose pre-order window is open is priced with the early-bird tier in force now; that tier
    is fixed for the order from then on.
    """
    priced = []
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.sku in seen:
            raise DuplicateSku(
                f"{line.sku} appears on two lines; order it on one", field=f"lines[{index}].sku"
            )
        seen.add(line.sku)
        variant = variants.get(line.sku)
        if variant is None:
            raise UnknownSku(f"no product variant has SKU {line.sku!r}", field=f"lines[{index}].sku")
        if currency not in variant.prices:
            raise NotSoldInCurrency(f"{line.sku} has no price in {currency}", field=f"lines[{index}].sku")
        policy = variant.preorder_policy
        percent_off = 0
        if policy is not None and window_state(policy, now) == "open":
            percent_off = early_bird(policy, now).percent_off
        priced.append(
            PricedLine(
                sku=line.sku,
                title=variant.title,
                quantity=line.quantity,
                unit_price=discounted_unit_price(variant.prices[currency], percent_off),
                percent_off=percent_off,
                preorder_policy=policy,
            )
        )
    rates = shipping_rates.get(shipping_method)
    if rates is None:
        raise UnknownShippingMethod(
            f"unknown shipping method {shipping_method!r}; choose one of {sorted(shipping_rates)}",
            field="shipping_method",
        )
    if currency not in rates:
        raise UnknownShippingMethod(f"{shipping_method} shipping has no rate in {currency}", field="currency")
    return PricedCheckout(currency=currency, lines=priced, shipping=rates[currency])


def checkout_fingerprint(request: dict[str, Any]) -> str:
    """A stable hash of a checkout request, to tell a retry (same body) from a reused key (other body)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def access_token(secret: str, order_id: str) -> str:
    """The customer's bearer token for one order: an HMAC of the order id, so it is never stored."""
    digest = hmac.new(secret.encode(), f"order:{order_id}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def access_token_matches(secret: str, order_id: str, token: str) -> bool:
    return hmac.compare_digest(access_token(secret, order_id), token)


@dataclass(frozen=True)
class PlanLine:
    """A line once catalog said whether it ships from stock or waits as a pre-order."""

    sku: str
    quantity: int
    line_total: int
    preorder_policy: PreorderPolicy | None
    """Set for a pre-order line; None for a line reserved from stock."""


@dataclass(frozen=True)
class CheckoutCharge:
    """What the customer pays at checkout and what each line leaves for later."""

    paid_now: dict[str, int]
    balance: dict[str, int]
    charged_now: int
    shipping_deferred: bool
    """Nothing but shipping would be charged at checkout (pay later): shipping goes with the first balance."""


def plan_checkout_charge(lines: list[PlanLine], *, shipping: int, currency: str) -> CheckoutCharge:
    """In-stock lines are paid in full at checkout; pre-order lines pay what their policy asks now."""
    paid_now: dict[str, int] = {}
    balance: dict[str, int] = {}
    for line in lines:
        if line.preorder_policy is None:
            paid_now[line.sku], balance[line.sku] = line.line_total, 0
        else:
            split = split_line(
                line.preorder_policy, line_total=line.line_total, quantity=line.quantity, currency=currency
            )
            paid_now[line.sku], balance[line.sku] = split.now, split.later
    upfront = sum(paid_now.values())
    deferred = upfront == 0 and sum(balance.values()) > 0
    return CheckoutCharge(
        paid_now=paid_now,
        balance=balance,
        charged_now=upfront if deferred else upfront + shipping,
        shipping_deferred=deferred,
    )


def balance_for_units(*, balance_left: int, units_left: int, units: int) -> int:
    """The share of a line's remaining balance owed for ``units`` of its ``units_left`` waiting units.

    Shares are rounded down and the last units take what is left, so the parts add up to the balance.
    """
    if units >= units_left:
        return balance_left
    return balance_left * units // units_left


def reminder_time(*, charge_at: datetime, notice: timedelta, now: datetime) -> datetime | None:
    """When to remind the customer of a balance charged by the clock at ``charge_at``: ``notice`` before it,
    or at once when that moment already passed; never when the charge itself is due already (the
    confirmation email told the date and there is no time left to change the card)."""
    if charge_at <= now:
        return None
    return max(charge_at - notice, now)


def charge_time_on_allocation(*, reminded_at: datetime | None, notice: timedelta, now: datetime) -> datetime:
    """When to charge a balance due on readiness once its units are allocated: at once if the customer was
    reminded at least ``notice`` ago, otherwise ``notice`` from now (and the reminder goes now)."""
    if reminded_at is not None and now - reminded_at >= notice:
        return now
    return now + notice
