"""Pricing an order, free of I/O: lines, discounts, shipping (standard and same-day), tax, and what is charged at
checkout against what waits for a pre-order's balance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shop_contracts.money import Money
from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import CatalogVariant, sold_out_reason
from shop_orders.core.errors import (
    DiscountCodeExpired,
    DiscountCodeNotYours,
    DiscountCodeUsed,
    DuplicateSku,
    NotSellable,
    NotSoldInCurrency,
    SameDayNotOffered,
    SoldOut,
    UnknownShippingMethod,
    UnknownSku,
)
from shop_runtime.preorder_pricing import discounted_unit_price, early_bird, split_line, window_state


def discount_share(*, discount: Money, subtotal: Money, part: Money) -> Money:
    """The part of an order's discount that belongs to ``part`` of its subtotal, rounded down."""
    if subtotal.amount <= 0:
        return Money.zero(discount.currency)
    return discount.share(part.amount, subtotal.amount)


@dataclass(frozen=True)
class CodeTerms:
    """What a redeemed discount code takes off a new order: a percent or an amount of the subtotal, or its
    shipping."""

    percent_off: int = 0
    amount_off: int = 0
    free_shipping: bool = False


def discount_for(*, subtotal: Money, percent_off: int = 0, amount_off: Money | None = None) -> Money:
    """A discount code's amount off the subtotal: a percent rounded half up to a whole minor unit, or a fixed
    amount, never more than the subtotal."""
    if amount_off is not None and amount_off.amount > 0:
        return min(amount_off, subtotal)
    return subtotal.percent(percent_off)


def check_discount_code(
    *,
    code: str,
    redeemed_by: str | None,
    expires_at: datetime,
    now: datetime,
    issued_to_customer: str | None = None,
    issued_to_email: str | None = None,
    customer_id: str | None = None,
    email: str | None = None,
) -> None:
    """Raise why a known code cannot be used now: it was offered to another customer (its account, or for a
    guest its email address), used already, or expired. Whose it is is checked first, so another customer
    learns nothing of its use."""
    if issued_to_customer is not None:
        yours = customer_id == issued_to_customer
    elif issued_to_email is not None:
        yours = email is not None and email.strip().casefold() == issued_to_email.strip().casefold()
    else:
        yours = True
    if not yours:
        where = "the account" if issued_to_customer is not None else "the email address"
        raise DiscountCodeNotYours(
            f"discount code {code} was offered to another customer: only {where} it was sent to can use it",
            field="discount_code",
        )
    if redeemed_by is not None:
        raise DiscountCodeUsed(f"discount code {code} was already used", field="discount_code")
    if now >= expires_at:
        raise DiscountCodeExpired(
            f"discount code {code} expired at {expires_at.isoformat()}", field="discount_code"
        )


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
    segments: frozenset[str] = frozenset(),
) -> PricedCheckout:
    """Price every line at the catalog price in the order's currency and add shipping once per order
    (free when the subtotal reaches the currency's ``free_shipping_over``, before any discount code).

    A variant whose pre-order window is open to this buyer is priced with the early-bird tier in force now;
    that tier is fixed for the order from then on. A member of the policy's early-access ``segments``, ordering
    before the public window, gets the first tier, as the first public buyers will.
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
        if not variant.sellable:
            raise NotSellable(
                f"{line.sku} is no longer sold (the variant was retired or its product archived)",
                field=f"lines[{index}].sku",
            )
        if currency not in variant.prices:
            raise NotSoldInCurrency(f"{line.sku} has no price in {currency}", field=f"lines[{index}].sku")
        sold_out = sold_out_reason(variant, now)
        if sold_out is not None:
            what = "its pre-order is full" if sold_out == "preorder_cap_reached" else "no units are left"
            raise SoldOut(f"{line.sku} is sold out: {what}", field=f"lines[{index}].sku")
        policy = variant.preorder_policy
        percent_off = 0
        if policy is not None and window_state(policy, now, segments=segments) == "open":
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
            subtotal=Money(subtotal, currency),
            discount=Money.zero(currency),
            shipping=Money(shipping, currency),
        )
        total = subtotal + shipping + (tax.amount.amount if tax.added_on_top else 0)
        quotes.append(
            ShippingQuote(method, True, None, shipping, tax.amount.amount, not tax.added_on_top, total)
        )
    return quotes


def tax_rate_for(address: dict[str, Any], rates: dict[str, int]) -> int:
    """The tax rate (basis points) for a shipping address: its ``COUNTRY-REGION`` entry, else its country's,
    else none."""
    country = str(address.get("country") or "").upper()
    region = str(address.get("region") or "").upper()
    return rates.get(f"{country}-{region}", rates.get(country, 0)) if country else 0


def included_tax(total: Money, rate_basis_points: int) -> Money:
    """The tax inside a tax-inclusive ``total`` at the rate, rounded half up to a whole minor unit
    (10 % VAT in 11,000 KRW is 1,000 KRW)."""
    if rate_basis_points <= 0:
        return Money.zero(total.currency)
    return total.share(rate_basis_points, 10_000 + rate_basis_points, rounding="half_up")


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
    amount: Money


def order_tax(
    *,
    address: dict[str, Any],
    rates: dict[str, int],
    added_on_top_countries: frozenset[str] | set[str] | list[str],
    subtotal: Money,
    discount: Money,
    shipping: Money,
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
    taxable = max(subtotal - discount + shipping, Money.zero(subtotal.currency))
    if rate <= 0:
        return OrderTax(rate=0, added_on_top=on_top, amount=Money.zero(subtotal.currency))
    if on_top:
        return OrderTax(rate=rate, added_on_top=True, amount=taxable.share(rate, 10_000, rounding="half_up"))
    return OrderTax(rate=rate, added_on_top=False, amount=included_tax(taxable, rate))


def tax_share(*, tax: Money, taxable: Money, part: Money) -> Money:
    """The tax added on top that belongs to ``part`` of an order's taxable amount, rounded down, so the
    shares of separate refunds never add up to more than the tax charged."""
    if taxable.amount <= 0 or tax.amount <= 0 or part.amount <= 0:
        return Money.zero(tax.currency)
    return tax.share(min(part, taxable).amount, taxable.amount)


def checkout_fingerprint(request: dict[str, Any]) -> str:
    """A stable hash of a checkout request, to tell a retry (same body) from a reused key (other body)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


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


def balance_for_units(*, balance_left: Money, units_left: int, units: int) -> Money:
    """The share of a line's remaining balance owed for ``units`` of its ``units_left`` waiting units.

    Shares are rounded down and the last units take what is left, so the parts add up to the balance.
    """
    if units >= units_left:
        return balance_left
    return balance_left.share(units, units_left)
