"""The ops tool's settings: every service database's URL and the broker, read from the services' own env names.

An operator's shell that runs the shop (``scripts.stack`` exports ``SHOP_<SERVICE>_DATABASE_URL`` and
``SHOP_<SERVICE>_AMQP_URL``) needs no further configuration; ``SHOP_OPS_*`` names win when both are set.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_SERVICES = ("orders", "catalog", "payments", "fulfillment", "notifications")
"""Every service with a database, in the order the audit takes its snapshots (see ``databases``)."""

BROKER_SERVICES = ("catalog", "orders", "payments", "fulfillment", "notifications")
"""Every service that consumes messages and so has a parking queue."""


def _database_url(service: str) -> Any:
    return Field(
        default=f"postgresql+asyncpg://postgres@127.0.0.1:5432/shop_{service}",
        validation_alias=AliasChoices(
            f"SHOP_OPS_{service.upper()}_DATABASE_URL",
            f"SHOP_{service.upper()}_DATABASE_URL",
            f"{service}_database_url",
        ),
    )


class OpsSettings(BaseSettings):
    """Created once by the CLI (or an HTTP app later); never at import time."""

    model_config = SettingsConfigDict(
        env_prefix="SHOP_OPS_", extra="ignore", frozen=True, populate_by_name=True
    )

    orders_database_url: str = _database_url("orders")
    catalog_database_url: str = _database_url("catalog")
    payments_database_url: str = _database_url("payments")
    fulfillment_database_url: str = _database_url("fulfillment")
    notifications_database_url: str = _database_url("notifications")
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        validation_alias=AliasChoices("SHOP_OPS_AMQP_URL", "SHOP_ORDERS_AMQP_URL", "amqp_url"),
    )

    jaeger_url: str | None = Field(
        default="http://127.0.0.1:16686",
        description="Jaeger's UI: `order <id>` prints a link to each of the order's traces there; empty for none.",
    )
    outbox_max_age_seconds: float = Field(
        default=60.0, gt=0, description="An outbox row unpublished for longer is a violation."
    )
    fulfillment_grace_seconds: float = Field(
        default=300.0, gt=0, description="How long a confirmed order may go without a fulfillment order."
    )
    waiting_after_seconds: float = Field(
        default=3600.0, gt=0, description="A paid order unshipped for longer is reported as waiting."
    )

    @field_validator(
        "orders_database_url",
        "catalog_database_url",
        "payments_database_url",
        "fulfillment_database_url",
        "notifications_database_url",
    )
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("database URLs must use the postgresql+asyncpg:// driver")
        return value

    def database_urls(self) -> dict[str, str]:
        """Each service's database URL, in snapshot order."""
        return {service: getattr(self, f"{service}_database_url") for service in DATABASE_SERVICES}
