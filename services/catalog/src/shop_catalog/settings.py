"""Catalog settings (env prefix SHOP_CATALOG_)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shop_runtime.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_CATALOG_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "catalog"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_catalog"
    http_port: int = 8101
    stock_hold_minutes: float = Field(
        default=15,
        gt=0,
        le=24 * 60,
        description="How long units held at checkout wait for the order's reserve to claim them. The reserve "
        "normally follows within a second; a hold it never claims (the order was not stored) is given back "
        "after this, and a reserve arriving later is refused.",
    )
    low_stock_default_threshold: int | None = Field(
        default=None,
        ge=0,
        description="Low-stock threshold for SKUs staff gave none: staff are alerted once when a SKU's available "
        "units (on hand less reserved less safety stock, over all locations) fall to it or below. Unset: only SKUs "
        "with their own threshold are watched.",
    )
