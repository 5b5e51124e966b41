"""Orders' rules, free of I/O: pricing a checkout, the order's states and what each saga step may do."""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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


class SoldOut(OrderError):
    """Catalog said the SKU cannot cover the line: no units left in stock, or its pre-order cap is full."""


class UnknownShippingMethod(OrderError):
    pass


class IdempotencyKeyReused(OrderError):
    """The same Idempotency-Key came with a different request body."""


class UnknownOrder(OrderError):
    pass


class DuplicateSku(OrderError):
    pass


class NoDecisionAwaited(OrderError):
    """No pre-order line of the order has a changed date to accept or cancel over."""


class OrderNotOnTerms(OrderError):
    """Only an unpaid order on payment terms that is still going ahead takes a later payment."""


class NotCancellable(OrderError):
    """Part of the order is already with the warehouse or on its way: the answer is a return."""


class DiscountCodeError(OrderError):
    """A discount code given at checkout that cannot be redeemed."""


class UnknownDiscountCode(DiscountCodeError):
    pass


class DiscountCodeUsed(DiscountCodeError):
    pass


class DiscountCodeExpired(DiscountCodeError):
    pass


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
SHOP_BROKE_ITS_PROMISE = frozenset({DATE_CHANGED_REASON, PROMISE_BROKEN_REASON})
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


def discount_share(*, discount: int, subtotal: int, part: int) -> int:
    """The part of an order's discount that belongs to ``part`` of its subtotal, rounded down."""
    if subtotal <= 0:
        return 0
    return discount * part // subtotal


def kept_deposit(*, paid_now: int, quantity: int, cancelled_units: int) -> int:
    """The non-refundable deposit kept for ``cancelled_units`` of a pre-order line, rounded down."""
    if quantity <= 0:
        return 0
    return paid_now * cancelled_units // quantity


def discount_for(*, subtotal: int, percent_off: int) -> int:
    """A discount code's amount off the subtotal, rounded half up to a whole minor unit."""
    return (subtotal * percent_off + 50) // 100


