"""Payments settings (env prefix SHOP_PAYMENTS_)."""

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shop_payments.webhooks import parse_secrets
from shop_runtime.settings import ServiceSettings

MIN_SECRET_LENGTH = 16


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_PAYMENTS_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "payments"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_payments"
    http_port: int = 8103
    psp: Literal["sandbox"] = Field(
        default="sandbox", description="Which payment service provider adapter charges cards."
    )
    psp_webhook_secrets: SecretStr | None = Field(
        default=None,
        description="The PSP's webhook signing secrets, comma-separated: any verifies, the first signs "
        "(the sandbox). Rotate with 'new,old', then 'new'. Unset: webhooks are refused.",
    )
    psp_webhook_tolerance_seconds: int = Field(
        default=300, ge=1, description="How far a webhook's signed timestamp may be from now."
    )
    capture_mode: Literal["at_checkout", "at_shipment"] = Field(
        default="at_checkout",
        description="When money is taken for in-stock goods: at_checkout captures at checkout; at_shipment "
        "authorises the order's total at checkout and captures each shipment's share as it ships (deposits, "
        "pay-later and bank transfers are unchanged; an order with pre-order lines is captured on confirmation).",
    )
    hold_settle_margin_hours: float = Field(
        default=24,
        ge=0,
        description="How long before a card hold expires payments settles it: captures what shipped and replaces "
        "the rest by an off-session charge with the saved method.",
    )
    hold_dunning_retry_hours: float = Field(
        default=24,
        gt=0,
        description="When the off-session charge replacing a lapsed card hold fails: wait this long before "
        "charging the saved method again (at once when the customer replaces the card).",
    )
    hold_dunning_period_days: float = Field(
        default=10,
        gt=0,
        description="After this long unpaid, payments stops charging a lapsed hold again and the order waits for "
        "staff (the audit's money.holds_paid lists it).",
    )
    psp_sandbox_hold_days: float = Field(
        default=7, gt=0, description="Sandbox only: how long an authorisation (a card hold) lasts."
    )
    psp_sandbox_webhook_url: str | None = Field(
        default=None,
        description="Sandbox only: where it delivers its webhooks (the gateway's /v1/webhooks/psp).",
    )

    @field_validator("psp_webhook_secrets")
    @classmethod
    def _secrets_are_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and any(
            len(secret) < MIN_SECRET_LENGTH for secret in parse_secrets(value.get_secret_value())
        ):
            raise ValueError(f"every webhook secret needs at least {MIN_SECRET_LENGTH} characters")
        return value

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        return parse_secrets(
            self.psp_webhook_secrets.get_secret_value() if self.psp_webhook_secrets else None
        )
