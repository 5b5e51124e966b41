"""Gateway's composition root: the public app, its service clients, middleware and readiness over every service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from shop_gateway import (
    api,
    routes_cancellations,
    routes_catalog_admin,
    routes_customers,
    routes_drafts,
    routes_feedback_page,
    routes_inventory_alerts,
    routes_ops,
    routes_pages,
    routes_payment_methods,
    routes_preferences,
    routes_preorders_extra,
    routes_returns,
    routes_shipping,
    routes_subscriptions,
    routes_webhooks,
)
from shop_gateway.admission import CheckoutAdmission
from shop_gateway.customer_auth import install_customer_auth
from shop_gateway.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from shop_gateway.openapi import build_document
from shop_gateway.ratelimit import RateLimiter
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings
from shop_runtime.http import create_app

DESCRIPTION = """Public API of the shop: storefront (products, orders), staff (`X-Api-Key`: the staff key for
everything, the support key to read orders and admin data) and warehouse (`X-Api-Key` warehouse key). Errors are
`application/problem+json` (RFC 9457) and name the field. Every answer carries `X-Request-Id` (yours, when you send
a valid one); quote it when asking for help. Checkout is rate-limited per client (429 with `Retry-After`); request
bodies are limited in size (413). Customers sign up with `POST /v1/customers` and log in with `POST /v1/auth/token`
for a bearer token that lasts minutes (`Authorization: Bearer`); it opens `/v1/me` and the account's orders."""


def create_http_app(settings: GatewaySettings) -> FastAPI:
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = Services(
            {
                "catalog": settings.catalog_url,
                "orders": settings.orders_url,
                "payments": settings.payments_url,
                "fulfillment": settings.fulfillment_url,
                "notifications": settings.notifications_url,
            },
            timeout=settings.service_timeout_seconds,
            client_spans=settings.gateway_trace_service_calls,
            max_connections=settings.gateway_service_connections,
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

    app = create_app(
        title="Shop API",
        description=DESCRIPTION,
        routers=[
            api.router,
            routes_customers.router,
            routes_ops.router,
            routes_webhooks.router,
            routes_cancellations.router,
            routes_preorders_extra.router,
            routes_payment_methods.router,
            routes_returns.router,
            routes_drafts.router,
            routes_shipping.router,
            routes_subscriptions.router,
            routes_preferences.router,
            routes_inventory_alerts.router,
            routes_catalog_admin.router,
            routes_pages.links_router,
            routes_pages.router,
            routes_feedback_page.router,
        ],
        lifespan=lifespan,
        readiness_checks=[every_service_ready],
    )
    app.state.settings = settings
    install_customer_auth(app, settings)
    app.state.checkout_limiter = RateLimiter(
        rate=settings.gateway_checkout_rate_per_second, burst=settings.gateway_checkout_burst
    )
    app.state.view_limiter = RateLimiter(
        rate=settings.gateway_view_rate_per_second, burst=settings.gateway_view_burst
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.gateway_max_body_bytes)
    app.add_middleware(
        CheckoutAdmission,
        limit=settings.gateway_checkout_concurrency,
        wait_seconds=settings.gateway_checkout_wait_seconds,
        retry_after_seconds=settings.gateway_checkout_retry_after_seconds,
    )  # inside the request context (its 503 carries the request id), before anything reads the body
    app.add_middleware(
        RequestContextMiddleware, log_requests=settings.gateway_access_log
    )  # outermost: its headers go on every answer, 413s too

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
