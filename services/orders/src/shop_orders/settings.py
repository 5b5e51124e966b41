"""Orders settings (env prefix SHOP_ORDERS_)."""

import re
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shop_api.orders.checkout import CANCELLATION_REASONS
from shop_orders.core.pricing import SameDayArea, TaxTable
from shop_runtime.settings import ServiceSettings


class SameDayAreaSetting(BaseModel):
    """Where a stock location delivers the same day; every field given must match the shipping address."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field(pattern=r"^[A-Z]{2}$")
    region: str | None = None
    city: str | None = None
    postal_prefixes: list[str] = Field(default_factory=list)


class WinBackOfferSetting(BaseModel):
    """One reason's win-back offer: a single-use code (percent, fixed amount per currency, free shipping) or a link."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["percent", "fixed_amount", "free_shipping", "link"]
    percent_off: int | None = Field(default=None, ge=1, le=100)
    amount_off: dict[str, int] = Field(default_factory=dict)
    link: Literal["size_guide", "similar_products"] | None = None
    valid_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _complete_for_its_kind(self) -> Self:
        if (self.kind == "percent") != (self.percent_off is not None):
            raise ValueError("percent_off goes with kind percent, and only with it")
        if (self.kind == "fixed_amount") != bool(self.amount_off):
            raise ValueError("amount_off (by currency) goes with kind fixed_amount, and only with it")
        if any(
            not re.fullmatch(r"[A-Z]{3}", code) or amount <= 0 for code, amount in self.amount_off.items()
        ):
            raise ValueError('amount_off maps ISO 4217 codes to positive minor units, e.g. {"KRW": 5000}')
        if (self.kind == "link") != (self.link is not None):
            raise ValueError("link goes with kind link, and only with it")
        return self


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_ORDERS_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "orders"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_orders"
    catalog_url: str = Field(
        default="http://127.0.0.1:8101",
        description="Catalog's internal API, where checkout holds an order's units before storing it.",
    )
    checkout_reads_pool_size: int = Field(
        default=2,
        ge=1,
        le=50,
        description="Connections of the HTTP process's own pool for what a checkout reads before it decides (the "
        "order its Idempotency-Key placed, orders' copy of the variants): one autocommit SELECT each, no pre-ping. "
        "They come on top of database_pool_size; a read takes well under a millisecond, so two serve hundreds "
        "of checkouts a second.",
    )
    stock_hold_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="How long checkout waits for catalog to hold the units. Past it (or with catalog down) the "
        "order is stored without a hold and the saga's reserve decides: a buyer may then get 202 and be refused "
        "for stock later.",
    )
    http_port: int = 8102
    access_token_secret: str = Field(
        default="dev-only-order-access-secret",
        min_length=16,
        description="Signs customers' order access tokens; rotate by changing it (old tokens stop working).",
    )
    dunning_retry_hours: float = Field(
        default=24, gt=0, description="Wait before charging a failed balance again."
    )
    dunning_period_days: float = Field(
        default=10,
        gt=0,
        description="After this long unpaid, a pre-order is cancelled and its unit goes to the next.",
    )
    subscription_dunning_retry_hours: float = Field(
        default=24, gt=0, description="Wait before charging a subscription's failed cycle again."
    )
    subscription_dunning_period_days: float = Field(
        default=10,
        gt=0,
        description="After this long with a cycle unpaid, a subscription is cancelled.",
    )
    subscription_notice_hours: float = Field(
        default=72,
        ge=0,
        description="How long before each subscription charge the customer is reminded of it (0: no reminder).",
    )
    subscription_metrics_seconds: float = Field(
        default=30,
        gt=0,
        description="How often the worker counts subscriptions and monthly recurring revenue for its metrics.",
    )
    balance_notice_hours: float = Field(
        default=24,
        ge=0,
        description="How long before a deferred balance charge the customer is reminded of it.",
    )
    shipping_rates: dict[str, dict[str, int]] = Field(
        default={
            "standard": {"KRW": 3000, "USD": 500},
            "express": {"KRW": 6000, "USD": 1500},
            "same_day": {"KRW": 9000, "USD": 2500},
        },
        description="Shipping charged once per order, by method and currency, in minor units. same_day is "
        "offered only where same_day_areas says so.",
    )
    free_shipping_over: dict[str, int] = Field(
        default_factory=dict,
        description="Standard shipping is free when an order's subtotal (before a discount code) reaches this "
        'amount, by currency in minor units, e.g. {"KRW": 50000}; none by default. Express and same-day '
        "always cost their rate.",
    )
    same_day_areas: dict[str, list[SameDayAreaSetting]] = Field(
        default={"seoul-1": [SameDayAreaSetting(country="KR", city="Seoul")]},
        description="By stock location, the areas it delivers to the same day, e.g. "
        '{"seoul-1": [{"country": "KR", "city": "Seoul"}, {"country": "KR", "postal_prefixes": ["13"]}]}. '
        "Same-day needs every line in stock at one such location.",
    )
    tax_rates: dict[str, int] = Field(
        default={
            "KR": 1000,
            "US-CA": 725,
            "US-NY": 400,
            "US-TX": 625,
            "US-WA": 650,
            "CA": 500,
            "CA-ON": 1300,
            "CA-NS": 1400,
            "CA-NB": 1500,
        },
        description="Tax rates in basis points by shipping country or COUNTRY-REGION (a region's entry wins): "
        "KR 10 % VAT; US state sales tax (state rate only, a state not listed has none); CA 5 % GST, or HST "
        "where a province harmonised it.",
    )
    tax_added_on_top_countries: list[str] = Field(
        default=["US", "CA"],
        description="Countries whose prices are quoted before tax: the tax is added on top of the subtotal less "
        "discount plus shipping, and charged. Everywhere else prices include the tax (KR).",
    )

    @field_validator("win_back_offers")
    @classmethod
    def _offers_for_known_reasons(
        cls, value: dict[str, WinBackOfferSetting]
    ) -> dict[str, WinBackOfferSetting]:
        unknown = sorted(set(value) - set(CANCELLATION_REASONS))
        if unknown:
            raise ValueError(f"win_back_offers: no cancellation reason {', '.join(unknown)}")
        return value

    def tax_table(self) -> TaxTable:
        """``tax_rates`` and ``tax_added_on_top_countries`` as the domain reads them."""
        return TaxTable(
            rates=self.tax_rates,
            added_on_top_countries=frozenset(code.upper() for code in self.tax_added_on_top_countries),
        )

    def same_day_rules(self) -> dict[str, list[SameDayArea]]:
        """``same_day_areas`` as the domain reads them."""
        return {
            location: [
                SameDayArea(
                    country=area.country,
                    region=area.region,
                    city=area.city,
                    postal_prefixes=tuple(area.postal_prefixes),
                )
                for area in areas
            ]
            for location, areas in self.same_day_areas.items()
        }

    win_back_offers: dict[str, WinBackOfferSetting] = Field(
        default={
            "changed_mind": WinBackOfferSetting(kind="link", link="size_guide"),
            "return_policy": WinBackOfferSetting(kind="link", link="size_guide"),
            "shipping_cost": WinBackOfferSetting(kind="free_shipping", valid_days=30),
            "delivery_time": WinBackOfferSetting(kind="link", link="similar_products"),
            "found_cheaper": WinBackOfferSetting(
                kind="fixed_amount", amount_off={"KRW": 5000, "USD": 500}, valid_days=30
            ),
            "other": WinBackOfferSetting(kind="percent", percent_off=10, valid_days=30),
        },
        description="What a customer who cancels is offered, by cancellation reason: a single-use code tied to them "
        '({"kind": "percent", "percent_off": 10}, {"kind": "fixed_amount", "amount_off": {"KRW": 5000}} per '
        'currency, {"kind": "free_shipping"}, each with "valid_days", default 30), a link with no code '
        '({"kind": "link", "link": "size_guide" | "similar_products"}), or nothing (a reason not listed). '
        "Reasons: changed_mind, shipping_cost, delivery_time, return_policy, payment_method, account_required, "
        "found_cheaper, other.",
    )
    feedback_link_days: int = Field(
        default=60,
        ge=1,
        le=365,
        description="How long the feedback link of a cancellation email works.",
    )
    saved_within_days: float = Field(
        default=30,
        gt=0,
        description="A cancellation counts as saved when the customer orders again within this many days.",
    )
    return_window_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days after delivery (or shipment, while not delivered) a customer may request a return.",
    )
    return_shipping_fee: dict[str, int] = Field(
        default={"KRW": 3000, "USD": 500},
        description="Kept from a return's refund, by currency, when the reason is the customer's.",
    )
    restocking_fee_percent: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Percent of resellable units' value kept when the customer changed their mind.",
    )
    draft_expiry_hours: float = Field(
        default=30 * 24,
        gt=0,
        description="An open draft order expires (and its held units are released) this long after it was made.",
    )
