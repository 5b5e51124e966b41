"""Calls to the services' internal HTTP APIs, answered as the public API answers: JSON or a problem.

The one place that names the services: each gets a pooled HTTP client and a typed client of its API
(``shop_api``), whose methods own the paths; the routes call those methods and pass the answers on."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi.responses import JSONResponse
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from shop_api.catalog import CatalogClient
from shop_api.connections import ServiceConnections
from shop_api.fulfillment import FulfillmentClient
from shop_api.notifications import NotificationsClient
from shop_api.orders.client import OrdersClient
from shop_api.payments import PaymentsClient
from shop_api.transport import ServiceCall, ServiceClient
from shop_gateway.logs import request_id_var, request_path_var
from shop_runtime.card_data import mask_card_numbers
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


class PassedOnJson(JSONResponse):
    """A JSON answer whose content may be a service's JSON bytes, sent as they are."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


def passed_on(response: httpx.Response, public_path: str | None = None) -> JSONResponse:
    """A service's answer passed through to the caller: its status, body (a problem with its public fields only,
    ``instance`` the public path) and format, and whether it replayed an idempotent request.

    A body that is not a problem goes on as the service's bytes (checked to be JSON, as a problem is parsed to
    keep its public fields): parsing and encoding it again would change nothing."""
    passed_headers = {k: v for k, v in response.headers.items() if k.lower() == "idempotent-replayed"}
    if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return JSONResponse(
            public_body(response, public_path or request_path_var.get()),
            status_code=response.status_code,
            media_type=PROBLEM_JSON,
            headers=passed_headers,
        )
    public_body(response, None)  # a service's answer that is not JSON is a 503, as before
    return PassedOnJson(
        response.content,
        status_code=response.status_code,
        media_type="application/json",
        headers=passed_headers,
    )


class Services:
    """One pooled HTTP client per service, created at start-up, and a typed client of each service's API.

    Every call carries the request's trace context (W3C ``traceparent``), so the service's spans join the
    gateway's trace. With ``client_spans`` each call is a client span of its own as well (see
    ``gateway_trace_service_calls``)."""

    def __init__(
        self,
        urls: dict[str, str],
        *,
        timeout: float,
        client_spans: bool = False,
        max_connections: int = ServiceConnections.MAX_CONNECTIONS,
    ) -> None:
        self._client_spans = client_spans
        self._tracer = trace.get_tracer("shop_gateway.services")
        self._clients: dict[str, ServiceConnections | httpx.AsyncClient] = {
            name: ServiceConnections(
                url, timeout=timeout, user_agent="shop-gateway", max_connections=max_connections
            )
            for name, url in urls.items()
        }
        """Tests put an ``httpx.AsyncClient`` (a mock transport) in its place; both answer ``request`` alike."""
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
            if self._client_spans:
                response = await self._traced(
                    service, method, path, json=json, content=content, params=params, headers=headers
                )
            else:
                propagate.inject(headers)
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

    async def _traced(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any,
        content: bytes | None,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        """The call as a client span (its method, service and path, card numbers masked) that the service's
        server span continues."""
        attributes = {
            "http.request.method": method,
            "server.address": service,
            "url.path": mask_card_numbers(path),
        }
        with self._tracer.start_as_current_span(
            f"{method} {service}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            propagate.inject(headers)
            response = await self._clients[service].request(
                method, path, json=json, content=content, params=params, headers=headers
            )
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    async def ready(self, service: str) -> bool:
        try:
            return (await self._clients[service].request("GET", "/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
