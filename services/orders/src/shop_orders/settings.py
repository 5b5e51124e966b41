"""Orders settings (env prefix SHOP_ORDERS_)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shop_runtime.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_ORDERS_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "orders"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_orders"
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
    balance_notice_hours: float = Field(
        default=24,
        ge=0,
        description="How long before a deferred balance charge the customer is reminded of it.",
    )
    shipping_rates: dict[str, dict[str, int]] = Field(
        default={"standard": {"KRW": 3000, "USD": 500}, "express": {"KRW": 6000, "USD": 1500}},
        description="Shipping charged once per order, by method and currency, in minor units.",
    )
    free_shipping_over: dict[str, int] = Field(
        default_factory=dict,
        description="Shipping is free when an order's subtotal (before a discount code) reaches this amount, by "
        'currency in minor units, e.g. {"KRW": 50000}; none by default.',
    )
    tax_rates: dict[str, int] = Field(
        default={"KR": 1000},
        description="Tax included in prices, in basis points, by shipping country or COUNTRY-REGION "
        "(KR: 10 % VAT). Orders show the tax their total includes; prices never add tax on top.",
    )
    win_back_discount_percent: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Percent off a next order offered after a cancellation (0: none) until staff set it.",
    )
    win_back_valid_days: int = Field(default=30, ge=1, le=365, description="How long a win-back code holds.")
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