def check_discount_code(*, code: str, redeemed_by: str | None, expires_at: datetime, now: datetime) -> None:
    """Raise why a known code cannot be used now: used already, or expired."""
    if redeemed_by is not None:
        raise DiscountCodeUsed(f"discount code {code} was already used", field="discount_code")
    if now >= expires_at:
        raise DiscountCodeExpired(
            f"discount code {code} expired at {expires_at.isoformat()}", field="discount_code"
        )


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
    free_shipping_over: dict[str, int] | None = None,
) -> PricedCheckout:
    """Price every line at the catalog price in the order's currency and add shipping once per order
    (free when the subtotal reaches the currency's ``free_shipping_over``, before any discount code).

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
        sold_out = sold_out_reason(variant, now)
        if sold_out is not None:
            what = "its pre-order is full" if sold_out == "preorder_cap_reached" else "no units are left"
            raise SoldOut(f"{line.sku} is sold out: {what}", field=f"lines[{index}].sku")
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
    subtotal = sum(line.line_total for line in priced)
    shipping = shipping_price(
        method=shipping_method,
        currency=currency,
        subtotal=subtotal,
        shipping_rates=shipping_rates,
        free_shipping_over=free_shipping_over,
    )
    return PricedCheckout(currency=currency, lines=priced, shipping=shipping)


STANDARD = "standard"
SAME_DAY = "same_day"


def shipping_price(
    *,
    method: str,
    currency: str,
    subtotal: int,
    shipping_rates: dict[str, dict[str, int]],
    free_shipping_over: dict[str, int] | None = None,
) -> int:
    """What ``method`` costs an order once: its rate in the currency, nothing for standard shipping when the
    subtotal (before a discount code) reaches the currency's ``free_shipping_over`` (express and same-day
    always cost their rate)."""
    rates = shipping_rates.get(method)
    if rates is None:
        raise UnknownShippingMethod(
            f"unknown shipping method {method!r}; choose one of {sorted(shipping_rates)}",
            field="shipping_method",
        )
    if currency not in rates:
        raise UnknownShippingMethod(f"{method} shipping has no rate in {currency}", field="currency")
    threshold = (free_shipping_over or {}).get(currency)
    if method == STANDARD and threshold is not None and subtotal >= threshold:
        return 0
    return rates[currency]


class SameDayNotOffered(OrderError):
    """Same-day delivery was chosen where it cannot be done: the address, a pre-order line, or the stock."""


@dataclass(frozen=True)
class SameDayArea:
    """Where a stock location delivers the same day: a country, and optionally a region, a city and postal
    code prefixes (each given one must match; names compare without case)."""

    country: str
    region: str | None = None
    city: str | None = None
    postal_prefixes: tuple[str, ...] = ()

    def covers(self, address: dict[str, Any]) -> bool:
        def same(wanted: str | None, given: Any) -> bool:
            return wanted is None or wanted.casefold() == str(given or "").strip().casefold()

        postal = str(address.get("postal_code") or "").replace(" ", "").upper()
        return (
            same(self.country, address.get("country"))
            and same(self.region, address.get("region"))
            and same(self.city, address.get("city"))
            and (not self.postal_prefixes or any(postal.startswith(p.upper()) for p in self.postal_prefixes))
        )


def same_day_locations(
    *,
    address: dict[str, Any],
    lines: list[CheckoutLine],
    areas: dict[str, list[SameDayArea]],
    preorder_skus: set[str],
    stock: dict[str, dict[str, int]] | None,
) -> list[str]:
    """The stock locations that may deliver this checkout the same day, in name order; raise why none may.

    A location qualifies when one of its areas covers the address and (when ``stock``, location -> SKU ->
    available units, is known) it holds every line's units by itself: a same-day parcel leaves from one
    place. Pre-order lines never go same day. Catalog checks the stock again when it reserves.
    """
    covering = sorted(location for location, found in areas.items() if any(a.covers(address) for a in found))
    if not covering:
        place = ", ".join(
            str(address.get(key)) for key in ("postal_code", "city", "region", "country") if address.get(key)
        )
        raise SameDayNotOffered(
            f"same-day delivery does not reach {place}; choose standard or express", field="shipping_method"
        )
    waiting = [line.sku for line in lines if line.sku in preorder_skus]
    if waiting:
        raise SameDayNotOffered(
            f"{', '.join(waiting)} is sold on pre-order and ships when it arrives, never the same day",
            field="shipping_method",
        )
    if stock is None:
        return covering
    holding = [
        location
        for location in covering
        if all(stock.get(location, {}).get(line.sku, 0) >= line.quantity for line in lines)
    ]
    if not holding:
        raise SameDayNotOffered(
            f"not every line is in stock at a location that delivers here the same day "
            f"({', '.join(covering)}); choose standard or express",
            field="shipping_method",
        )
    return holding


@dataclass(frozen=True)
class ShippingQuote:
    """One shipping method offered (or not) for a cart and address, with the order's price by it."""

    method: str
    available: bool
    reason: str | None
    """Why the method is not offered; None when it is."""
    shipping: int | None
    tax: int | None
    tax_included: bool | None
    total: int | None
    """Subtotal + shipping (+ tax where it comes on top), before any discount code."""


def shipping_quotes(
    *,
    currency: str,
    subtotal: int,
    address: dict[str, Any],
    lines: list[CheckoutLine],
    shipping_rates: dict[str, dict[str, int]],
    free_shipping_over: dict[str, int] | None,
    same_day_areas: dict[str, list[SameDayArea]],
    preorder_skus: set[str],
    stock: dict[str, dict[str, int]] | None,
    taxes: TaxTable,
) -> list[ShippingQuote]:
    """Every shipping method with a rate in the currency, priced as a checkout would price it, or refused with
    the checkout's reason (same-day where it cannot be done)."""
    quotes = []
    for method in sorted(shipping_rates):
        if currency not in shipping_rates[method]:
            continue
        if method == SAME_DAY:
            try:
                same_day_locations(
                    address=address,
                    lines=lines,
                    areas=same_day_areas,
                    preorder_skus=preorder_skus,
                    stock=stock,
                )
            except SameDayNotOffered as refused:
                quotes.append(ShippingQuote(method, False, str(refused), None, None, None, None))
                continue
        shipping = shipping_price(
            method=method,
            currency=currency,
            subtotal=subtotal,
            shipping_rates=shipping_rates,
            free_shipping_over=free_shipping_over,
        )
        tax = order_tax(
            address=address,
            rates=taxes.rates,
            added_on_top_countries=taxes.added_on_top_countries,
            subtotal=subtotal,
            discount=0,
            shipping=shipping,
        )
        total = subtotal + shipping + (tax.amount if tax.added_on_top else 0)
        quotes.append(ShippingQuote(method, True, None, shipping, tax.amount, not tax.added_on_top, total))
    return quotes


