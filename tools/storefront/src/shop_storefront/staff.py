"""What a member of staff does through the admin API: products, stock, pre-orders, inbounds, drafts, returns."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shop_storefront.calls import Caller, Retry, expect
from shop_storefront.values import Variant, api_key

HOME = "seoul-1"
"""The shop's own warehouse location, where stock is adjusted and inbounds arrive unless told otherwise."""


class Staff(Caller):
    """The admin API with a staff API key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        key: str,
        *,
        retry: Retry | None = None,
        in_flight: asyncio.Semaphore | None = None,
    ) -> None:
        super().__init__(http, headers=api_key(key), retry=retry, in_flight=in_flight)

    async def create_product(self, *, title: str, variants: Sequence[Variant]) -> httpx.Response:
        """``POST /v1/admin/products``: 201 with the product (its ``id`` and variants), 409 for a SKU in use."""
        return await self.post(
            "/v1/admin/products", {"title": title, "variants": [variant.as_json() for variant in variants]}
        )

    async def adjust_inventory(
        self, sku: str, delta: int, *, location: str = HOME, reason: str = "received"
    ) -> httpx.Response:
        body = {"sku": sku, "location": location, "delta": delta, "reason": reason}
        return await self.post("/v1/admin/inventory/adjustments", body)

    async def product_in_stock(
        self, variant: Variant, units: int, *, title: str = "Linen shirt", location: str = HOME
    ) -> str:
        """Create a one-variant product with ``units`` received at ``location``; answer the product's id."""
        created = expect(await self.create_product(title=title, variants=[variant]), 201)
        if units:
            expect(await self.adjust_inventory(variant.sku, units, location=location), 201)
        return str(created.json()["id"])

    async def set_preorder_policy(self, sku: str, policy: Mapping[str, Any]) -> httpx.Response:
        return await self.put(f"/v1/admin/variants/{sku}/preorder-policy", dict(policy))

    async def preorder_policy(self, sku: str) -> httpx.Response:
        return await self.get(f"/v1/admin/variants/{sku}/preorder-policy")

    async def end_preorder(self, sku: str) -> httpx.Response:
        return await self.delete(f"/v1/admin/variants/{sku}/preorder-policy")

    async def expect_inbound(
        self, sku: str, quantity: int, *, expected_at: str, location: str = HOME
    ) -> httpx.Response:
        body = {"sku": sku, "location": location, "quantity": quantity, "expected_at": expected_at}
        return await self.post("/v1/admin/inbounds", body)

    async def receive_inbound(self, inbound_id: str, quantity: int) -> httpx.Response:
        return await self.post(f"/v1/admin/inbounds/{inbound_id}/receive", {"quantity": quantity})

    async def expect_and_receive(
        self, sku: str, *, expected: int, received: int, expected_at: str = "2027-01-15T00:00:00Z"
    ) -> str:
        """An inbound of ``expected`` units at the home location, ``received`` of them arrived; answer its id."""
        inbound = expect(await self.expect_inbound(sku, expected, expected_at=expected_at), 201).json()
        expect(await self.receive_inbound(str(inbound["id"]), received), 200)
        return str(inbound["id"])

    async def cancel(self, order_id: str, reason: str, **extra: Any) -> httpx.Response:
        return await self.post(f"/v1/orders/{order_id}/cancel", {"reason": reason, **extra})

    async def approve_return(self, return_id: str) -> httpx.Response:
        return await self.post(f"/v1/admin/returns/{return_id}/approve")

    async def returns(self, **filters: Any) -> httpx.Response:
        return await self.get("/v1/admin/returns", params=filters)

    async def create_draft(self, body: Mapping[str, Any]) -> httpx.Response:
        return await self.post("/v1/admin/draft-orders", dict(body))

    async def draft(self, draft_id: str) -> httpx.Response:
        return await self.get(f"/v1/admin/draft-orders/{draft_id}")

    async def drafts(self, **filters: Any) -> httpx.Response:
        return await self.get("/v1/admin/draft-orders", params=filters)

    async def change_draft(self, draft_id: str, changes: Mapping[str, Any]) -> httpx.Response:
        return await self.patch(f"/v1/admin/draft-orders/{draft_id}", dict(changes))

    async def send_invoice(self, draft_id: str) -> httpx.Response:
        return await self.post(f"/v1/admin/draft-orders/{draft_id}/invoice")

    async def mark_draft_paid(self, draft_id: str, reference: str) -> httpx.Response:
        return await self.post(f"/v1/admin/draft-orders/{draft_id}/mark-paid", {"reference": reference})

    async def customers(self, email: str) -> httpx.Response:
        return await self.get("/v1/admin/customers", params={"email": email})

    async def preorder_metrics(self, **filters: Any) -> httpx.Response:
        return await self.get("/v1/admin/preorder-metrics", params=filters)

    async def dead_letters(self) -> httpx.Response:
        return await self.get("/v1/admin/dead-letters")

    async def products(self, *, limit: int = 50, offset: int = 0) -> httpx.Response:
        """``GET /v1/admin/products``: every product, archived ones too, with statuses."""
        return await self.get("/v1/admin/products", params={"limit": limit, "offset": offset})

    async def product(self, product_id: str) -> httpx.Response:
        """``GET /v1/admin/products/{id}``: the product as staff see it (status, retired variants, versions)."""
        return await self.get(f"/v1/admin/products/{product_id}")

    async def change_product(self, product_id: str, changes: Mapping[str, Any]) -> httpx.Response:
        """``PATCH /v1/admin/products/{id}``: title, description or both."""
        return await self.patch(f"/v1/admin/products/{product_id}", dict(changes))

    async def add_variant(self, product_id: str, variant: Variant) -> httpx.Response:
        """``POST /v1/admin/products/{id}/variants``: 201, or 409 for a SKU in use."""
        return await self.post(f"/v1/admin/products/{product_id}/variants", variant.as_json())

    async def retire_variant(self, sku: str) -> httpx.Response:
        return await self.post(f"/v1/admin/variants/{sku}/retire")

    async def archive_product(self, product_id: str) -> httpx.Response:
        return await self.post(f"/v1/admin/products/{product_id}/archive")

    async def restore_product(self, product_id: str) -> httpx.Response:
        return await self.post(f"/v1/admin/products/{product_id}/restore")

    async def change_prices(
        self, sku: str, prices: Mapping[str, int], *, effective_at: str | None = None
    ) -> httpx.Response:
        """``POST /v1/admin/variants/{sku}/price-changes``: 200 applied now, 202 scheduled for ``effective_at``."""
        body: dict[str, Any] = {
            "prices": [{"currency": currency, "amount": amount} for currency, amount in prices.items()]
        }
        if effective_at is not None:
            body["effective_at"] = effective_at
        return await self.post(f"/v1/admin/variants/{sku}/price-changes", body)

    async def price_changes(self, sku: str) -> httpx.Response:
        return await self.get(f"/v1/admin/variants/{sku}/price-changes")

    async def cancel_price_change(self, sku: str, change_id: str) -> httpx.Response:
        return await self.delete(f"/v1/admin/variants/{sku}/price-changes/{change_id}")

    async def set_safety_stock(self, sku: str, units: int, *, location: str = HOME) -> httpx.Response:
        """``PUT /v1/admin/inventory/{sku}/locations/{location}/safety-stock``."""
        return await self.put(
            f"/v1/admin/inventory/{sku}/locations/{location}/safety-stock", {"safety_stock": units}
        )

    async def stock(self, sku: str) -> httpx.Response:
        """``GET /v1/admin/inventory/{sku}``: on hand, reserved, safety stock, available, incoming per location."""
        return await self.get(f"/v1/admin/inventory/{sku}")

    async def set_low_stock_threshold(self, sku: str, threshold: int | None) -> httpx.Response:
        """``PUT /v1/admin/inventory/{sku}/low-stock-threshold`` (None follows the shop default)."""
        return await self.put(f"/v1/admin/inventory/{sku}/low-stock-threshold", {"threshold": threshold})

    async def low_stock(self) -> httpx.Response:
        """``GET /v1/admin/inventory/low-stock``: SKUs at or below their threshold, the lowest first."""
        return await self.get("/v1/admin/inventory/low-stock")

    async def complete_draft(self, draft_id: str) -> httpx.Response:
        """``POST /v1/admin/draft-orders/{id}/complete``: the draft becomes an order on its net or on-fulfillment
        terms, paid later (409 ``draft_not_ready`` for terms due on receipt)."""
        return await self.post(f"/v1/admin/draft-orders/{draft_id}/complete")
