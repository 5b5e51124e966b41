"""Orders' composition root: how its HTTP app and worker are put together from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import propagate

from shop_api.catalog import CatalogClient
from shop_orders import consumers
from shop_orders.cancellation import api as cancellation_api
from shop_orders.checkout import api as checkout_api
from shop_orders.checkout.holds import CatalogHolds
from shop_orders.core import tables
from shop_orders.core.repository import SqlCheckoutReads
from shop_orders.customers import api as customer_api
from shop_orders.drafts import api as drafts_api
from shop_orders.preorders import api as preorders_api
from shop_orders.promises import api as promises_api
from shop_orders.returns import api as returns_api
from shop_orders.settings import OrdersSettings
from shop_orders.subscriptions import api as subscriptions_api
from shop_orders.subscriptions import metrics as subscription_metrics
from shop_orders.variants import api as variants_api
from shop_runtime.consumer import Subscriptions
from shop_runtime.http import SERVICE_READINESS, create_app, service_lifespan
from shop_runtime.scheduling import Jobs
from shop_runtime.service import BackgroundTask, ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings


def create_http_app(settings: ServiceSettings) -> FastAPI:
    return create_app(
        title="orders (internal)",
        routers=[
            checkout_api.router,
            variants_api.router,
            cancellation_api.router,
            promises_api.router,
            preorders_api.router,
            customer_api.router,
            returns_api.router,
            drafts_api.router,
            subscriptions_api.router,
        ],
        lifespan=with_catalog(settings),
        readiness_checks=SERVICE_READINESS,
    )


def with_catalog(settings: ServiceSettings) -> Any:
    """The service's lifespan, plus pooled connections to catalog for checkout's holds (``app.state.holds``) and
    checkout's reads outside a transaction (``app.state.checkout_reads``)."""
    assert isinstance(settings, OrdersSettings)
    service = asynccontextmanager(service_lifespan(settings, DEFINITION.database))
    timeout = settings.stock_hold_timeout_seconds
    steps = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    catalog_url = settings.catalog_url.rstrip("/")

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # httpx's transport (httpcore's pool of kept-alive connections) without the client's layers, which a hold
        # never uses (redirects, cookies, auth flows, URL merging, event hooks); each step times out as the
        # client's would, and failures are httpx's exceptions all the same.
        async with (
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=4.0)
            ) as transport,
            service(app),
        ):

            async def call(
                method: str,
                path: str,
                *,
                json: Any = None,
                content: bytes | None = None,
                params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None,
            ) -> httpx.Response:
                carrier = dict(headers or {})
                propagate.inject(carrier)  # the hold joins the checkout's trace
                request = httpx.Request(
                    method,
                    httpx.URL(catalog_url + path, params=params),
                    json=json,
                    content=content,
                    headers=carrier,
                    extensions={"timeout": steps},
                )
                response = await transport.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                response.request = request
                return response

            app.state.holds = CatalogHolds(CatalogClient(call))
            reads = SqlCheckoutReads.connect(
                settings.database_url, pool_size=settings.checkout_reads_pool_size
            )
            app.state.checkout_reads = reads
            try:
                yield
            finally:
                await reads.close()

    return lifespan


def subscriptions(context: WorkerContext) -> Subscriptions:
    assert isinstance(context.settings, OrdersSettings)
    return consumers.subscriptions(clock=context.clock, settings=context.settings)


def jobs(context: WorkerContext) -> Jobs:
    assert isinstance(context.settings, OrdersSettings)
    return consumers.jobs(clock=context.clock, token_secret=context.settings.access_token_secret)


def background(context: WorkerContext) -> Sequence[BackgroundTask]:
    assert isinstance(context.settings, OrdersSettings)
    every = context.settings.subscription_metrics_seconds
    return [subscription_metrics.refresher(context.database, every_seconds=every)]


DEFINITION = ServiceDefinition(
    name="orders",
    settings_class=OrdersSettings,
    metadata=tables.metadata,
    migrations_path=Path(__file__).parent / "migrations",
    create_app=create_http_app,
    subscriptions=subscriptions,
    jobs=jobs,
    background=background,
)
