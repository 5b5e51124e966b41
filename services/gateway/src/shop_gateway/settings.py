"""Gateway settings. The keys and port use the names operators were given: SHOP_STAFF_API_KEY, SHOP_WAREHOUSE_API_KEY,
SHOP_SUPPORT_API_KEY, SHOP_GATEWAY_PORT.

Each API key setting takes a comma-separated list, so a key is rotated without downtime: deploy ``old,new``, move the
callers to ``new``, then deploy ``new`` alone.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shop_gateway.customer_tokens import MIN_KEY_LENGTH as MIN_TOKEN_KEY_LENGTH
from shop_gateway.domain import Role, overlapping_keys, parse_keys

MIN_KEY_LENGTH = 16

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class GatewaySettings(BaseSettings):
    """Created once at start-up; the staff and warehouse keys have no defaults, so a gateway never runs with a
    guessable key. The support key is optional: unset, the read-only support role is off."""

    model_config = SettingsConfigDict(env_prefix="SHOP_", extra="ignore", frozen=True)

    staff_api_key: str = Field(min_length=MIN_KEY_LENGTH)
    warehouse_api_key: str = Field(min_length=MIN_KEY_LENGTH)
    support_api_key: str | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_keep_alive_seconds: int = Field(
        default=75,
        ge=1,
        description="How long the gateway keeps a client's idle connection open. Longer than the idle timeout of "
        "what stands in front of it (a load balancer's is commonly 60 s) and of HTTP clients' pools (httpx's is "
        "5 s): with uvicorn's 5 s, a client sending on a connection at the moment the gateway closes it gets a "
        "reset instead of an answer.",
    )

    catalog_url: str = "http://127.0.0.1:8101"
    orders_url: str = "http://127.0.0.1:8102"
    payments_url: str = "http://127.0.0.1:8103"
    fulfillment_url: str = "http://127.0.0.1:8104"
    notifications_url: str = "http://127.0.0.1:8105"
    service_timeout_seconds: float = Field(default=5.0, gt=0)
    gateway_service_connections: int = Field(default=100, ge=1, le=10_000)
    """Connections this gateway replica opens at most to each service. More calls at once wait for a free one,
    first come first served, for up to ``service_timeout_seconds`` and are then answered 503; waiting costs no CPU
    however many wait. Size it to what a service's HTTP process serves at once with profit (its database pool,
    its cores), times the service's replicas over the gateway's."""
    gateway_cancel_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    """How long a cancel waits for fulfillment to stop what is with the warehouse before answering 202."""
    gateway_storefront_url: str = "http://127.0.0.1:8000"
    """The storefront's base URL: where the hosted feedback page's win-back links go (its size guide at
    ``/size-guide``, products like the cancelled ones at ``/similar``), as the cancellation email's do."""

    gateway_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    """Request bodies above this are refused with 413 before they are parsed."""
    gateway_checkout_rate_per_second: float = Field(default=50.0, ge=0)
    """Checkouts (POST /v1/orders) a client address may place per second, sustained, per gateway replica; 0 turns
    the limit off. The default is a flood ceiling that local stacks and system tests (hundreds of quick checkouts
    from 127.0.0.1) never reach; a public deployment sets it much lower (e.g. 1 per second, burst 20)."""
    gateway_checkout_burst: int = Field(default=1000, ge=1)
    """Checkouts a client address may place at once before the sustained rate applies."""
    gateway_checkout_concurrency: int = Field(default=32, ge=0)
    """Checkouts this gateway replica handles at once; the next wait their turn in arrival order. In a drop this is
    first come, first served, and a 503 ``busy`` after the wait instead of every checkout slowing down together
    until calls to the services time out. 0: no limit (a crowd of 2,000 buyers at once then ends in timeouts)."""
    gateway_checkout_wait_seconds: float = Field(default=10.0, gt=0)
    """How long a checkout waits for its turn before it is answered 503 ``busy`` with Retry-After."""
    gateway_checkout_retry_after_seconds: int = Field(default=1, ge=1)
    gateway_view_rate_per_second: float = Field(default=20.0, ge=0)
    """Product views (POST /v1/products/{id}/views) a client address may report per second, per replica; 0: off."""
    gateway_view_burst: int = Field(default=100, ge=1)
    gateway_trusted_proxies: str = ""
    """Comma-separated addresses or networks (CIDR) of proxies whose X-Forwarded-For is believed; empty: none."""

    gateway_customer_token_keys: str | None = None
    """Comma-separated keys that sign customers' bearer tokens (each at least 32 characters): the first signs,
    all verify, so ``new,old`` rotates without logging anyone out. Unset: a random key per process (tokens die with
    the process and do not work across replicas; fine for a laptop, never for a deployment)."""
    gateway_customer_token_minutes: float = Field(default=15, gt=0, le=24 * 60)
    """How long a customer's bearer token is valid after login."""
    gateway_login_rate_per_email_per_minute: float = Field(default=1.0, ge=0)
    """Logins tried for one email (whatever its case) per minute, sustained, per replica; 0 turns it off."""
    gateway_login_burst_per_email: int = Field(default=10, ge=1)
    gateway_login_rate_per_client_per_second: float = Field(default=1.0, ge=0)
    """Logins and sign-ups from one client address per second, sustained, per replica; 0 turns it off."""
    gateway_login_burst_per_client: int = Field(default=100, ge=1)
    gateway_test_clock_file: str | None = None
    """Tests only: read the time from this offset file (shop_runtime.clock.FileClock), as the services do."""

    gateway_access_log: bool = True
    """One log line per request: method, path, status, duration and request id (never headers or bodies). It is
    the line support finds a request id by. Its cost is the logging call, redaction, JSON and a write per request:
    in the gateway app measured in process, 0.2-0.3 ms of CPU per checkout (about a quarter of the app's own);
    in the running gateway under wrk, within the noise of alternating rounds (docs/benchmarks.md, "Async
    dependencies, httptools and uvloop" and "A lean gateway": about 5% of the gateway's samples on a checkout)."""

    gateway_otlp_endpoint: str | None = None
    gateway_span_file: str | None = None
    gateway_trace_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    """Share of new traces recorded (a request is where an order's trace begins); the services follow it."""
    gateway_trace_service_calls: bool = False
    """A client span for every call the gateway makes to a service. Off, the trace is the same tree less those
    spans: each call still carries the trace context, and the service's own server span (a child of the gateway's)
    shows the call. On, each call costs the gateway about 0.3 ms more CPU (measured on the sold-out checkout: see
    docs/benchmarks.md, "A lean HTTP path")."""
    gateway_log_level: str = "INFO"

    @field_validator("staff_api_key", "warehouse_api_key", "support_api_key")
    @classmethod
    def _keys_are_long(cls, value: str | None) -> str | None:
        for key in parse_keys(value):
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(f"every API key needs at least {MIN_KEY_LENGTH} characters")
        if value is not None and value.strip() and not parse_keys(value):
            raise ValueError("no API key given")
        return value

    @field_validator("gateway_customer_token_keys")
    @classmethod
    def _token_keys_are_long(cls, value: str | None) -> str | None:
        for key in parse_keys(value):
            if len(key) < MIN_TOKEN_KEY_LENGTH:
                raise ValueError(f"every token signing key needs at least {MIN_TOKEN_KEY_LENGTH} characters")
        return value

    @field_validator("gateway_trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for item in parse_keys(value):
            ipaddress.ip_network(item, strict=False)
        return value

    @model_validator(mode="after")
    def _a_key_has_one_role(self) -> GatewaySettings:
        if overlapping_keys(self.api_keys):
            raise ValueError("an API key is configured for more than one role")
        return self

    @property
    def api_keys(self) -> dict[Role, tuple[str, ...]]:
        """Each role's accepted keys (several during a rotation); a role with no key is off."""
        keys = {
            Role.STAFF: parse_keys(self.staff_api_key),
            Role.SUPPORT: parse_keys(self.support_api_key),
            Role.WAREHOUSE: parse_keys(self.warehouse_api_key),
        }
        return {role: role_keys for role, role_keys in keys.items() if role_keys}

    @property
    def customer_token_keys(self) -> tuple[str, ...]:
        """The configured signing keys, the signing one first; empty when unset."""
        return parse_keys(self.gateway_customer_token_keys)

    @property
    def trusted_proxies(self) -> tuple[IpNetwork, ...]:
        return tuple(
            ipaddress.ip_network(item, strict=False) for item in parse_keys(self.gateway_trusted_proxies)
        )
