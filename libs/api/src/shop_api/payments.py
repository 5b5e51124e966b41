"""Payments' HTTP bodies (a replacement card) and the client of its internal API."""

from __future__ import annotations

import httpx
from pydantic import Field

from shop_api.base import Strict, example
from shop_api.transport import Id, ServiceClient

PSP_SIGNATURE_HEADER = "Shop-PSP-Signature"
"""The header a PSP event's signature comes in; payments verifies it against the raw body."""


class PaymentMethodIn(Strict):
    model_config = example({"token": "tok_mastercard"})

    token: str = Field(
        min_length=1,
        max_length=200,
        description="The PSP's token of the new card, made by the PSP's own form; never card numbers.",
    )


class PaymentsClient(ServiceClient):
    """Payments' internal API."""

    async def payments_of_order(self, order_id: Id) -> httpx.Response:
        """An order's payments, refunds and ledger."""
        return await self._call("GET", "/payments", params={"order_id": str(order_id)})

    async def replace_payment_method(self, order_id: Id, body: PaymentMethodIn) -> httpx.Response:
        return await self._call("PUT", f"/payment-methods/{order_id}", json=body.model_dump(mode="json"))

    async def verify_payment_method(self, body: PaymentMethodIn) -> httpx.Response:
        """Verify a card token, charging nothing (a subscription's card): 200 with brand and last four, or 422."""
        return await self._call("POST", "/payment-methods/verifications", json=body.model_dump(mode="json"))

    async def deliver_psp_event(
        self, raw_body: bytes, *, content_type: str, signature: str | None
    ) -> httpx.Response:
        """A PSP's webhook exactly as it came: the signature is over the raw bytes."""
        headers = {"Content-Type": content_type}
        if signature is not None:
            headers[PSP_SIGNATURE_HEADER] = signature
        return await self._call("POST", "/webhooks/psp", content=raw_body, headers=headers)
