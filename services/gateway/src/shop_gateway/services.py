"""Calls to the services' internal HTTP APIs, answered as the public API answers: JSON or a problem.

The one place that names the services: each gets a pooled HTTP client and a typed client of its API
(``shop_api``), whose methods own the paths; the routes call those methods and pass the answers on."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi.responses import JSONResponse

from shop_api.catalog import CatalogClient
from shop_api.fulfillment import FulfillmentClient
from shop_api.notifications import NotificationsClient
from shop_api.orders.client import OrdersClient
from shop_api.payments import PaymentsClient
from shop_api.transport import ServiceCall, ServiceClient
from shop_gateway.logs import request_id_var, request_path_var
from shop_runtime.problems import PROBLEM_JSON, Problem

log = logging.getLogger(__name__)

PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "errors")
"""What of a service's problem reaches the public: never its internal path (``instance``) or other extensions."""


def unavailable() -> Problem:
    """A service is down or failing: said without naming it (internal names and URLs stay inside)."""
    return Problem(
        503,
        "The shop cannot answer this right now",
        "try again shortly",
        code="service_unavailable",
        headers={"Retry-After": "2"},
    )


def public_body(response: httpx.Response, public_path: str | None) -> Any:
    """A service's JSON answer as the public may see it; a problem keeps only its public fields."""
    try:
        body = response.json()
    except ValueError as error:
        log.warning("a service answered %d with a body that is not JSON", response.status_code)
        raise unavailable() from error
    if response.headers.get("content-type", "").startswith(PROBLEM_JSON) and isinstance(body, dict):
        body = {key: body[key] for key in PROBLEM_FIELDS if key in body}
        if public_path:
            body["instance"] = public_path
    return body


def passed_on(response: httpx.Response, public_path: str | None = None) -> JSONResponse:
    """A service's answer passed through to the caller: its status, body (a problem with its public fields only,
    ``instance`` the public path) and format, and whether it replayed an idempotent request."""
    media_type = (
        PROBLEM_JSON
        if response.headers.get("content-type", "").startswith(PROBLEM_JSON)
        else "application/json"
    )
    passed_headers = {k: v for k, v in response.headers.items() if k.lower() == "idempotent-replayed"}
    return JSONResponse(
        public_body(response, public_path or request_path_var.get()),
        status_code=response.status_code,
        media_type=media_type,
        headers=passed_headers,
    )


class Services:
    """One pooled HTTP client per service, created at start-up, and a typed client of each service's API."""

    def __init__(self, urls: dict[str, str], *, timeout: float) -> None:
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout, headers={"User-Agent": "shop-gateway"})
            for name, url in urls.items()
        }
        self.catalog = CatalogClient(self._transport("catalog"))
        self.orders = OrdersClient(self._transport("orders"))
        self.payments = PaymentsClient(self._transport("payments"))
        self.fulfillment = FulfillmentClient(self._transport("fulfillment"))
        self.notifications = NotificationsClient(self._transport("notifications"))

    @property
    def names(self) -> list[str]:
        return list(self._clients)

    def client(self, service: str) -> ServiceClient:
        """A service's client by its name (the operator routes take the name from the path)."""
        clients: dict[str, ServiceClient] = {
            "catalog": self.catalog,
            "orders": self.orders,
            "payments": self.payments,
            "fulfillment": self.fulfillment,
            "notifications": self.notifications,
        }
        return clients[service]

    def _transport(self, service: str) -> ServiceCall:
        async def call(
            method: str,
            path: str,
            *,
            json: Any = None,
            content: bytes | None = None,
            params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
        ) -> httpx.Response:
            return await self.call(
                service, method, path, json=json, content=content, params=params, headers=headers
            )

        return call

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Call ``service``; an unreachable or failing service becomes a 503 problem, never a 500.

        ``content`` sends raw bytes instead of ``json`` (a signed webhook must reach its verifier unchanged)."""
        headers = dict(headers or {})
        if (request_id := request_id_var.get()) is not None:
            headers["X-Request-Id"] = request_id
        try:
            response = await self._clients[service].request(
                method, path, json=json, content=content, params=params, headers=headers
            )
        except httpx.HTTPError as error:
            log.warning("%s is unreachable: %s", service, error)
            raise unavailable() from error
        if response.status_code >= 500:
            log.warning("%s answered %d: %s", service, response.status_code, response.text[:500])
            raise unavailable()
        return response

    async def ready(self, service: str) -> bool:
        try:
            return (await self._clients[service].get("/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
