"""Orders' rules, free of I/O: pricing a checkout, the order's states and what each saga step may do."""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any


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


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


TERMINAL = {OrderStatus.REJECTED, OrderStatus.DELIVERED}

# Which status each saga step moves from; a step arriving in any other status is stale or duplicated.
ALLOWED_FROM: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.RESERVED: {OrderStatus.PENDING},
    OrderStatus.CONFIRMED: {OrderStatus.RESERVED},
    OrderStatus.REJECTED: {OrderStatus.PENDING, OrderStatus.RESERVED},
    OrderStatus.SHIPPED: {OrderStatus.CONFIRMED},
    OrderStatus.DELIVERED: {OrderStatus.SHIPPED},
}


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return current in ALLOWED_FROM[target]


@dataclass(frozen=True)
class CatalogVariant:
    """What orders knows of a variant from catalog's events."""

    sku: str
    title: str
    prices: dict[str, int]


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
) -> PricedCheckout:
    """Price every line at the catalog price in the order's currency and add shipping once per order."""
    priced = []
    for index, line in enumerate(lines):
        variant = variants.get(line.sku)
        if variant is None:
            raise UnknownSku(f"no product variant has SKU {line.sku!r}", field=f"lines[{index}].sku")
        if currency not in variant.prices:
            raise NotSoldInCurrency(f"{line.sku} has no price in {currency}", field=f"lines[{index}].sku")
        priced.append(
            PricedLine(
                sku=line.sku, title=variant.title, quantity=line.quantity, unit_price=variant.prices[currency]
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
