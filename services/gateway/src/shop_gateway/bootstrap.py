"""Gateway's composition root: the public app, its service clients and readiness over every service."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from shop_gateway import api
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings
from shop_runtime.http import create_app

DESCRIPTION = """Public API of the shop: storefront (products, orders), staff (`X-Api-Key` staff key) and
warehouse (`X-Api-Key` warehouse key). Errors are `application/problem+json` (RFC 9457) and name the field."""


def create_http_app(settings: GatewaySettings) -> FastAPI:
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        HTTPXClientInstrumentor().instrument()
        app.state.settings = settings
        app.state.services = Services(
            {
                "catalog": settings.catalog_url,
                "orders": settings.orders_url,
                "payments": settings.payments_url,
                "fulfillment": settings.fulfillment_url,
                "notifications": settings.notifications_url,
            },
            timeout=settings.service_timeout_seconds,
        )
        try:
            yield
        finally:
            await app.state.services.close()

    async def every_service_ready(app: FastAPI) -> None:
        services: Services = app.state.services
        not_ready = [name for name in services.names if not await services.ready(name)]
        if not_ready:
            raise ConnectionError(f"not ready: {', '.join(not_ready)}")

    return create_app(
        title="Shop API",
        description=DESCRIPTION,
        routers=[api.router],
        lifespan=lifespan,
        readiness_checks=[every_service_ready],
    )
