"""The public API's request bodies: what storefronts, staff and warehouses may send. Unknown fields are refused."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shop_contracts.values import EarlyBirdTier, PreorderPolicy

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=SKU_PATTERN)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["KRW"])]


INT4_MAX = 2_147_483_647
MAX_AMOUNT = 1_000_000_000_000
"""Money in minor units: a trillion is far above any price and far below what the services store."""
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""Control characters (tab and newlines are fine) and lone surrogates: the services' databases cannot store
NUL or half a character, and nobody types the rest."""


def check_text(value: Any) -> Any:
    """Refuse unsafe characters in every string of a value, keys of mappings included."""
    if isinstance(value, str):
        if _UNSAFE_TEXT.search(value):
            raise ValueError("must not contain control characters or invalid Unicode")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item)
    return value


def example(body: dict[str, Any]) -> ConfigDict:
    """A request body's config naming its example: the OpenAPI document shows it with the body, and a unit test
    checks that the body model accepts it."""
    return ConfigDict(json_schema_extra={"examples": [body]})


class Strict(BaseModel):
    """A request body: unknown fields are refused by name, and no string carries control characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_safe(cls, value: Any) -> Any:
        return check_text(value)


class PriceIn(Strict):
    currency: Currency
    amount: int = Field(
        ge=0, le=MAX_AMOUNT, description="In the currency's minor unit: KRW has none, USD has cents."
    )


class VariantIn(Strict):
    sku: Sku
    options: dict[
        Annotated[str, Field(min_length=1, max_length=64)], Annotated[str, Field(max_length=200)]
    ] = Field(default_factory=dict, max_length=20, examples=[{"size": "M"}])
    prices: list[PriceIn] = Field(min_length=1, max_length=20)


class ProductIn(Strict):
    model_config = example(
        {
            "title": "Linen shirt",
            "description": "Washed linen, relaxed fit.",
            "variants": [
                {
                    "sku": "SHIRT-LINEN-M",
                    "options": {"size": "M"},
                    "prices": [{"currency": "KRW", "amount": 39000}],
                }
            ],
        }
    )

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    variants: list[VariantIn] = Field(min_length=1, max_length=100)


class AdjustmentIn(Strict):
    model_config = example({"sku": "SHIRT-LINEN-M", "location": "seoul-1", "delta": 20, "reason": "received"})

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

    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
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


class WaitlistIn(Strict):
    model_config = example({"sku": "SHIRT-LINEN-M", "email": "kim@example.com", "locale": "ko"})

    sku: Sku
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    locale: Literal["ko", "en"]


class CancellationIn(Strict):
    model_config = example({"reason": "changed_mind", "note": "Ordered the wrong size"})

    reason: Literal[
        "changed_mind",
        "shipping_cost",
        "delivery_time",
        "return_policy",
        "payment_method",
        "account_required",
        "found_cheaper",
        "other",
    ]
    note: str | None = Field(default=None, max_length=1000)


class PickedLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=0, le=10_000, description="Units picked; fewer than asked is a short pick")


class FulfillmentEventIn(Strict):
    model_config = example({"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ1234567890"})

    type: Literal["picked", "packed", "shipped", "delivered"]
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64)
    lines: list[PickedLineIn] | None = Field(
        default=None,
        max_length=100,
        description="With picked only: units picked per SKU when fewer than asked (a short pick)",
    )


class EarlyBirdTierIn(EarlyBirdTier):
    model_config = ConfigDict(frozen=True, extra="forbid")

    until_day: int | None = Field(default=None, ge=1, le=3660)


class PreorderPolicyIn(PreorderPolicy):
    """A variant's pre-order policy as staff set it; unknown fields are refused, numbers and lists bounded."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payment_mode": "deposit",
                    "deposit_percent": 20,
                    "starts_at": "2027-02-01T00:00:00Z",
                    "ends_at": "2027-02-28T15:00:00Z",
                    "cap": 500,
                    "per_customer_limit": 2,
                    "expected_ship_date": "2027-03-20",
                    "balance_due": "on_ready",
                    "early_bird_tiers": [{"until_day": 3, "percent_off": 10}],
                }
            ]
        },
    )

    deposit_amounts: dict[Currency, Annotated[int, Field(ge=0, le=MAX_AMOUNT)]] = Field(
        default_factory=dict, max_length=20, description="Fixed deposit per unit by currency."
    )
    cap: int | None = Field(default=None, ge=1, le=INT4_MAX)
    per_customer_limit: int | None = Field(default=None, ge=1, le=INT4_MAX)
    balance_due_after_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    early_bird_tiers: list[EarlyBirdTierIn] = Field(default_factory=list, max_length=10)  # type: ignore[assignment]
    early_access_segment: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_safe(cls, value: Any) -> Any:
        return check_text(value)


