"""The gateway's calls to the services: the request's trace context and id go with them, over kept-alive
connections."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from shop_gateway.logs import request_id_var
from shop_gateway.services import Services
from shop_runtime.problems import Problem
from tests.unit.api.test_connections import HoldingServer, holding


def services_recording(seen: list[httpx.Request], *, client_spans: bool = False) -> Services:
    services = Services({"orders": "http://orders.internal"}, timeout=1, client_spans=client_spans)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    services._clients["orders"] = httpx.AsyncClient(
        base_url="http://orders.internal", transport=httpx.MockTransport(answer)
    )
    return services


async def test_a_call_carries_the_trace_context_of_the_request_and_its_id() -> None:
    seen: list[httpx.Request] = []
    services = services_recording(seen)
    token = request_id_var.set("req-12345678")
    try:
        with TracerProvider().get_tracer("t").start_as_current_span("POST /v1/orders") as span:
            await services.call("orders", "GET", "/variants/TEE-1")
    finally:
        request_id_var.reset(token)
        await services.close()
    [request] = seen
    context = span.get_span_context()
    _, trace_id, parent_id, _ = request.headers["traceparent"].split("-")
    assert (trace_id, parent_id) == (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    assert request.headers["x-request-id"] == "req-12345678"


async def test_with_client_spans_the_call_still_carries_the_trace() -> None:
    seen: list[httpx.Request] = []
    services = services_recording(seen, client_spans=True)
    try:
        with TracerProvider().get_tracer("t").start_as_current_span("POST /v1/orders") as span:
            await services.call("orders", "GET", "/variants/TEE-1")
    finally:
        await services.close()
    _, trace_id, _, _ = seen[0].headers["traceparent"].split("-")
    assert trace_id == format(span.get_span_context().trace_id, "032x")


async def test_a_service_that_is_down_is_a_503_problem() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    services = Services({"orders": f"http://127.0.0.1:{port}"}, timeout=1)
    with pytest.raises(Problem) as down:
        await services.call("orders", "GET", "/ready")
    assert down.value.status == 503
    await services.close()


async def test_a_call_that_gets_no_connection_within_the_timeout_is_a_503_to_come_back_later() -> None:
    server = HoldingServer(trickle=True)
    async with holding(server) as url:
        services = Services({"orders": url}, timeout=0.5, max_connections=1)
        held = asyncio.create_task(services.call("orders", "GET", "/held"))
        await server.wait_for_requests(1)
        with pytest.raises(Problem) as busy:
            await services.call("orders", "GET", "/waits")
        server.release.set()
        assert (await held).json() == {}
        await services.close()
    assert busy.value.status == 503
    assert busy.value.headers == {"Retry-After": "2"}
    assert "/waits" not in server.targets
