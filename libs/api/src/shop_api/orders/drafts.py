"""The bodies of draft orders: lines, discounts, shipping, payment terms and the customer, and a draft as staff
and the customer see it."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from shop_api.base import EMAIL_PATTERN, MAX_AMOUNT, Answer, Currency, Sku, Strict, example
from shop_api.orders.checkout import AddressIn, PaymentIn

DraftStatus = Literal["open", "completed", "deleted", "expired"]


class DiscountIn(Strict):
    kind: Literal["percent", "fixed"]
    value: int = Field(ge=1, le=MAX_AMOUNT, description="Percent (1-100) or an amount in minor units")
    reason: str = Field(min_length=1, max_length=200, description="Why, as the draft and the invoice show it")

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> DiscountIn:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent discount is at most 100")
        return self


class DraftLineIn(Strict):
    """A catalog line (``sku``, optionally ``price_override``) or a custom line (``title`` and ``unit_price``,
    no SKU; never reserved, never shipped)."""

    sku: Sku | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=1000)
    unit_price: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, description="A custom line's price")
    price_override: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="A catalog line's price instead of the catalog's"
    )
    discount: DiscountIn | None = None

    @model_validator(mode="after")
    def _catalog_or_custom(self) -> DraftLineIn:
        if self.sku is not None and (self.unit_price is not None or self.title is not None):
            raise ValueError("a catalog line (sku) takes price_override, not title or unit_price")
        if self.sku is None and (self.title is None or self.unit_price is None):
            raise ValueError("a custom line (no sku) needs a title and a unit_price")
        if self.sku is None and self.price_override is not None:
            raise ValueError("price_override is for catalog lines; a custom line has its unit_price")
        return self


class ShippingIn(Strict):
    """A configured rate by ``method`` (standard, express), or a custom ``title`` and ``price``."""

    method: str | None = Field(default=None, min_length=1, max_length=32, examples=["standard"])
    title: str | None = Field(default=None, min_length=1, max_length=200)
    price: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)

    @model_validator(mode="after")
    def _method_or_custom(self) -> ShippingIn:
        if (self.method is None) == (self.title is None or self.price is None):
            raise ValueError("give a configured method, or a custom title and price")
        if self.method is not None and (self.title is not None or self.price is not None):
            raise ValueError("a configured method has its own title and price")
        return self


class PaymentTermsIn(Strict):
    type: Literal["due_on_receipt", "net", "on_fulfillment"] = "due_on_receipt"
    net_days: int | None = Field(default=None, ge=1, le=365, description="For net terms only")

    @model_validator(mode="after")
    def _net_needs_days(self) -> PaymentTermsIn:
        if (self.type == "net") != (self.net_days is not None):
            raise ValueError("net terms need net_days; other terms take none")
        return self


class DraftCustomerIn(Strict):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    name: str = Field(min_length=1, max_length=200)
    locale: Literal["ko", "en"] = "ko"


class DraftChangesIn(Strict):
    """Only the fields sent change; ``reserve_until: null`` releases the held units."""

    model_config = example(
        {"note": "Deliver to the loading dock", "shipping": {"title": "Freight", "price": 25000}}
    )

    lines: list[DraftLineIn] | None = Field(default=None, min_length=1, max_length=50)
    order_discount: DiscountIn | None = None
    shipping: ShippingIn | None = None
    shipping_address: AddressIn | None = None
    payment_terms: PaymentTermsIn | None = None
    reserve_until: AwareDatetime | None = Field(
        default=None, description="Catalog lines' units are held until then (in the future)"
    )
    note: str | None = Field(default=None, max_length=2000)


class DraftIn(Strict):
    """A draft for an existing customer (``customer_id``) or for the account of ``customer.email`` (made
    without a password when there is none)."""

    model_config = example(
        {
            "customer": {"email": "buyer@example.com", "name": "Lee Jiwoo", "locale": "ko"},
            "currency": "KRW",
            "lines": [
                {"sku": "SHIRT-LINEN-M", "quantity": 30},
                {"title": "Embroidered logo", "quantity": 30, "unit_price": 3000},
            ],
            "order_discount": {"kind": "percent", "value": 5, "reason": "Wholesale"},
            "shipping": {"method": "standard"},
            "payment_terms": {"type": "net", "net_days": 30},
        }
    )

    customer_id: uuid.UUID | None = None
    customer: DraftCustomerIn | None = None
    currency: Currency
    lines: list[DraftLineIn] = Field(min_length=1, max_length=50)
    order_discount: DiscountIn | None = None
    shipping: ShippingIn | None = None
    shipping_address: AddressIn | None = None
    payment_terms: PaymentTermsIn | None = None
    reserve_until: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_customer(self) -> DraftIn:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give customer_id (an existing customer) or customer (email, name, locale)")
        return self


class MarkPaidIn(Strict):
    model_config = example({"reference": "KB-20270302-0042"})

    reference: str = Field(min_length=1, max_length=200, description="The bank transfer's reference")


class DraftCheckoutIn(Strict):
    model_config = example({"payment": {"token": "tok_visa"}})

    payment: PaymentIn


class DraftTotalsOut(Answer):
    subtotal: int
    discount: int
    shipping: int
    tax: int
    tax_included: bool
    total: int


class DraftOut(Answer):
    """A draft order: its lines, discounts, shipping, totals (tax included), payment terms, reservation."""

    id: str
    status: DraftStatus
    currency: str
    totals: DraftTotalsOut
    order_id: str | None = None


class DraftListOut(Answer):
    drafts: list[DraftOut]


class DraftCompletedOut(Answer):
    """The order the draft became; its access token opens it at ``GET /v1/orders/{order_id}``."""

    draft_id: str
    order_id: str
    status: str
    access_token: str