class InboundIn(Strict):
    model_config = example(
        {
            "sku": "SHIRT-LINEN-M",
            "location": "seoul-1",
            "quantity": 200,
            "expected_at": "2027-03-02T00:00:00Z",
        }
    )

    sku: Sku
    location: str = Field(min_length=1, max_length=64, examples=["seoul-1"])
    quantity: int = Field(ge=1, le=1_000_000)
    expected_at: AwareDatetime


class ReceiptIn(Strict):
    model_config = example({"quantity": 180})

    quantity: int = Field(
        ge=0, le=1_000_000, description="Units that actually arrived; may be fewer than expected."
    )


class FieldErrorOut(BaseModel):
    """One thing wrong with the request, and where."""

    field: str = Field(
        examples=["lines[0].quantity"],
        description="Where: a body field as a path (``lines[0].quantity``; ``body`` for the whole body), or a "
        "parameter as ``query:<name>``, ``header:<name>`` or ``path:<name>``",
    )
    message: str = Field(examples=["Input should be greater than or equal to 1"], description="What is wrong")


class ProblemOut(BaseModel):
    """An error as RFC 9457 problem details (``application/problem+json``): every 4xx and 5xx answer of the API.
    Clients branch on ``status`` and ``code``; ``title`` and ``detail`` are for people."""

    model_config = ConfigDict(
        extra="allow",
        title="Problem",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://shop.example/problems/validation_error",
                    "title": "The request is not valid",
                    "status": 422,
                    "detail": "lines[0].quantity: Input should be greater than or equal to 1",
                    "code": "validation_error",
                    "errors": [
                        {
                            "field": "lines[0].quantity",
                            "message": "Input should be greater than or equal to 1",
                        }
                    ],
                    "instance": "/v1/orders",
                }
            ]
        },
    )

    type: str = Field(
        examples=["https://shop.example/problems/validation_error"],
        description="A URI naming the kind of problem (``about:blank`` when it has no code)",
    )
    title: str = Field(description="A short summary of the kind of problem")
    status: int = Field(ge=400, le=599, description="The HTTP status of the answer")
    detail: str | None = Field(default=None, description="What went wrong this time, for people")
    code: str | None = Field(
        default=None,
        examples=["validation_error"],
        description="A stable machine-readable name of the problem (``validation_error``, ``sold_out``, ...)",
    )
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="With 422 (and some 409s): each thing wrong with the request and where"
    )
    instance: str | None = Field(
        default=None, examples=["/v1/orders"], description="The path of the request that failed"
    )


class PlacedOrderOut(BaseModel):
    """A just placed (or replayed) order: keep the access token, it is how the customer reads the order."""

    id: str
    status: str
    access_token: str


class Answer(BaseModel):
    """An answer body: the fields documented here are always there; more may come, and clients keep them."""

    model_config = ConfigDict(extra="allow")


class OrderLineOut(Answer):
    sku: str
    title: str
    quantity: int
    unit_price: int = Field(description="In the currency's minor unit, after any early-bird discount")
    line_total: int
    kind: str = Field(examples=["in_stock"], description="in_stock, or preorder for units that ship later")
    queue_position: int | None = Field(description="A pre-order's place in the queue; null in stock")
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
