"""How the gateway's HTTP server faces clients: idle connections outlive the pools in front of it."""

from __future__ import annotations

from starlette.applications import Starlette

from shop_gateway.__main__ import gateway_server_config
from shop_gateway.settings import GatewaySettings

KEYS = {"staff_api_key": "s" * 16, "warehouse_api_key": "w" * 16}


def test_an_idle_client_connection_is_kept_longer_than_a_load_balancers_idle_timeout() -> None:
    config = gateway_server_config(Starlette(), GatewaySettings(**KEYS))  # type: ignore[arg-type]

    assert config.timeout_keep_alive == 75 > 60  # a load balancer's common idle timeout
    assert (config.proxy_headers, config.server_header) == (False, False)


def test_the_keep_alive_is_a_setting() -> None:
    settings = GatewaySettings(**KEYS, gateway_keep_alive_seconds=120)  # type: ignore[arg-type]

    assert gateway_server_config(Starlette(), settings).timeout_keep_alive == 120
