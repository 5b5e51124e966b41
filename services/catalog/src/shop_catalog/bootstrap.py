"""Catalog's composition root: how its HTTP app and worker are put together from settings."""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI

from shop_catalog import api, consumers, holds_api, low_stock_api, tables
from shop_catalog.handlers.low_stock import configure_low_stock
from shop_catalog.settings import CatalogSettings
from shop_runtime.consumer import Subscriptions
from shop_runtime.http import SERVICE_READINESS, create_app, service_lifespan
from shop_runtime.scheduling import Jobs
from shop_runtime.service import ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings


def create_http_app(settings: ServiceSettings) -> FastAPI:
    _configure(settings)
    return create_app(
        title="catalog (internal)",
        routers=[holds_api.router, low_stock_api.router, api.router],
        lifespan=service_lifespan(settings, DEFINITION.database),
        readiness_checks=SERVICE_READINESS,
    )


def _configure(settings: ServiceSettings) -> None:
    assert isinstance(settings, CatalogSettings)
    configure_low_stock(settings.low_stock_default_threshold)


def subscriptions(context: WorkerContext) -> Subscriptions:
    _configure(context.settings)
    return {
        message: functools.partial(consumer, clock=context.clock)
        for message, consumer in consumers.SUBSCRIPTIONS.items()
    }


def jobs(context: WorkerContext) -> Jobs:
    return {kind: functools.partial(job, clock=context.clock) for kind, job in consumers.JOBS.items()}


DEFINITION = ServiceDefinition(
    name="catalog",
    settings_class=CatalogSettings,
    metadata=tables.metadata,
    migrations_path=Path(__file__).parent / "migrations",
    create_app=create_http_app,
    subscriptions=subscriptions,
    jobs=jobs,
)
