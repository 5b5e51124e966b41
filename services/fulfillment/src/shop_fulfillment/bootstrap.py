"""Fulfillment's composition root: how its HTTP app and worker are put together from settings."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shop_fulfillment import api, consumers, tables
from shop_fulfillment.settings import FulfillmentSettings
from shop_runtime.consumer import Subscriptions
from shop_runtime.http import SERVICE_READINESS, create_app, service_lifespan
from shop_runtime.service import ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings


def create_http_app(settings: ServiceSettings) -> FastAPI:
    return create_app(
        title="fulfillment (internal)",
        routers=[api.router],
        lifespan=service_lifespan(settings, DEFINITION.database),
        readiness_checks=SERVICE_READINESS,
    )


def subscriptions(context: WorkerContext) -> Subscriptions:
    return consumers.SUBSCRIPTIONS


DEFINITION = ServiceDefinition(
    name="fulfillment",
    settings_class=FulfillmentSettings,
    metadata=tables.metadata,
    migrations_path=Path(__file__).parent / "migrations",
    create_app=create_http_app,
    subscriptions=subscriptions,
)