def tax_rate_for(address: dict[str, Any], rates: dict[str, int]) -> int:
    """The tax rate (basis points) for a shipping address: its ``COUNTRY-REGION`` entry, else its country's,
    else none."""
    country = str(address.get("country") or "").upper()
    region = str(address.get("region") or "").upper()
    return rates.get(f"{country}-{region}", rates.get(country, 0)) if country else 0


def included_tax(total: int, rate_basis_points: int) -> int:
    """The tax inside a tax-inclusive ``total`` at the rate, rounded half up to a whole minor unit
    (10 % VAT in 11,000 KRW is 1,000 KRW)."""
    if rate_basis_points <= 0:
        return 0
    return (2 * total * rate_basis_points + 10_000 + rate_basis_points) // (2 * (10_000 + rate_basis_points))


@dataclass(frozen=True)
class TaxTable:
    """The shop's tax configuration: rates in basis points by country or ``COUNTRY-REGION``, and the countries
    whose prices are quoted before tax (tax added on top)."""

    rates: dict[str, int] = field(default_factory=dict)
    added_on_top_countries: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OrderTax:
    """The tax of an order: its rate, whether the prices hold it or it comes on top, and the amount."""

    rate: int
    """Basis points (725 is 7.25 %)."""
    added_on_top: bool
    """True where prices are quoted before tax (US sales tax, CA GST/HST): the total is the taxable amount
    plus the tax. False where prices include it (KR VAT): the total holds the tax."""
    amount: int


