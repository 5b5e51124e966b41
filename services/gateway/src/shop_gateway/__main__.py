"""``python -m shop_gateway``: run the public HTTP API."""

import gc

import uvicorn
from starlette.types import ASGIApp

from shop_gateway.bootstrap import create_http_app
from shop_gateway.logs import install_log_redaction
from shop_gateway.settings import GatewaySettings
from shop_runtime.http import run_http_process, server_config
from shop_runtime.telemetry import setup_telemetry


def main() -> None:
    settings = GatewaySettings()
    provider = setup_telemetry(
        "gateway",
        process="http",
        otlp_endpoint=settings.gateway_otlp_endpoint,
        span_file=settings.gateway_span_file,
        log_level=settings.gateway_log_level,
        sample_ratio=settings.gateway_trace_sample_ratio,
    )
    install_log_redaction(
        [*(key for keys in settings.api_keys.values() for key in keys), *settings.customer_token_keys]
    )
    app = create_http_app(settings)
    # Everything built so far (modules, the app, its routes and models) lives as long as the process: out of the
    # collector's sight, a collection walks only what requests made, so its cost follows the requests in flight
    # and not the size of the program (docs/benchmarks.md, "The gateway in a crowd").
    gc.collect()  # what start-up left as garbage is freed, not kept for good
    gc.freeze()
    try:
        run_http_process(uvicorn.Server(gateway_server_config(app, settings)).serve())
    finally:
        provider.shutdown()


def gateway_server_config(app: ASGIApp, settings: GatewaySettings) -> uvicorn.Config:
    """uvicorn as the gateway runs it: the shop's HTTP server (``server_config``), facing clients."""
    return server_config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        grace_seconds=10,
        # Never take the client address from X-Forwarded-For here: uvicorn would trust it from 127.0.0.1.
        # The gateway reads it itself, and only from the proxies in SHOP_GATEWAY_TRUSTED_PROXIES.
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=settings.gateway_keep_alive_seconds,
    )


if __name__ == "__main__":
    main()
