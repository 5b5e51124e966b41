"""Returns' rules, free of I/O: the window, which lines may come back, the refund, and an exchange's difference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shop_contracts.money import Money
from shop_orders.core.domain import CatalogVariant
from shop_orders.core.errors import ExchangeRefused, ReturnRefused
from shop_orders.core.pricing import discount_share, order_tax, tax_share

RETURN_REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind", "size", "other")


CUSTOMERS_REASONS = frozenset({"changed_mind", "size", "other"})
"""Reasons that are the customer's: the return shipping fee applies (the shop's mistakes cost nothing)."""


RESTOCKING_REASONS = frozenset({"changed_mind"})
"""Reasons whose resellable units pay the restocking fee."""


RETURN_STATUSES = ("requested", "approved", "rejected", "label_sent", "received", "refunded")


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
    value: Money
    """The units' price less their share of the order's discount."""
    return_shipping_fee: Money
    restocking_fee: Money
    refund: Money
    tax: Money
    """The tax added on top at checkout that the refund gives back (part of ``refund``)."""


def refund_for_return(
    *,
    units: list[ReturnedUnits],
    reason: str,
    subtotal: Money,
    discount: Money,
    return_shipping_fee: int,
    restocking_fee_percent: int,
    refundable: Money,
    currency: str,
    tax_added: Money | None = None,
    shipping: Money | None = None,
) -> ReturnRefund:
    """What a received return refunds: its units' price less their discount share, less the fees its reason
    carries, never below zero nor above ``refundable`` (captured less already refunded). The units' prices and
    the return shipping fee are in ``currency``, the order's; money in another currency is refused
    (``CurrencyMismatch``).

    The return shipping fee applies when the reason is the customer's (changed_mind, size, other); the
    restocking fee (percent of the resellable units' value, rounded half up) when they changed their mind.
    Damaged, wrong or not-as-described goods cost the customer nothing. Where tax came on top
    (``tax_added`` over the order's ``subtotal - discount + shipping``), the tax share of what is refunded
    (value less fees) goes back with it.
    """
    zero = Money.zero(currency)
    gross = Money.total(
        (Money(line.unit_price, currency) * line.quantity for line in units), currency=currency
    )
    value = gross - discount_share(discount=discount, subtotal=subtotal, part=gross)
    shipping_fee = Money(return_shipping_fee, currency) if reason in CUSTOMERS_REASONS else zero
    restocking_fee = zero
    if reason in RESTOCKING_REASONS and gross > zero:
        resellable = sum(line.unit_price * line.quantity for line in units if line.condition == "resellable")
        restocking_fee = value.share(resellable, gross.amount).percent(restocking_fee_percent)
    before_tax = max(value - shipping_fee - restocking_fee, zero)
    tax = tax_share(
        tax=zero if tax_added is None else tax_added,
        taxable=subtotal - discount + (zero if shipping is None else shipping),
        part=before_tax,
    )
    refund = max(min(before_tax + tax, refundable), zero)
    return ReturnRefund(
        value=value,
        return_shipping_fee=shipping_fee,
        restocking_fee=restocking_fee,
        refund=refund,
        tax=min(tax, refund),
    )


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

    price_difference: Money
    tax: Money
    """Tax added on top on the difference, with its sign (0 where prices include tax)."""

    @property
    def total(self) -> Money:
        return self.price_difference + self.tax


def exchange_difference(
    *,
    returned_unit_price: int,
    replacement_unit_price: int,
    units: int,
    tax_rate: int,
    tax_added_on_top: bool,
    currency: str,
) -> ExchangeDifference:
    """The replacement's price less the returned unit's (as paid at checkout, before a discount code's share,
    which stays with the order) for ``units``, and where tax comes on top the tax on that difference (rounded as
    ``order_tax`` rounds, with the difference's sign)."""
    zero = Money.zero(currency)
    difference = Money(replacement_unit_price - returned_unit_price, currency) * units
    tax = zero
    if tax_added_on_top and difference != zero:
        amount = order_tax(
            address={},
            rates={},
            added_on_top_countries=[],
            subtotal=max(difference, -difference),
            discount=zero,
            shipping=zero,
            fixed=(tax_rate, True),
        ).amount
        tax = amount if difference > zero else -amount
    return ExchangeDifference(price_difference=difference, tax=tax)