def order_tax(
    *,
    address: dict[str, Any],
    rates: dict[str, int],
    added_on_top_countries: frozenset[str] | set[str] | list[str],
    subtotal: int,
    discount: int,
    shipping: int,
    fixed: tuple[int, bool] | None = None,
) -> OrderTax:
    """The one place an order's tax is decided: the rate of the shipping address (``tax_rate_for``), and
    the amount on the taxable amount ``subtotal - discount + shipping`` (shipping is taxed too).

    Rounding: once per order (not per line), half up to a whole minor unit: 7.25 % of 100.10 USD is
    725.725 cents, so 7.26 USD. Added on top where the country quotes prices before tax; otherwise the part
    of the taxable amount it includes (``included_tax``). ``fixed`` (rate, added on top) replaces the lookup
    for an order whose tax was fixed at checkout.
    """
    if fixed is not None:
        rate, on_top = fixed
    else:
        rate = tax_rate_for(address, rates)
        country = str(address.get("country") or "").upper()
        on_top = country in {code.upper() for code in added_on_top_countries}
    taxable = max(subtotal - discount + shipping, 0)
    if rate <= 0:
        return OrderTax(rate=0, added_on_top=on_top, amount=0)
    if on_top:
        return OrderTax(rate=rate, added_on_top=True, amount=(taxable * rate + 5_000) // 10_000)
    return OrderTax(rate=rate, added_on_top=False, amount=included_tax(taxable, rate))


def tax_share(*, tax: int, taxable: int, part: int) -> int:
    """The tax added on top that belongs to ``part`` of an order's taxable amount, rounded down, so the
    shares of separate refunds never add up to more than the tax charged."""
    if taxable <= 0 or tax <= 0 or part <= 0:
        return 0
    return tax * min(part, taxable) // taxable


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


# Customer accounts -------------------------------------------------------------------------------------------


class CustomerError(OrderError):
    """A request about a customer account that orders refuses."""


class EmailTaken(CustomerError):
    pass


class UnknownCustomer(CustomerError):
    pass


class UnknownAddress(CustomerError):
    pass


class TooManyAddresses(CustomerError):
    pass


class OrderHasAnotherCustomer(CustomerError):
    """Staff tried to give an order to a customer while it already belongs to someone else."""


MAX_ADDRESSES = 20
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128

# scrypt (RFC 7914) from the standard library: memory-hard, so a stolen table is slow to guess on GPUs, with no
# native dependency to keep. n=2**14, r=8, p=1 is OWASP's minimum (16 MiB, ~50 ms here); the parameters are
# stored with each hash, so raising them later only affects new hashes.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def email_key(email: str) -> str:
    """The form an email is unique in: trimmed and case-folded (``Kim@Example.com`` is ``kim@example.com``)."""
    return email.strip().casefold()


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why a new password is refused, or None when it is acceptable (length rules per NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    if email is not None and email_key(password) == email_key(email):
        return "a password cannot be the email address"
    if len(set(password)) < 4:
        return "use more than three different characters"
    return None


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh random salt per password (base64url, no padding)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    derived = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(derived)}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; a malformed stored value never matches."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(expected))
    except ValueError:
        return False


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=_KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


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


# Returns (RMA): which units may come back, and what a received return refunds.

RETURN_REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind", "size", "other")
CUSTOMERS_REASONS = frozenset({"changed_mind", "size", "other"})
"""Reasons that are the customer's: the return shipping fee applies (the shop's mistakes cost nothing)."""
RESTOCKING_REASONS = frozenset({"changed_mind"})
"""Reasons whose resellable units pay the restocking fee."""

RETURN_STATUSES = ("requested", "approved", "rejected", "label_sent", "received", "refunded")


class ReturnRefused(OrderError):
    """A return request orders refuses: outside the window, more units than can come back, nothing shipped."""


class UnknownReturn(OrderError):
    pass


class ReturnNotInStatus(OrderError):
    """The return is not where the requested step can happen (approving a rejected one, say)."""


def return_window_closes(*, shipped_at: datetime, delivered_at: datetime | None, days: int) -> datetime:
    """The end of a shipment's return window: ``days`` from delivery, or from shipment while not delivered."""
    return (delivered_at or shipped_at) + timedelta(days=days)


def check_return_lines(requested: list[tuple[str, int]], returnable: dict[str, int]) -> None:
    """Raise for the first requested line (sku, quantity) that asks for more units than may come back.

    ``returnable`` holds, per SKU, the units shipped within an open window less those already in a return
    that was not rejected.
    """
    seen: set[str] = set()
    for index, (sku, quantity) in enumerate(requested):
        if sku in seen:
            raise ReturnRefused(f"{sku} is named twice; give one line per SKU", field=f"lines[{index}].sku")
        seen.add(sku)
        left = returnable.get(sku)
        if left is None:
            raise ReturnRefused(
                f"{sku} did not ship in this order within the return window", field=f"lines[{index}].sku"
            )
        if quantity > left:
            raise ReturnRefused(
                f"only {left} unit(s) of {sku} can be returned (shipped within the window, not already returned)",
                field=f"lines[{index}].quantity",
            )


@dataclass(frozen=True)
class ReturnedUnits:
    """Units of one SKU that came back: their price at checkout and how the warehouse found them."""

    unit_price: int
    quantity: int
    condition: str
    """resellable or damaged"""


@dataclass(frozen=True)
class ReturnRefund:
    value: int
    """The units' price less their share of the order's discount."""
    return_shipping_fee: int
    restocking_fee: int
    refund: int
    tax: int = 0
    """The tax added on top at checkout that the refund gives back (part of ``refund``)."""


def refund_for_return(
    *,
    units: list[ReturnedUnits],
    reason: str,
    subtotal: int,
    discount: int,
    return_shipping_fee: int,
    restocking_fee_percent: int,
    refundable: int,
    tax_added: int = 0,
    shipping: int = 0,
) -> ReturnRefund:
    """What a received return refunds: its units' price less their discount share, less the fees its reason
    carries, never below zero nor above ``refundable`` (captured less already refunded).

    The return shipping fee applies when the reason is the customer's (changed_mind, size, other); the
    restocking fee (percent of the resellable units' value, rounded half up) when they changed their mind.
    Damaged, wrong or not-as-described goods cost the customer nothing. Where tax came on top
    (``tax_added`` over the order's ``subtotal - discount + shipping``), the tax share of what is refunded
    (value less fees) goes back with it.
    """
    gross = sum(line.unit_price * line.quantity for line in units)
    value = gross - discount_share(discount=discount, subtotal=subtotal, part=gross)
    shipping_fee = return_shipping_fee if reason in CUSTOMERS_REASONS else 0
    restocking_fee = 0
    if reason in RESTOCKING_REASONS and gross > 0:
        resellable = sum(line.unit_price * line.quantity for line in units if line.condition == "resellable")
        resellable_value = value * resellable // gross
        restocking_fee = (resellable_value * restocking_fee_percent + 50) // 100
    before_tax = max(value - shipping_fee - restocking_fee, 0)
    tax = tax_share(tax=tax_added, taxable=subtotal - discount + shipping, part=before_tax)
    refund = max(min(before_tax + tax, refundable), 0)
    return ReturnRefund(
        value=value,
        return_shipping_fee=shipping_fee,
        restocking_fee=restocking_fee,
        refund=refund,
        tax=min(tax, refund),
    )


# Exchanges: a returned unit replaced by another variant of the same product instead of a refund.


class ExchangeRefused(OrderError):
    """An exchange that cannot be offered: another product, an unknown variant, a pre-order, no price."""


EXCHANGE_STATUSES = (
    "requested",
    "reserving",
    "awaiting_payment",
    "released",
    "refunded_instead",
)
"""An exchange's steps: asked, replacement being reserved once the returned unit arrived, the price difference
being charged, the replacement released to the warehouse (shipped and delivered show from its shipment), or
refunded instead because the replacement was out of stock."""


def check_exchange(
    *,
    index: int,
    sku: str,
    replacement: CatalogVariant | None,
    replacement_sku: str,
    products: dict[str, str],
    currency: str,
) -> int:
    """The replacement's unit price in the order's currency, or raise why it cannot replace ``sku``: it must
    be another variant of the same product, sold in that currency and from stock (not on pre-order)."""
    where = f"lines[{index}].exchange_for"
    if replacement_sku == sku:
        raise ExchangeRefused(f"{sku} cannot be exchanged for itself", field=where)
    if replacement is None or replacement_sku not in products:
        raise ExchangeRefused(f"no product variant has SKU {replacement_sku!r}", field=where)
    if products.get(sku) != products[replacement_sku]:
        raise ExchangeRefused(
            f"{replacement_sku} is another product; an exchange is for another option of {sku}'s product",
            field=where,
        )
    if currency not in replacement.prices:
        raise ExchangeRefused(f"{replacement_sku} has no price in {currency}", field=where)
    if replacement.preorder_policy is not None:
        raise ExchangeRefused(
            f"{replacement_sku} is sold on pre-order; exchanges ship from stock", field=where
        )
    return replacement.prices[currency]


@dataclass(frozen=True)
class ExchangeDifference:
    """What an exchange costs on top (positive: charged) or gives back (negative: refunded)."""

    price_difference: int
    tax: int
    """Tax added on top on the difference, with its sign (0 where prices include tax)."""

    @property
    def total(self) -> int:
        return self.price_difference + self.tax


def exchange_difference(
    *,
    returned_unit_price: int,
    replacement_unit_price: int,
    units: int,
    tax_rate: int,
    tax_added_on_top: bool,
) -> ExchangeDifference:
    """The replacement's price less the returned unit's (as paid at checkout, before a discount code's share,
    which stays with the order) for ``units``, and where tax comes on top the tax on that difference (rounded as
    ``order_tax`` rounds, with the difference's sign)."""
    difference = (replacement_unit_price - returned_unit_price) * units
    tax = 0
    if tax_added_on_top and difference != 0:
        amount = order_tax(
            address={},
            rates={},
            added_on_top_countries=[],
            subtotal=abs(difference),
            discount=0,
            shipping=0,
            fixed=(tax_rate, True),
        ).amount
        tax = amount if difference > 0 else -amount
    return ExchangeDifference(price_difference=difference, tax=tax)
