"""Notifications settings (env prefix SHOP_NOTIFICATIONS_)."""

import json
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shop_runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_NOTIFICATIONS_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "notifications"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_notifications"
    http_port: int = 8105

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=False, description="Require STARTTLS before sending.")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_idle_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long the sender keeps its SMTP connection open with no mail due: while mail keeps coming, "
        "every email goes over one connection.",
    )
    mail_from: str = "Shop <orders@shop.example>"
    storefront_url: str = Field(
        default="http://127.0.0.1:8000", description="The storefront's base URL, where links in emails point."
    )
    customer_links: Literal["hosted", "storefront"] = Field(
        default="hosted",
        description="Where the links in emails go: hosted, the customer pages the gateway serves at gateway_url/pages "
        "(order status, pre-order decision, invoice, preferences); storefront, the same paths on storefront_url "
        "with the same signed token in the query (the storefront checks it with GET /v1/page-links).",
    )
    gateway_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The gateway's public base URL: the hosted pages and the one-click unsubscribe link.",
    )
    page_link_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="How long a link to an order, decision or invoice page works after its email is sent.",
    )
    preference_link_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="How long an unsubscribe or preferences link works after it is sent.",
    )

    staff_alert_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Where staff alerts (low stock) go: addresses separated by commas (or a JSON list). Empty: no alert is "
        "emailed, and each one is recorded as suppressed with why.",
    )
    staff_locale: Literal["ko", "en"] = Field(default="ko", description="The language of staff alerts.")

    sender_poll_seconds: float = Field(default=1.0, gt=0, description="How often the sender looks for mail.")
    sender_batch_size: int = Field(default=10, ge=1, description="Emails claimed (and locked) per batch.")
    sender_max_attempts: int = Field(default=5, ge=1, description="SMTP tries before an email is failed.")
    sender_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="Wait after the first failed try; it doubles with every further one."
    )
    sender_retry_max_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("staff_alert_emails", mode="before")
    @classmethod
    def _addresses_separated_by_commas(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)  # a JSON list, as other list settings are written
        if isinstance(value, str):
            return [address.strip() for address in value.split(",") if address.strip()]
        return value

    @field_validator("staff_alert_emails")
    @classmethod
    def _addresses_look_like_email(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(character.isspace() for character in address):
                raise ValueError(f"staff_alert_emails: {address!r} is not an email address")
        return value

    @field_validator("storefront_url", "gateway_url")
    @classmethod
    def _urls_are_web_addresses(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{info.field_name} must start with http:// or https://")
        return value.rstrip("/")  # links append "/orders/..."

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both smtp_username and smtp_password, or neither")
        return self
