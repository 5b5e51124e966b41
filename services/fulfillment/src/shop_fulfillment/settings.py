"""Fulfillment settings (env prefix SHOP_FULFILLMENT_)."""

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shop_runtime.settings import ServiceSettings
from shop_runtime.signatures import parse_secrets

MIN_SECRET_LENGTH = 16


class FulfillmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_FULFILLMENT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "fulfillment"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_fulfillment"
    http_port: int = 8104
    warehouse_signing_secrets: SecretStr | None = Field(
        default=None,
        description="Secrets that sign every message to warehouse systems (the Shop-Signature header), "
        "comma-separated: the first signs. Rotate by giving warehouses 'new,old' to verify with, then "
        "signing with 'new'. Unset: messages go unsigned.",
    )

    @field_validator("warehouse_signing_secrets")
    @classmethod
    def _secrets_are_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and any(
            len(secret) < MIN_SECRET_LENGTH for secret in parse_secrets(value.get_secret_value())
        ):
            raise ValueError(f"every signing secret needs at least {MIN_SECRET_LENGTH} characters")
        return value

    @property
    def signing_secrets(self) -> tuple[str, ...]:
        secrets = self.warehouse_signing_secrets
        return parse_secrets(secrets.get_secret_value() if secrets else None)
