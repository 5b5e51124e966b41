"""What every body shares: the strict base that refuses unknown fields and unsafe text, the answer base that
keeps unknown fields, and the value types many bodies use (SKU, currency, email, amounts)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=SKU_PATTERN)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["KRW"])]
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Locale = Literal["ko", "en"]

INT4_MAX = 2_147_483_647
MAX_AMOUNT = 1_000_000_000_000
"""Money in minor units: a trillion is far above any price and far below what the services store."""
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""Control characters (tab and newlines are fine) and lone surrogates: the services' databases cannot store
NUL or half a character, and nobody types the rest."""


def check_text(value: Any) -> Any:
    """Refuse unsafe characters in every string of a value, keys of mappings included."""
    if isinstance(value, str):
        if _UNSAFE_TEXT.search(value):
            raise ValueError("must not contain control characters or invalid Unicode")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item)
    return value


def example(body: dict[str, Any]) -> ConfigDict:
    """A request body's config naming its example: the OpenAPI document shows it with the body, and a unit test
    checks that the body model accepts it."""
    return ConfigDict(json_schema_extra={"examples": [body]})


class Strict(BaseModel):
    """A request body: unknown fields are refused by name, and no string carries control characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_safe(cls, value: Any) -> Any:
        return check_text(value)


class Answer(BaseModel):
    """An answer body: the fields documented here are always there; more may come, and clients keep them."""

    model_config = ConfigDict(extra="allow")
