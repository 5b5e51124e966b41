"""Orders' HTTP bodies (checkout, shipping quotes, cancellations, customer accounts, draft orders, returns,
pre-order decisions), the answers the public API documents, and the client of orders' internal API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import httpx
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from shop_api.base import EMAIL_PATTERN, MAX_AMOUNT, SKU_PATTERN, Answer, Currency, Sku, Strict, example
from shop_api.transport import Id, ServiceClient

EMAIL = Field(pattern=EMAIL_PATTERN, max_length=254, examples=["kim@example.com"])

StockAtLocations = dict[str, dict[str, int]]
"""Available units by location and SKU, as catalog counted them."""

ReturnReason = Literal["damaged", "wrong_item", "not_as_described", "changed_mind", "size", "other"]
ReturnStatus = Literal["requested", "approved", "rejected", "label_sent", "received", "refunded"]
DraftStatus = Literal["open", "completed", "deleted", "expired"]


def _not_null(value: Any) -> Any:
    """For a change body: a field sent as null is refused (leaving it out keeps it)."""
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep it")
    return value


# --- checkout -------------------------------------------------------------------------------------------


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
    status: str
    access_token: str


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


# --- cancellations and pre-order decisions ----------------------------------------------------------------


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


class OfferIn(Strict):
    model_config = example({"discount_percent": 10, "valid_days": 30})

    discount_percent: int = Field(ge=0, le=100, description="Percent off a next order; 0 offers no code")
    valid_days: int = Field(default=30, ge=1, le=365, description="How long a code can be used")


class PreorderDecisionIn(Strict):
    """The customer's answer to a changed pre-order ship date, from the storefront page of the email's link."""

    model_config = example({"decision": "accept"})

    decision: Literal["accept", "cancel"] = Field(
        description="accept: the new date becomes the promise; cancel: the order is cancelled, everything refunded"
    )


# --- customer accounts ------------------------------------------------------------------------------------


class SignUpIn(Strict):
    model_config = example(
        {"email": "kim@example.com", "name": "Kim Minsu", "password": "correct horse battery", "locale": "ko"}
    )

    email: str = EMAIL
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(
        min_length=1, max_length=1024, description="At least 10 characters, not the email address."
    )
    locale: Literal["ko", "en"] = Field(description="The language of the customer's messages.")
    marketing_consent: bool = Field(default=False, description="Marketing email; when given is recorded.")


class StaffCustomerIn(Strict):
    """An account made by staff: it has no password and cannot log in."""

    model_config = example({"email": "kim@example.com", "name": "Kim Minsu", "locale": "ko"})

    email: str = EMAIL
    name: str = Field(min_length=1, max_length=200)
    locale: Literal["ko", "en"]
    marketing_consent: bool = False


class CustomerIn(StaffCustomerIn):
    """An account as orders makes it: a sign-up (with a password) or one staff make (without)."""

    password: str | None = Field(default=None, max_length=1024)


class LoginIn(Strict):
    model_config = example({"email": "kim@example.com", "password": "correct horse battery"})

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class CredentialsIn(LoginIn):
    """Credentials as orders checks them: any text within the limits, so that every failed login (an empty
    password too) gets the same 401 whoever asks."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class ProfileChangesIn(Strict):
    """Only the fields sent change."""

    model_config = example({"locale": "en", "marketing_consent": True})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: Literal["ko", "en"] | None = None
    marketing_consent: bool | None = None

    @field_validator("name", "locale", "marketing_consent", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return _not_null(value)


class SavedAddressIn(AddressIn):
    model_config = example(
        {
            "name": "Kim Minsu",
            "line1": "1 Teheran-ro",
            "city": "Seoul",
            "postal_code": "06236",
            "country": "KR",
            "default_shipping": True,
        }
    )

    default_shipping: bool = Field(default=False, description="Checkout uses it when no address is sent.")


class AddressChangesIn(Strict):
    """Only the fields sent change; ``line2`` and ``region`` may be cleared with null."""

    model_config = example({"line2": "Apt 1203", "default_shipping": True})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    line1: str | None = Field(default=None, min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, min_length=1, max_length=20)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    default_shipping: Literal[True] | None = Field(default=None, description="Make this the default address.")

    @field_validator("name", "line1", "city", "postal_code", "country", "default_shipping", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return _not_null(value)


class OrderCustomerIn(Strict):
    """Exactly one of ``customer_id`` (an existing account) or ``customer`` (a new account made in this call)."""

    model_config = example({"customer_id": "0b6f1c7e-3f4a-4d2b-9b1e-5c8d7a6e4f21"})

    customer_id: uuid.UUID | None = None
    customer: StaffCustomerIn | None = None

    def not_exactly_one(self) -> list[dict[str, str]]:
        """The refusal, field by field, when the body names both an account and a new one, or neither."""
        if (self.customer_id is None) != (self.customer is None):
            return []
        message = "send either customer_id or customer, not both and not neither"
        return [{"field": "customer_id", "message": message}, {"field": "customer", "message": message}]


# --- draft orders -----------------------------------------------------------------------------------------


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


# --- returns ----------------------------------------------------------------------------------------------


class ReturnLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100, description="Units of this SKU to send back")
    exchange_for: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=SKU_PATTERN,
        description="Another variant (SKU) of the same product to get instead of a refund: reserved and shipped "
        "when the returned units arrive, the price difference charged with the order's saved card or refunded; "
        "refunded instead when it is out of stock (422 exchange_refused for another product or a pre-order)",
    )


