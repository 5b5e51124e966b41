"""Fulfillment's composition root: how its HTTP app and worker are put together from settings."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shop_contracts.routing import WAREHOUSE_EXCHANGE
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


def signing(settings: ServiceSettings) -> dict[str, str]:
    """Every message to warehouse systems is signed with the first warehouse signing secret, if one is set."""
    assert isinstance(settings, FulfillmentSettings)
    secrets = settings.signing_secrets
    return {WAREHOUSE_EXCHANGE: secrets[0]} if secrets else {}


DEFINITION = ServiceDefinition(
    name="fulfillment",
    settings_class=FulfillmentSettings,
    metadata=tables.metadata,
    migrations_path=Path(__file__).parent / "migrations",
    create_app=create_http_app,
    subscriptions=subscriptions,
    signing=signing,
)
