"""Catalog's HTTP bodies (products and their changes, prices, stock counts and safety stock, pre-order policies,
inbound stock, waitlists, views) and the client of its internal API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from shop_api.base import (
    INT4_MAX,
    MAX_AMOUNT,
    SKU_PATTERN,
    Answer,
    Currency,
    Sku,
    Strict,
    check_text,
    example,
)
from shop_api.transport import Id, ServiceClient
from shop_contracts.values import EarlyBirdTier, PreorderPolicy


class PriceIn(Strict):
    currency: Currency
    amount: int = Field(
        ge=0, le=MAX_AMOUNT, description="In the currency's minor unit: KRW has none, USD has cents."
    )


class VariantIn(Strict):
    model_config = example(
        {"sku": "SHIRT-LINEN-L", "options": {"size": "L"}, "prices": [{"currency": "KRW", "amount": 41000}]}
    )

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


class InboundChangeIn(Strict):
    """What changed about stock on its way: how many units come, when, or both."""

    model_config = example({"quantity": 150, "expected_at": "2027-03-16T00:00:00Z"})

    quantity: int | None = Field(default=None, gt=0, le=1_000_000, description="Units now expected.")
    expected_at: AwareDatetime | None = Field(
        default=None, description="When they are now expected (UTC offset)."
    )


class ReceiptIn(Strict):
    model_config = example({"quantity": 180})

    quantity: int = Field(
        ge=0, le=1_000_000, description="Units that actually arrived; may be fewer than expected."
    )


class WaitlistIn(Strict):
    model_config = example({"sku": "SHIRT-LINEN-M", "email": "kim@example.com", "locale": "ko"})

    sku: Sku
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    locale: Literal["ko", "en"]


class ProductViewIn(Strict):
    model_config = example({"sku": "SHIRT-LINEN-M"})

    sku: str = Field(min_length=1, max_length=64, pattern=SKU_PATTERN, description="The variant shown.")


class ProductChangeIn(Strict):
    """What staff change about a product: its title, its description or both (the fields left out stay)."""

    model_config = example({"title": "Linen shirt (washed)", "description": "Washed linen, relaxed fit."})

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class PriceChangeIn(Strict):
    """New prices of a variant in the currencies named (the others stay), now or from ``effective_at``."""

    model_config = example(
        {"prices": [{"currency": "KRW", "amount": 35000}], "effective_at": "2027-03-01T00:00:00Z"}
    )

    prices: list[PriceIn] = Field(min_length=1, max_length=20)
    effective_at: AwareDatetime | None = Field(
        default=None,
        description="When the new prices apply (in the future, with a UTC offset); left out, they apply now.",
    )


class SafetyStockIn(Strict):
    """Units a location keeps back from sale; available is on hand less reserved less these."""

    model_config = example({"safety_stock": 2})

    safety_stock: int = Field(ge=0, le=1_000_000)


class LowStockThresholdIn(Strict):
    """A SKU's low-stock threshold: staff hear once when its available units fall to it or below."""

    model_config = example({"threshold": 5})

    threshold: int | None = Field(
        ge=0,
        le=1_000_000,
        description="Alert when available (over all locations) is at or below this; null follows the shop default.",
    )


class LowStockWatchOut(Answer):
    """A SKU's low-stock watch as it now is."""

    sku: str
    threshold: int | None = Field(
        description="The threshold in force (the SKU's own, else the shop default)."
    )
    own_threshold: int | None = Field(
        description="Staff's threshold for this SKU; null follows the shop default."
    )
    available: int = Field(description="On hand less reserved less safety stock, over all locations.")
    alerted: bool = Field(description="An alert went out for the current crossing; re-armed once back above.")


class LowStockItem(Answer):
    """A SKU at or below its low-stock threshold."""

    sku: str
    title: str
    available: int
    threshold: int
    alerted_at: AwareDatetime | None = Field(description="When staff were alerted of this crossing.")


class LowStockOut(Answer):
    items: list[LowStockItem]


class HoldLineIn(Strict):
    sku: Sku
    quantity: int = Field(ge=1, le=INT4_MAX)


class StockHoldIn(Strict):
    """An order's lines to hold at checkout, before orders stores the order; the order's reserve claims them."""

    order_id: str = Field(min_length=1, max_length=64)
    lines: list[HoldLineIn] = Field(min_length=1, max_length=100)
    customer_email: str | None = Field(default=None, max_length=320)
    customer_segments: list[str] = Field(default_factory=list, max_length=20)
    only_at_one_of: list[str] | None = Field(
        default=None,
        max_length=50,
        description="Same-day delivery: hold every line at one of these locations.",
    )


