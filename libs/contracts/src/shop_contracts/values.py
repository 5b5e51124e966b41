"""Value types shared by several messages."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CurrencyCode = str
Locale = Literal["ko", "en"]


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Money(Value):
    """An amount in the currency's minor unit (KRW has none, USD has cents)."""

    amount: int
    currency: CurrencyCode = Field(pattern=r"^[A-Z]{3}$")


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


class PricedLine(Value):
    sku: str
    title: str
    quantity: int = Field(gt=0)
    unit_price: int
    line_total: int
