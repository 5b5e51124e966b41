"""Draft orders' rules, free of I/O: pricing (lines, discounts, shipping, tax) and their errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shop_contracts.money import Money
from shop_orders.core.errors import OrderError
from shop_orders.core.pricing import TaxTable, order_tax

DiscountKind = Literal["percent", "fixed"]


class DraftError(OrderError):
    """A draft order request orders refuses."""


class UnknownDraft(DraftError):
    pass


class DraftNotOpen(DraftError):
    """The draft was completed, deleted or expired: it cannot change any more."""


class DraftNotReady(DraftError):
    """The draft cannot do this yet (no catalog line, reservation not held)."""


class InvalidDraft(DraftError):
    pass


@dataclass(frozen=True)
class Discount:
    kind: DiscountKind
    value: int
    """Percent (1-100) for ``percent``; an amount in minor units for ``fixed``."""
    reason: str

    def amount_off(self, base: int) -> int:
        """What this discount takes off ``base``: a percent rounded half up, a fixed amount at most ``base``."""
        if base <= 0:
            return 0
        if self.kind == "percent":
            return min((base * self.value + 50) // 100, base)
        return min(self.value, base)


@dataclass(frozen=True)
class DraftLine:
    """A catalog line (``sku`` set, reserved) or a custom line (no SKU, never reserved)."""

    title: str
    quantity: int
    unit_price: int
    """The price charged per unit: the override when staff gave one, else the catalog price."""
    sku: str | None = None
    catalog_price: int | None = None
    discount: Discount | None = None

    @property
    def gross(self) -> int:
        return self.unit_price * self.quantity

    @property
    def discount_amount(self) -> int:
        return self.discount.amount_off(self.gross) if self.discount else 0


@dataclass(frozen=True)
class DraftTax:
    rate: int
    """Basis points, by the shipping address's country or region."""
    amount: int
    included: bool


@dataclass(frozen=True)
class DraftTotals:
    subtotal: int
    """Every line at its unit price, before any discount."""
    line_discounts: int
    order_discount: int
    shipping: int
    tax: DraftTax
    total: int

    @property
    def discounts(self) -> int:
        return self.line_discounts + self.order_discount


def draft_tax(
    *,
    currency: str,
    subtotal: int,
    discount: int,
    shipping: int,
    shipping_address: dict[str, Any] | None,
    taxes: TaxTable,
) -> DraftTax:
    """A draft's tax, decided as any order's (``order_tax``): the shipping address's rate on subtotal - discount
    + shipping; the part of that amount the prices include, or added on top where the country quotes prices
    before tax (US sales tax, CA GST/HST)."""
    tax = order_tax(
        address=shipping_address or {},
        rates=taxes.rates,
        added_on_top_countries=taxes.added_on_top_countries,
        subtotal=Money(subtotal, currency),
        discount=Money(discount, currency),
        shipping=Money(shipping, currency),
    )
    return DraftTax(rate=tax.rate, amount=tax.amount.amount, included=not tax.added_on_top)


def price_draft(
    lines: list[DraftLine],
    *,
    currency: str,
    order_discount: Discount | None,
    shipping: int,
    shipping_address: dict[str, Any] | None,
    taxes: TaxTable,
) -> DraftTotals:
    """Subtotal, discounts (each line's on its own amount, then the order's on what the lines leave), shipping
    (never discounted), the tax (included, or added on top) and the total."""
    subtotal = sum(line.gross for line in lines)
    line_discounts = sum(line.discount_amount for line in lines)
    order_off = order_discount.amount_off(subtotal - line_discounts) if order_discount else 0
    tax = draft_tax(
        currency=currency,
        subtotal=subtotal,
        discount=line_discounts + order_off,
        shipping=shipping,
        shipping_address=shipping_address,
        taxes=taxes,
    )
    total = subtotal - line_discounts - order_off + shipping + (0 if tax.included else tax.amount)
    return DraftTotals(
        subtotal=subtotal,
        line_discounts=line_discounts,
        order_discount=order_off,
        shipping=shipping,
        tax=tax,
        total=total,
    )


def check_lines(lines: list[DraftLine]) -> None:
    """One line per SKU (the reservation and the order key lines by SKU)."""
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.sku is None:
            continue
        if line.sku in seen:
            raise InvalidDraft(f"{line.sku} appears on two lines; put it on one", field=f"lines[{index}].sku")
        seen.add(line.sku)


def catalog_lines(stored: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((line["sku"], int(line["quantity"])) for line in stored if line["sku"] is not None)
