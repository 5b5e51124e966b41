"""The public API's request bodies: what storefronts, staff and warehouses may send. Unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shop_contracts.values import PreorderPolicy

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["KRW"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceIn(Strict):
    currency: Currency
    amount: int = Field(ge=0, description="In the currency's minor unit: KRW has none, USD has cents.")


class VariantIn(Strict):
    sku: Sku
    options: dict[str, str] = Field(default_factory=dict, examples=[{"size": "M"}])
    prices: list[PriceIn] = Field(min_length=1, max_length=20)


class ProductIn(Strict):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    variants: list[VariantIn] = Field(min_length=1, max_length=100)


class AdjustmentIn(Strict):
    sku: Sku
    location: str = Field(min_length=1, max_length=64, examples=["seoul-1"])
    delta: int = Field(
        ge=-1_000_000, le=1_000_000, description="Units counted in (positive) or out (negative)."
    )
    reason: str = Field(min_length=1, max_length=200, examples=["received"])


class LineIn(Strict):
    sku: Sku
    quantity: int = Field(ge=1, le=100)


class AddressIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", examples=["KR"])


class PaymentIn(Strict):
    token: str = Field(
        min_length=1, max_length=200, description="A PSP token (sandbox: tok_visa, ...), never card data."
    )


class CheckoutIn(Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    locale: Literal["ko", "en"]
    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn
    shipping_method: str = Field(min_length=1, max_length=32, examples=["standard"])
    payment: PaymentIn


class FulfillmentEventIn(Strict):
    type: Literal["picked", "packed", "shipped", "delivered"]
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64)


class PreorderPolicyIn(PreorderPolicy):
    """A variant's pre-order policy as staff set it; unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class InboundIn(Strict):
    sku: Sku
    location: str = Field(min_length=1, max_length=64, examples=["seoul-1"])
    quantity: int = Field(ge=1, le=1_000_000)
    expected_at: AwareDatetime


class ReceiptIn(Strict):
    quantity: int = Field(
        ge=0, le=1_000_000, description="Units that actually arrived; may be fewer than expected."
    )
