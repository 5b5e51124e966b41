"""``python -m shop_gateway``: run the public HTTP API."""

import asyncio

import uvicorn

from shop_gateway.bootstrap import create_http_app
from shop_gateway.settings import GatewaySettings
from shop_runtime.telemetry import setup_telemetry


def main() -> None:
    settings = GatewaySettings()
    provider = setup_telemetry(
        "gateway",
        process="http",
        otlp_endpoint=settings.gateway_otlp_endpoint,
        span_file=settings.gateway_span_file,
        log_level=settings.gateway_log_level,
    )
    config = uvicorn.Config(
        create_http_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    try:
        asyncio.run(uvicorn.Server(config).serve())
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
