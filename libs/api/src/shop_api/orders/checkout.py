"""The bodies of an order: checkout, shipping quotes, the order as its customer sees it, cancelling it, the
win-back offer, and a decision on a changed pre-order date."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, Field

from shop_api.base import EMAIL_PATTERN, Answer, Currency, Sku, Strict, example

StockAtLocations = dict[str, dict[str, int]]
"""Available units by location and SKU, as catalog counted them."""


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
    """A guest sends email, locale and shipping address. A signed-in customer may leave them out: the account's
    email and locale, and the saved address ``shipping_address_id`` or else the default shipping address."""

    model_config = example(
        {
            "email": "kim@example.com",
            "locale": "ko",
            "currency": "KRW",
            "lines": [{"sku": "SHIRT-LINEN-M", "quantity": 1}],
            "shipping_address": {
                "name": "Kim Minsu",
                "line1": "1 Teheran-ro",
                "city": "Seoul",
                "postal_code": "06236",
                "country": "KR",
            },
            "shipping_method": "standard",
            "payment": {"token": "tok_visa"},
        }
    )

    email: str | None = Field(default=None, pattern=EMAIL_PATTERN, max_length=254)
    locale: Literal["ko", "en"] | None = None
    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn | None = None
    shipping_address_id: uuid.UUID | None = Field(
        default=None, description="A saved address (signed in only)."
    )
    shipping_method: str = Field(
        min_length=1,
        max_length=32,
        examples=["standard"],
        description="standard, express or same_day (where a location delivers to the address the same day and "
        "holds every line: see POST /v1/shipping-rates; otherwise 422 same_day_unavailable)",
    )
    payment: PaymentIn
    discount_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="A single-use code offered after a cancellation",
    )


class PlaceOrderIn(CheckoutIn):
    """A checkout as orders takes it: the public body, and catalog's stock where same-day delivery is asked."""

    stock_at_locations: StockAtLocations | None = Field(
        default=None,
        description="Available units by location and SKU as catalog showed them (the gateway adds it for "
        "same-day delivery); not part of the checkout's idempotency fingerprint.",
    )

    @classmethod
    def of(cls, checkout: CheckoutIn, *, stock_at_locations: StockAtLocations | None) -> PlaceOrderIn:
        return cls.model_validate({**checkout.model_dump(), "stock_at_locations": stock_at_locations})


class ShippingRatesIn(Strict):
    model_config = example(
        {
            "currency": "KRW",
            "lines": [{"sku": "SHIRT-LINEN-M", "quantity": 2}],
            "shipping_address": {
                "name": "Kim Minsu",
                "line1": "1 Teheran-ro",
                "city": "Seoul",
                "postal_code": "06236",
                "country": "KR",
            },
        }
    )

    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn


class QuoteShippingIn(ShippingRatesIn):
    """A shipping quote as orders takes it: the public body and catalog's stock at each location."""

    stock_at_locations: StockAtLocations | None = None

    @classmethod
    def of(cls, cart: ShippingRatesIn, *, stock_at_locations: StockAtLocations) -> QuoteShippingIn:
        return cls.model_validate({**cart.model_dump(), "stock_at_locations": stock_at_locations})


class PlacedOrderOut(BaseModel):
    """A just placed (or replayed) order: keep the access token, it is how the customer reads the order."""

    id: str
    status: str = Field(
        examples=["reserved"],
        description="reserved: its units (or pre-order places) are held; pending: catalog could not be asked at "
        "checkout, and the order is decided after it (a replayed key answers the order's status now)",
    )
    access_token: str


class OrderLineOut(Answer):
    sku: str
    title: str
    quantity: int
    unit_price: int = Field(description="In the currency's minor unit, after any early-bird discount")
    line_total: int
    kind: str = Field(examples=["in_stock"], description="in_stock, or preorder for units that ship later")
    queue_position: int | None = Field(description="A pre-order's place in the queue; null in stock")
    ahead_of_you: int | None = Field(
        default=None,
        description="While a pre-order waits: how many pre-orders of its SKU still wait ahead of it (the queue "
        "moves as places ahead are allocated or cancelled); null in stock, once allocated, or while catalog "
        "cannot be asked",
    )
    units_ahead: int | None = Field(
        default=None, description="The units those pre-orders ahead still wait for; null as ``ahead_of_you``"
    )
    expected_ship_date: date | None
    quantity_shipped: int
    quantity_refunded: int


class OrderTotalsOut(Answer):
    subtotal: int
    shipping: int
    discount: int
    tax: int
    tax_included: bool = Field(description="Whether ``tax`` is part of the other amounts or added on top")
    total: int


class ShipmentOut(Answer):
    id: str
    location: str
    status: str = Field(examples=["shipped"])
    carrier: str | None
    tracking_number: str | None


class TimelineEntryOut(Answer):
    at: AwareDatetime
    event: str = Field(examples=["order.placed"])
    detail: dict[str, Any]


class OrderOut(Answer):
    """An order as its customer, staff and support see it: lines, totals, shipments and what happened when."""

    id: str
    status: str = Field(
        examples=["confirmed"],
        description="pending, reserved, confirmed, partially_shipped, partially_fulfilled, shipped, delivered, "
        "rejected or cancelled (``status_reason`` says why for the last two)",
    )
    status_reason: str | None
    currency: str = Field(examples=["KRW"])
    lines: list[OrderLineOut]
    totals: OrderTotalsOut
    shipments: list[ShipmentOut]
    timeline: list[TimelineEntryOut]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    unavailable: list[str] | None = Field(
        default=None,
        description="Services that could not answer for this view: their parts (payments, shipments) are "
        "missing or empty until they are back",
    )


class ShippingMethodOut(BaseModel):
    method: str = Field(examples=["same_day"])
    available: bool
    reason: str | None = Field(description="Why the method is not offered here; null when it is")
    shipping: int | None = Field(description="What shipping costs by this method, minor units")
    tax: int | None = Field(description="The tax of the order by this method (added on top or included)")
    tax_included: bool | None
    total: int | None = Field(
        description="Subtotal + shipping (+ tax where it comes on top), before a discount code"
    )


class ShippingRatesOut(BaseModel):
    currency: str
    subtotal: int
    methods: list[ShippingMethodOut]


CancellationReason = Literal[
    "changed_mind",
    "shipping_cost",
    "delivery_time",
    "return_policy",
    "payment_method",
    "account_required",
    "found_cheaper",
    "other",
]
"""Why a customer or staff cancels; the shop's own reasons (balance_unpaid, short_pick) are not among them."""

CANCELLATION_REASONS: tuple[str, ...] = get_args(CancellationReason)


class CancellationIn(Strict):
    model_config = example({"reason": "changed_mind", "note": "Ordered the wrong size"})

    reason: CancellationReason
    note: str | None = Field(default=None, max_length=1000)


class FeedbackIn(Strict):
    """A customer's word on why they cancelled, from the cancellation email's feedback link."""

    model_config = example({"score": 4, "comment": "Shipping was more than the jacket was worth to me"})

    score: int = Field(ge=1, le=5, strict=True, description="1 (poor) to 5 (great): how the shop did")
    comment: str | None = Field(default=None, max_length=2000, description="In the customer's own words")


class PreorderDecisionIn(Strict):
    """The customer's answer to a changed pre-order ship date, from the storefront page of the email's link."""

    model_config = example({"decision": "accept"})

    decision: Literal["accept", "cancel"] = Field(
        description="accept: the new date becomes the promise; cancel: the order is cancelled, everything refunded"
    )
