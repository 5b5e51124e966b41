"""Catalog settings (env prefix SHOP_CATALOG_)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shop_runtime.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_CATALOG_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "catalog"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_catalog"
    http_port: int = 8101
