"""Fulfillment settings (env prefix SHOP_FULFILLMENT_)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shop_runtime.settings import ServiceSettings


class FulfillmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_FULFILLMENT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "fulfillment"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_fulfillment"
    http_port: int = 8104
