"""The bodies of customer accounts: signing up and in, a profile and its addresses, segments, and staff giving an
order to a customer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from shop_api.base import EMAIL_PATTERN, Answer, Strict, example
from shop_api.orders.checkout import AddressIn

EMAIL = Field(pattern=EMAIL_PATTERN, max_length=254, examples=["kim@example.com"])

SEGMENT_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
"""A segment's name is a slug: lowercase letters and digits, words joined by single hyphens or underscores."""
MAX_SEGMENT_LENGTH = 64
"""As long as a pre-order policy's ``early_access_segment`` may be."""
MAX_SEGMENTS = 20
"""Segments one account may be in: as many as catalog's hold takes with a checkout."""
Segment = Annotated[
    str,
    Field(min_length=1, max_length=MAX_SEGMENT_LENGTH, pattern=SEGMENT_PATTERN, examples=["vip"]),
]


def _not_null(value: Any) -> Any:
    """For a change body: a field sent as null is refused (leaving it out keeps it)."""
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep it")
    return value


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


class SegmentsOut(Answer):
    """The segments staff put an account in, by name: catalog opens a pre-order's early access by them."""

    model_config = example({"customer_id": "0b6f1c7e-3f4a-4d2b-9b1e-5c8d7a6e4f21", "items": ["vip"]})

    customer_id: str
    items: list[str]
