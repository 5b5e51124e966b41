"""Gateway settings. The keys and port use the names operators were given: SHOP_STAFF_API_KEY, SHOP_WAREHOUSE_API_KEY, SHOP_GATEWAY_PORT."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Created once at start-up; the API keys have no defaults, so a gateway never runs with a guessable key."""

    model_config = SettingsConfigDict(env_prefix="SHOP_", extra="ignore", frozen=True)

    staff_api_key: str = Field(min_length=16)
    warehouse_api_key: str = Field(min_length=16)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    catalog_url: str = "http://127.0.0.1:8101"
    orders_url: str = "http://127.0.0.1:8102"
    payments_url: str = "http://127.0.0.1:8103"
    fulfillment_url: str = "http://127.0.0.1:8104"
    notifications_url: str = "http://127.0.0.1:8105"
    service_timeout_seconds: float = Field(default=5.0, gt=0)

    gateway_otlp_endpoint: str | None = None
    gateway_span_file: str | None = None
    gateway_log_level: str = "INFO"
