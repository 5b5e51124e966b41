"""Every endpoint and dependency of every HTTP app is a coroutine: FastAPI runs a plain ``def`` in a thread
pool, and that hand-over to a thread and back cost each gateway checkout more than the work itself."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shop_catalog.bootstrap import DEFINITION as CATALOG
from shop_fulfillment.bootstrap import DEFINITION as FULFILLMENT
from shop_gateway.bootstrap import create_http_app
from shop_gateway.settings import GatewaySettings
from shop_notifications.bootstrap import DEFINITION as NOTIFICATIONS
from shop_orders.bootstrap import DEFINITION as ORDERS
from shop_payments.bootstrap import DEFINITION as PAYMENTS
from shop_runtime.service import ServiceDefinition


def runs_on_the_event_loop(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    method = getattr(call, "__call__", None)  # a security scheme instance: its __call__ is async  # noqa: B004
    return not inspect.isfunction(call) and inspect.iscoroutinefunction(method)


def threaded(dependant: Dependant) -> list[str]:
    found = []
    if dependant.call is not None and not runs_on_the_event_loop(dependant.call):
        found.append(getattr(dependant.call, "__qualname__", repr(dependant.call)))
    for inner in dependant.dependencies:
        found += threaded(inner)
    return found


def api_routes(routes: list[Any]) -> list[tuple[APIRoute, list[Any]]]:
    """Every API route with the dependencies its routers add (FastAPI keeps included routers as they were)."""
    found: list[tuple[APIRoute, list[Any]]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((route, []))
        elif (router := getattr(route, "original_router", None)) is not None:
            added = [depends.dependency for depends in route.include_context.dependencies]
            found += [(inner, added + more) for inner, more in api_routes(router.routes)]
    return found


def service_app(definition: ServiceDefinition) -> FastAPI:
    settings = definition.settings_class(database_url="postgresql+asyncpg://127.0.0.1/unused", http_port=1)
    return definition.http_app(settings)


def gateway_app() -> FastAPI:
    return create_http_app(GatewaySettings(staff_api_key="s" * 16, warehouse_api_key="w" * 16))


SERVICES = {
    definition.name: definition for definition in (CATALOG, ORDERS, PAYMENTS, FULFILLMENT, NOTIFICATIONS)
}


@pytest.mark.parametrize("name", ["gateway", *sorted(SERVICES)])
def test_no_endpoint_or_dependency_runs_in_a_thread(name: str) -> None:
    app = gateway_app() if name == "gateway" else service_app(SERVICES[name])
    routes = api_routes(app.routes)
    assert len(routes) > 3
    offenders = {
        f"{sorted(route.methods or ())[0]} {route.path}": calls
        for route, added in routes
        if (
            calls := threaded(route.dependant)
            + [repr(call) for call in added if not runs_on_the_event_loop(call)]
        )
    }
    assert offenders == {}