class ReturnIn(Strict):
    model_config = example(
        {
            "lines": [{"sku": "SHIRT-LINEN-M", "quantity": 1, "exchange_for": "SHIRT-LINEN-L"}],
            "reason": "size",
        }
    )

    lines: list[ReturnLineIn] = Field(min_length=1, max_length=50)
    reason: ReturnReason
    note: str | None = Field(default=None, max_length=1000)


class ReturnRejectionIn(Strict):
    model_config = example({"reason": "The return window closed on 2 March"})

    reason: str = Field(min_length=1, max_length=500, description="Why, as the customer is told by email")


# --- the client -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderAccess:
    """Who opens an order, as orders checks it: staff, the account that owns it, or the order's access token
    (or a pre-order decision link's token, which opens that decision only)."""

    staff: bool = False
    customer_id: str | None = None
    access_token: str | None = None

    def headers(self) -> dict[str, str]:
        if self.staff:
            return {"X-Caller-Role": "staff"}
        if self.customer_id is not None:
            return {"X-Customer-Id": self.customer_id}
        if self.access_token is not None:
            return {"X-Order-Access-Token": self.access_token}
        return {}


class OrdersClient(ServiceClient):
    """Orders' internal API."""

    async def place_order(
        self, body: PlaceOrderIn, *, idempotency_key: str, customer_id: str | None
    ) -> httpx.Response:
        """Place an order for a guest, or for ``customer_id``'s account; the same key answers the same order."""
        headers = {"Idempotency-Key": idempotency_key}
        if customer_id is not None:
            headers["X-Customer-Id"] = customer_id
        sent = body.model_dump(mode="json")
        if body.stock_at_locations is None:
            del sent["stock_at_locations"]
        return await self._call("POST", "/orders", json=sent, headers=headers)

    async def order(self, order_id: Id, *, access: OrderAccess) -> httpx.Response:
        return await self._call("GET", f"/orders/{order_id}", headers=access.headers())

    async def quote_shipping(self, body: QuoteShippingIn) -> httpx.Response:
        return await self._call("POST", "/shipping-rates", json=body.model_dump(mode="json"))

    async def cancel_order(
        self, order_id: Id, body: CancellationIn, *, access: OrderAccess
    ) -> httpx.Response:
        return await self._call(
            "POST", f"/orders/{order_id}/cancel", json=body.model_dump(mode="json"), headers=access.headers()
        )

    async def cancellation(self, order_id: Id, *, access: OrderAccess) -> httpx.Response:
        return await self._call("GET", f"/orders/{order_id}/cancellation", headers=access.headers())

    async def cancellation_stats(
        self, *, since: datetime, until: datetime, within_days: float | None
    ) -> httpx.Response:
        params: dict[str, str | float] = {"since": since.isoformat(), "until": until.isoformat()}
        if within_days is not None:
            params["within_days"] = within_days
        return await self._call("GET", "/cancellations/stats", params=params)

    async def cancellation_offer(self) -> httpx.Response:
        return await self._call("GET", "/cancellation-offer")

    async def set_cancellation_offer(self, body: OfferIn) -> httpx.Response:
        return await self._call("PUT", "/cancellation-offer", json=body.model_dump(mode="json"))

    async def decide_on_changed_date(
        self, order_id: Id, body: PreorderDecisionIn, *, access: OrderAccess
    ) -> httpx.Response:
        return await self._call(
            "POST",
            f"/orders/{order_id}/preorder-decision",
            json=body.model_dump(mode="json"),
            headers=access.headers(),
        )

    async def preorder_metrics(self, *, sku: str | None, campaign: str | None) -> httpx.Response:
        """Orders' part of the pre-order metrics: units, revenue, cancellations, refunds, demand."""
        params = {name: value for name, value in (("sku", sku), ("campaign", campaign)) if value is not None}
        return await self._call("GET", "/preorder-metrics", params=params)

    async def create_customer(self, body: SignUpIn | StaffCustomerIn) -> httpx.Response:
        """A sign-up (with a password) or an account staff make (without)."""
        return await self._call("POST", "/customers", json=body.model_dump(mode="json"))

    async def authenticate(self, body: LoginIn) -> httpx.Response:
        return await self._call("POST", "/customers/authenticate", json=body.model_dump(mode="json"))

    async def find_customers(self, *, email: str) -> httpx.Response:
        return await self._call("GET", "/customers", params={"email": email})

    async def customer(self, customer_id: Id, *, with_orders: bool = False) -> httpx.Response:
        if with_orders:
            return await self._call("GET", f"/customers/{customer_id}", params={"with_orders": "true"})
        return await self._call("GET", f"/customers/{customer_id}")

    async def change_customer(self, customer_id: Id, body: ProfileChangesIn) -> httpx.Response:
        return await self._call(
            "PATCH", f"/customers/{customer_id}", json=body.model_dump(mode="json", exclude_unset=True)
        )

    async def addresses(self, customer_id: Id) -> httpx.Response:
        return await self._call("GET", f"/customers/{customer_id}/addresses")

    async def add_address(self, customer_id: Id, body: SavedAddressIn) -> httpx.Response:
        return await self._call(
            "POST", f"/customers/{customer_id}/addresses", json=body.model_dump(mode="json")
        )

    async def change_address(self, customer_id: Id, address_id: Id, body: AddressChangesIn) -> httpx.Response:
        return await self._call(
            "PATCH",
            f"/customers/{customer_id}/addresses/{address_id}",
            json=body.model_dump(mode="json", exclude_unset=True),
        )

    async def delete_address(self, customer_id: Id, address_id: Id) -> httpx.Response:
        return await self._call("DELETE", f"/customers/{customer_id}/addresses/{address_id}")

    async def customer_orders(self, customer_id: Id, *, limit: int, offset: int) -> httpx.Response:
        return await self._call(
            "GET", f"/customers/{customer_id}/orders", params={"limit": limit, "offset": offset}
        )

    async def give_order_to_customer(self, order_id: Id, body: OrderCustomerIn) -> httpx.Response:
        return await self._call(
            "PUT", f"/orders/{order_id}/customer", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def create_draft(self, body: DraftIn) -> httpx.Response:
        return await self._call("POST", "/drafts", json=body.model_dump(mode="json", exclude_unset=True))

    async def drafts(
        self, *, status: DraftStatus | None, customer_id: Id | None, limit: int
    ) -> httpx.Response:
        params: dict[str, str | int] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if customer_id is not None:
            params["customer_id"] = str(customer_id)
        return await self._call("GET", "/drafts", params=params)

    async def draft(self, draft_id: Id) -> httpx.Response:
        return await self._call("GET", f"/drafts/{draft_id}")

    async def change_draft(self, draft_id: Id, body: DraftChangesIn) -> httpx.Response:
        return await self._call(
            "PATCH", f"/drafts/{draft_id}", json=body.model_dump(mode="json", exclude_unset=True)
        )

    async def delete_draft(self, draft_id: Id) -> httpx.Response:
        return await self._call("DELETE", f"/drafts/{draft_id}")

    async def duplicate_draft(self, draft_id: Id) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/duplicate")

    async def send_invoice(self, draft_id: Id) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/invoice")

    async def complete_on_terms(self, draft_id: Id) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/complete")

    async def mark_as_paid(self, draft_id: Id, body: MarkPaidIn) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/mark-paid", json=body.model_dump(mode="json"))

    async def invoice(self, draft_id: Id, *, draft_token: str) -> httpx.Response:
        """The invoice a draft's emailed link opens, with that link's token."""
        return await self._call("GET", f"/drafts/{draft_id}/invoice", headers={"X-Draft-Token": draft_token})

    async def pay_invoice(self, draft_id: Id, body: DraftCheckoutIn, *, draft_token: str) -> httpx.Response:
        return await self._call(
            "POST",
            f"/drafts/{draft_id}/checkout",
            json=body.model_dump(mode="json"),
            headers={"X-Draft-Token": draft_token},
        )

    async def request_return(self, order_id: Id, body: ReturnIn, *, access: OrderAccess) -> httpx.Response:
        return await self._call(
            "POST", f"/orders/{order_id}/returns", json=body.model_dump(mode="json"), headers=access.headers()
        )

    async def order_returns(self, order_id: Id, *, access: OrderAccess) -> httpx.Response:
        return await self._call("GET", f"/orders/{order_id}/returns", headers=access.headers())

    async def returns(self, *, status: ReturnStatus | None, limit: int) -> httpx.Response:
        params: dict[str, str | int] = {"limit": limit}
        if status is not None:
            params["status"] = status
        return await self._call("GET", "/returns", params=params)

    async def approve_return(self, return_id: Id) -> httpx.Response:
        return await self._call("POST", f"/returns/{return_id}/approve")

    async def reject_return(self, return_id: Id, body: ReturnRejectionIn) -> httpx.Response:
        return await self._call("POST", f"/returns/{return_id}/reject", json=body.model_dump(mode="json"))