class CatalogClient(ServiceClient):
    """Catalog's internal API."""

    async def create_product(self, body: ProductIn) -> httpx.Response:
        return await self._call("POST", "/products", json=body.model_dump(mode="json"))

    async def products(self, *, limit: int, offset: int) -> httpx.Response:
        return await self._call("GET", "/products", params={"limit": limit, "offset": offset})

    async def product(self, product_id: Id) -> httpx.Response:
        return await self._call("GET", f"/products/{product_id}")

    async def record_product_view(self, product_id: Id, body: ProductViewIn) -> httpx.Response:
        return await self._call("POST", f"/products/{product_id}/views", json=body.model_dump(mode="json"))

    async def adjust_inventory(self, body: AdjustmentIn) -> httpx.Response:
        return await self._call("POST", "/inventory/adjustments", json=body.model_dump(mode="json"))

    async def preorders_of_order(self, order_id: Id) -> httpx.Response:
        """An order's pre-order places: queue position, what still waits ahead, expected ship date."""
        return await self._call("GET", "/preorders", params={"order_id": str(order_id)})

    async def hold_stock(self, body: StockHoldIn) -> httpx.Response:
        """Hold an order's lines at checkout: 201 with what its reserve will be told, 409 with the shortages."""
        return await self._call("POST", "/stock-holds", json=body.model_dump(mode="json"))

    async def stock_of(self, sku: str) -> httpx.Response:
        """Available units of a SKU by location."""
        return await self._call("GET", f"/inventory/{sku}")

    async def set_preorder_policy(self, sku: str, body: PreorderPolicyIn) -> httpx.Response:
        return await self._call("PUT", f"/preorder-policies/{sku}", json=body.model_dump(mode="json"))

    async def preorder_policy(self, sku: str) -> httpx.Response:
        return await self._call("GET", f"/preorder-policies/{sku}")

    async def end_preorder(self, sku: str) -> httpx.Response:
        return await self._call("DELETE", f"/preorder-policies/{sku}")

    async def expect_inbound(self, body: InboundIn) -> httpx.Response:
        return await self._call("POST", "/inbounds", json=body.model_dump(mode="json"))

    async def inbounds(self, *, sku: str) -> httpx.Response:
        return await self._call("GET", "/inbounds", params={"sku": sku})

    async def change_inbound(self, inbound_id: Id, body: InboundChangeIn) -> httpx.Response:
        """Only the fields given change."""
        return await self._call(
            "PATCH", f"/inbounds/{inbound_id}", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def receive_inbound(self, inbound_id: Id, body: ReceiptIn) -> httpx.Response:
        return await self._call("POST", f"/inbounds/{inbound_id}/receive", json=body.model_dump(mode="json"))

    async def join_waitlist(self, body: WaitlistIn) -> httpx.Response:
        return await self._call("POST", "/waitlist", json=body.model_dump(mode="json"))

    async def leave_waitlist(self, entry_id: Id) -> httpx.Response:
        return await self._call("DELETE", f"/waitlist/{entry_id}")

    async def waitlist(self, *, sku: str, limit: int, offset: int) -> httpx.Response:
        return await self._call("GET", "/waitlist", params={"sku": sku, "limit": limit, "offset": offset})

    async def preorder_metrics(self, *, sku: str | None, campaign: str | None) -> httpx.Response:
        """Catalog's part of the pre-order metrics: campaigns' views, caps and sell-out."""
        params = {name: value for name, value in (("sku", sku), ("campaign", campaign)) if value is not None}
        return await self._call("GET", "/preorder-metrics", params=params)

    async def staff_products(self, *, limit: int, offset: int) -> httpx.Response:
        """Every product, archived ones too, with each one's and each variant's status."""
        return await self._call(
            "GET", "/products", params={"limit": limit, "offset": offset, "staff": "true"}
        )

    async def staff_product(self, product_id: Id) -> httpx.Response:
        """A product as staff see it: archived or not, retired variants too."""
        return await self._call("GET", f"/products/{product_id}", params={"staff": "true"})

    async def change_product(self, product_id: Id, body: ProductChangeIn) -> httpx.Response:
        """Only the fields given change."""
        return await self._call(
            "PATCH", f"/products/{product_id}", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def add_variant(self, product_id: Id, body: VariantIn) -> httpx.Response:
        return await self._call("POST", f"/products/{product_id}/variants", json=body.model_dump(mode="json"))

    async def retire_variant(self, sku: str) -> httpx.Response:
        return await self._call("POST", f"/variants/{sku}/retire")

    async def archive_product(self, product_id: Id) -> httpx.Response:
        return await self._call("POST", f"/products/{product_id}/archive")

    async def restore_product(self, product_id: Id) -> httpx.Response:
        return await self._call("POST", f"/products/{product_id}/restore")

    async def change_prices(self, sku: str, body: PriceChangeIn) -> httpx.Response:
        """Applied now (200) or scheduled (202)."""
        return await self._call(
            "POST", f"/variants/{sku}/price-changes", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def price_changes(self, sku: str) -> httpx.Response:
        """A variant's price changes still waiting for their time."""
        return await self._call("GET", f"/variants/{sku}/price-changes")

    async def cancel_price_change(self, sku: str, change_id: Id) -> httpx.Response:
        return await self._call("DELETE", f"/variants/{sku}/price-changes/{change_id}")

    async def set_safety_stock(self, sku: str, location: str, body: SafetyStockIn) -> httpx.Response:
        return await self._call(
            "PUT", f"/inventory/{sku}/locations/{location}/safety-stock", json=body.model_dump(mode="json")
        )

    async def stock_levels(self, sku: str) -> httpx.Response:
        """A SKU's stock per location for staff: on hand, reserved, safety stock, available, incoming."""
        return await self._call("GET", f"/inventory/{sku}/levels")

    async def low_stock(self) -> httpx.Response:
        """SKUs whose available units are at or below their threshold, the lowest first."""
        return await self._call("GET", "/inventory/low-stock")

    async def set_low_stock_threshold(self, sku: str, body: LowStockThresholdIn) -> httpx.Response:
        return await self._call(
            "PUT", f"/inventory/{sku}/low-stock-threshold", json=body.model_dump(mode="json")
        )
