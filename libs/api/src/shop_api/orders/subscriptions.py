"""Subscriptions' HTTP bodies: a plan staff define, a customer subscribing, a new card, a cancellation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shop_api.base import MAX_AMOUNT, Currency, Sku, Strict, example
from shop_api.orders.checkout import AddressIn, PaymentIn

PLAN_CODE_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"


class IntervalIn(Strict):
    unit: Literal["day", "week", "month"] = "month"
    count: int = Field(default=1, ge=1, le=365, description="Every `count` days, weeks or months.")


class PlanPriceIn(Strict):
    currency: Currency
    amount: int = Field(
        gt=0,
        le=MAX_AMOUNT,
        description="Per cycle, in the currency's minor unit: KRW has none, USD has cents.",
    )


class PlanIn(Strict):
    """A plan: what each cycle delivers (an ordinary order of ``quantity`` units of ``sku``) and what it costs,
    delivery and tax included. A trial delays the first charge; a first-cycle discount lowers it (not both)."""

    model_config = example(
        {
            "code": "coffee-monthly",
            "name": "Coffee of the month",
            "interval": {"unit": "month", "count": 1},
            "prices": [{"currency": "KRW", "amount": 25000}, {"currency": "USD", "amount": 1900}],
            "sku": "COFFEE-BEANS-250",
            "quantity": 2,
            "first_cycle_percent_off": 50,
        }
    )

    code: str = Field(min_length=1, max_length=48, pattern=PLAN_CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    interval: IntervalIn = Field(default_factory=IntervalIn)
    prices: list[PlanPriceIn] = Field(min_length=1, max_length=20)
    sku: Sku
    quantity: int = Field(default=1, ge=1, le=100)
    trial_days: int = Field(default=0, ge=0, le=365, description="Days before the first charge.")
    first_cycle_percent_off: int = Field(default=0, ge=0, le=99)
    segment: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The segment subscribers are in while subscribed (default `subscribers:<code>`); an "
        "early-access pre-order window can open for it.",
    )


class SubscribeIn(Strict):
    model_config = example(
        {
            "plan_code": "coffee-monthly",
            "currency": "KRW",
            "payment": {"token": "tok_visa"},
            "shipping_address": {
                "name": "Kim Minsu",
                "line1": "1 Teheran-ro",
                "city": "Seoul",
                "postal_code": "06236",
                "country": "KR",
            },
        }
    )

    plan_code: str = Field(min_length=1, max_length=48, pattern=PLAN_CODE_PATTERN)
    currency: Currency
    payment: PaymentIn
    shipping_address: AddressIn
    shipping_method: str = Field(default="standard", min_length=1, max_length=40)


class SubscriptionCancelIn(Strict):
    model_config = example({"at": "now"})

    at: Literal["period_end", "now"] = Field(
        default="period_end",
        description="period_end: the subscription runs to the end of the cycle already paid for (or the "
        "trial), then ends; now: it ends at once. Nothing paid is refunded either way.",
    )


class SubscriptionCardIn(Strict):
    model_config = example({"token": "tok_mastercard"})

    token: str = Field(
        min_length=1,
        max_length=200,
        description="The PSP's token of the new card, made by the PSP's own form; never card numbers.",
    )
