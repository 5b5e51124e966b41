"""Value types shared by several messages."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# Money and Locale are defined with Money's rules and stay importable from here, with the other values.
from shop_contracts.money import Locale as Locale
from shop_contracts.money import Money as Money
from shop_contracts.money import NonNegativeMoney

CurrencyCode = str


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Customer(Value):
    """Who hears about an order, and in which language."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    locale: Locale


class Address(Value):
    name: str
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country: str = Field(pattern=r"^[A-Z]{2}$")


class RequestedLine(Value):
    sku: str
    quantity: int = Field(gt=0)


class LocatedLine(Value):
    """Units of one SKU at one stock location."""

    sku: str
    quantity: int = Field(gt=0)
    location: str


class PricedLineV1(Value):
    sku: str
    title: str
    quantity: int = Field(gt=0)
    unit_price: int
    line_total: int


class PricedLine(Value):
    """A line of an order at its price, in the order's currency (version 2 of ``PricedLineV1``, whose amounts are
    bare minor units)."""

    sku: str
    title: str
    quantity: int = Field(gt=0)
    unit_price: NonNegativeMoney
    line_total: NonNegativeMoney

    @classmethod
    def from_previous(cls, previous: PricedLineV1, *, currency: str) -> PricedLine:
        """``previous``, whose amounts are minor units of ``currency``, meaning the same."""
        return cls(
            sku=previous.sku,
            title=previous.title,
            quantity=previous.quantity,
            unit_price=Money(previous.unit_price, currency),
            line_total=Money(previous.line_total, currency),
        )


PaymentMode = Literal["pay_now", "deposit", "pay_later"]
BalanceDue = Literal["on_ready", "at", "after"]


class EarlyBirdTier(Value):
    """``percent_off`` for orders placed before day ``until_day`` of the window (None: until it closes)."""

    until_day: int | None = Field(default=None, ge=1)
    percent_off: int = Field(ge=0, le=90)


class PreorderPolicy(Value):
    """How a variant sells before its stock exists; set by staff in catalog, copied by orders."""

    payment_mode: PaymentMode
    deposit_percent: int | None = Field(default=None, ge=1, le=99)
    deposit_amounts: dict[str, int] = Field(
        default_factory=dict, description="Fixed deposit per unit by currency."
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    cap: int | None = Field(default=None, ge=1)
    per_customer_limit: int | None = Field(default=None, ge=1)
    expected_ship_date: date | None = None
    expected_ship_latest: date | None = None
    balance_due: BalanceDue = "on_ready"
    balance_due_at: AwareDatetime | None = None
    balance_due_after_hours: int | None = Field(default=None, ge=1)
    deposit_refundable: bool = True
    continue_selling_when_sold_out: bool = False
    early_bird_tiers: list[EarlyBirdTier] = Field(default_factory=list)
    early_access_segment: str | None = None
    early_access_starts_at: AwareDatetime | None = None


class PreorderLine(Value):
    """Units of one SKU accepted as a pre-order: their place in the queue and when they should ship."""

    sku: str
    quantity: int = Field(gt=0)
    queue_position: int = Field(ge=1)
    expected_ship_date: date | None = None
