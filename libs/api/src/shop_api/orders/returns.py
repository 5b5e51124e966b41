"""The bodies of returns: what a customer asks to send back, and why staff refuse one."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shop_api.base import SKU_PATTERN, Strict, example

ReturnReason = Literal["damaged", "wrong_item", "not_as_described", "changed_mind", "size", "other"]


ReturnStatus = Literal["requested", "approved", "rejected", "label_sent", "received", "refunded"]


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
