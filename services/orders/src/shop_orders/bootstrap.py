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
from shop_api.connections import ServiceConnections
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


CATALOG_CONNECTIONS = 32
"""Kept-alive connections to catalog at most; more holds at once wait for one (within the hold's timeout)."""


def with_catalog(settings: ServiceSettings) -> Any:
    """The service's lifespan, plus pooled connections to catalog for checkout's holds (``app.state.holds``) and
    checkout's reads outside a transaction (``app.state.checkout_reads``)."""
    assert isinstance(settings, OrdersSettings)
    service = asynccontextmanager(service_lifespan(settings, DEFINITION.database))

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A pool of one origin's connections, as the gateway's (``shop_api.connections``): constant work per
        # hold however many checkouts wait for a connection, where httpcore's general pool walked every waiting
        # request against every connection on each call and answer. Each step times out after the hold's
        # timeout, and failures are httpx's exceptions, as under httpx's client.
        catalog = ServiceConnections(
            settings.catalog_url,
            timeout=settings.stock_hold_timeout_seconds,
            user_agent="shop-orders",
            max_connections=CATALOG_CONNECTIONS,
        )

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
            return await catalog.request(
                method, path, json=json, content=content, params=params, headers=carrier
            )

        async with service(app):
            app.state.holds = CatalogHolds(CatalogClient(call))
            reads = SqlCheckoutReads.connect(
                settings.database_url, pool_size=settings.checkout_reads_pool_size
            )
            app.state.checkout_reads = reads
            try:
                yield
            finally:
                await reads.close()
                await catalog.aclose()

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
