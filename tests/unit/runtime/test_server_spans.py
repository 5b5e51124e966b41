"""The HTTP processes' server span: one per request, continuing the caller's trace, named by route."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shop_runtime.http import ServerSpanMiddleware

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
VISA = "4242424242424242"


def traced_app() -> tuple[TestClient, InMemorySpanExporter]:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: ServerSpanMiddleware(build(), tracer_provider=provider)  # type: ignore[method-assign]
    return TestClient(app, raise_server_exceptions=False), exporter


def test_a_request_continues_the_callers_trace_in_one_server_span_named_by_its_route() -> None:
    client, exporter = traced_app()
    response = client.get("/items/abc", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    assert response.status_code == 200
    [span] = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /items/{item_id}"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200


def test_a_request_without_a_trace_starts_one_and_probes_are_not_traced() -> None:
    client, exporter = traced_app()
    client.get("/health")
    client.get("/items/x")
    [span] = exporter.get_finished_spans()
    assert span.parent is None
    assert span.name == "GET /items/{item_id}"


def test_a_card_number_in_the_path_never_reaches_the_span() -> None:
    client, exporter = traced_app()
    client.get(f"/items/{VISA}")
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert VISA not in str(dict(span.attributes))


def test_an_unhandled_error_marks_the_span() -> None:
    client, exporter = traced_app()
    assert client.get("/broken").status_code == 500
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 500
