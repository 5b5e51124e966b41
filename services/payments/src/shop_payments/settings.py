"""Payments settings (env prefix SHOP_PAYMENTS_)."""

from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shop_runtime.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_PAYMENTS_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "payments"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_payments"
    http_port: int = 8103
    psp: Literal["sandbox"] = Field(
        default="sandbox", description="Which payment service provider adapter charges cards."
    )
