"""The small values every caller of the public API builds: an address, a variant, a checkout body, new SKUs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


SEOUL = Address(name="김민수", line1="테헤란로 1", city="Seoul", postal_code="06236", country="KR")
"""The address most examples ship to: inside the shop's home country, so standard shipping applies."""


@dataclass(frozen=True)
class Variant:
    """One variant of a product as staff create it: its SKU, options and a price per currency."""

    sku: str
    prices: Mapping[str, int] = field(default_factory=lambda: {"KRW": 39000})
    options: Mapping[str, str] = field(default_factory=lambda: {"size": "M"})

    def as_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "options": dict(self.options),
            "prices": [{"currency": currency, "amount": amount} for currency, amount in self.prices.items()],
        }


def new_sku(prefix: str = "TEE") -> str:
    """A SKU no one has used: a prefix and eight random hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def new_email(prefix: str = "buyer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def checkout(
    sku: str,
    *,
    quantity: int = 1,
    token: str = "tok_visa",
    email: str | None = None,
    locale: str = "ko",
    currency: str = "KRW",
    address: Address = SEOUL,
    shipping_method: str = "standard",
) -> dict[str, Any]:
    """The body of ``POST /v1/orders`` for one line of ``sku``, paid with the sandbox card ``token``.

    A new buyer's email unless one is given; the body is a fresh dict the caller may change."""
    return {
        "email": email or new_email(),
        "locale": locale,
        "currency": currency,
        "lines": [{"sku": sku, "quantity": quantity}],
        "shipping_address": address.as_json(),
        "shipping_method": shipping_method,
        "payment": {"token": token},
    }


def bearer(access_token: str) -> dict[str, str]:
    """Headers of a customer's request: an order's access token or a signed-in customer's token."""
    return {"Authorization": f"Bearer {access_token}"}


def api_key(key: str) -> dict[str, str]:
    """Headers of a member of staff's or a warehouse's request."""
    return {"X-Api-Key": key}
