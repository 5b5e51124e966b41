"""The gateway app in process, its services faked: roles, limits, headers, request ids and problem bodies."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shop_gateway.bootstrap import create_http_app
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings

STAFF = {"X-Api-Key": "staff-key-new-0123456789"}
OLD_STAFF = {"X-Api-Key": "staff-key-old-0123456789"}
SUPPORT = {"X-Api-Key": "support-key-0123456789"}
WAREHOUSE = {"X-Api-Key": "warehouse-key-0123456789"}
ORDER_ID = str(uuid.uuid4())

Handler = Callable[[httpx.Request], httpx.Response]


def internal(request: httpx.Request) -> httpx.Response:
    """The services as the gateway sees them: a few canned answers."""
    path = request.url.path
    if path.startswith("/orders/"):
        if (
            request.headers.get("x-caller-role") == "staff"
            or request.headers.get("x-order-access-token") == "good"
        ):
            return httpx.Response(200, json={"id": ORDER_ID, "status": "pending", "fulfillments": []})
        return httpx.Response(
            404,
            json={"type": "about:blank", "title": "no order", "status": 404, "instance": path, "trace": "x"},
            headers={"content-type": "application/problem+json"},
        )
    if path == "/orders":
        return httpx.Response(
            202,
            json={"id": ORDER_ID, "status": "pending", "access_token": "good"},
            headers={"Location": f"/orders/{ORDER_ID}", "Idempotent-Replayed": "false"},
        )
    if path.startswith("/preorder-policies/BOOM"):
        return httpx.Response(500, text="Traceback ... at http://10.0.0.3:8101/internal")
    if path.startswith("/preorder-policies/") or path == "/inbounds":
        return httpx.Response(200, json={"ok": True})
    if path.startswith("/payment-methods/"):
        return httpx.Response(200, json={"brand": "visa", "last4": "4242"})
    if path in ("/payments", "/fulfillments"):
        return httpx.Response(200, json={"items": []})
    if path == "/pick-requests":
        return httpx.Response(200, json={"items": []})
    return httpx.Response(201, json={"id": str(uuid.uuid4())})


def build(**overrides: Any) -> FastAPI:
    settings = GatewaySettings(
        staff_api_key="staff-key-old-0123456789,staff-key-new-0123456789",
        warehouse_api_key="warehouse-key-0123456789",
        support_api_key="support-key-0123456789",
        **overrides,
    )
    app = create_http_app(settings)
    services = Services({}, timeout=1)
    transport = httpx.MockTransport(internal)
    services._clients = {
        name: httpx.AsyncClient(base_url=f"http://{name}", transport=transport)
        for name in ("catalog", "orders", "payments", "fulfillment", "notifications")
    }
    app.state.services = services
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://gw") as c:
        yield c


def checkout(**extra: Any) -> dict[str, Any]:
    return {
        "email": "a@example.com",
        "locale": "en",
        "currency": "KRW",
        "lines": [{"sku": "TEE-1", "quantity": 1}],
        "shipping_address": {
            "name": "A",
            "line1": "1 Road",
            "city": "Seoul",
            "postal_code": "06236",
            "country": "KR",
        },
        "shipping_method": "standard",
        "payment": {"token": "tok_visa"},
        **extra,
    }


async def test_roles_each_reach_only_their_calls(client: httpx.AsyncClient) -> None:
    policy = "/v1/admin/variants/TEE-1/preorder-policy"
    for headers in (STAFF, OLD_STAFF, SUPPORT):
        assert (await client.get(policy, headers=headers)).status_code == 200
        assert (await client.get("/v1/admin/inbounds?sku=TEE-1", headers=headers)).status_code == 200
        assert (await client.get(f"/v1/orders/{ORDER_ID}", headers=headers)).status_code == 200
    assert (await client.delete(policy, headers=STAFF)).status_code == 200
    denied = await client.delete(policy, headers=SUPPORT)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert (await client.get(policy, headers=WAREHOUSE)).status_code == 403
    assert (await client.get(f"/v1/orders/{ORDER_ID}", headers=WAREHOUSE)).status_code == 403
    picks = "/v1/warehouse/pick-requests?location=seoul-1"
    assert (await client.get(picks, headers=WAREHOUSE)).status_code == 200
    assert (await client.get(picks, headers=STAFF)).status_code == 403
    assert (await client.get(picks, headers=SUPPORT)).status_code == 403
    assert (await client.get(picks)).status_code == 401
    assert (await client.get(picks, headers={"X-Api-Key": "nope-nope-nope-nope"})).status_code == 401


async def test_the_support_role_is_off_without_its_key() -> None:
    settings = GatewaySettings(staff_api_key="s" * 16, warehouse_api_key="w" * 16)
    assert settings.support_api_key is None
    app = create_http_app(settings)
    app.state.services = build().state.services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        response = await c.get(f"/v1/orders/{ORDER_ID}", headers=SUPPORT)
    assert response.status_code == 401


def test_short_or_shared_keys_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        GatewaySettings(staff_api_key="s" * 16 + ",short", warehouse_api_key="w" * 16)
    with pytest.raises(ValueError, match="more than one role"):
        GatewaySettings(staff_api_key="s" * 16, warehouse_api_key="w" * 16, support_api_key="s" * 16)


async def test_an_order_opens_only_with_its_own_token(client: httpx.AsyncClient) -> None:
    assert (
        await client.get(f"/v1/orders/{ORDER_ID}", headers={"Authorization": "Bearer good"})
    ).status_code == 200
    wrong = await client.get(f"/v1/orders/{ORDER_ID}", headers={"Authorization": "Bearer other"})
    assert wrong.status_code == 404
    assert wrong.json() == {
        "type": "about:blank",
        "title": "no order",
        "status": 404,
        "instance": f"/v1/orders/{ORDER_ID}",
    }
    assert (await client.get(f"/v1/orders/{ORDER_ID}")).status_code == 401
    assert (
        await client.get("/v1/orders/not-a-uuid", headers={"Authorization": "Bearer good"})
    ).status_code == 422


async def test_checkout_is_rate_limited_per_client_with_retry_after() -> None:
    app = build(gateway_checkout_rate_per_second=0.01, gateway_checkout_burst=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        statuses = []
        for _ in range(3):
            response = await c.post(
                "/v1/orders", json=checkout(), headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            statuses.append(response.status_code)
    assert statuses == [202, 202, 429]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["code"] == "rate_limited"


async def test_a_placed_order_points_at_its_public_path(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/orders", json=checkout(), headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 202
    assert response.headers["Location"] == f"/v1/orders/{ORDER_ID}"
    assert response.headers["Idempotent-Replayed"] == "false"


async def test_orders_gets_the_buyers_checkout_and_same_day_adds_catalogs_stock() -> None:
    """A checkout goes to orders as the buyer sent it (orders validates it again); for same-day delivery the
    gateway adds what catalog counts at each location."""
    app = build()
    sent: list[tuple[str, bytes, str]] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, request.content, request.headers.get("content-type", "")))
        if request.url.path.startswith("/inventory/"):
            return httpx.Response(200, json={"locations": [{"location": "seoul-1", "available": 3}]})
        return internal(request)

    app.state.services._clients = {
        name: httpx.AsyncClient(base_url=f"http://{name}", transport=httpx.MockTransport(recording))
        for name in ("catalog", "orders")
    }
    buyers = json.dumps(checkout(), indent=1).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        standard = await c.post(
            "/v1/orders",
            content=buyers,
            headers={"Idempotency-Key": "k-raw", "Content-Type": "application/json"},
        )
        same_day = await c.post(
            "/v1/orders", json=checkout(shipping_method="same_day"), headers={"Idempotency-Key": "k-sd"}
        )
    assert standard.status_code == same_day.status_code == 202
    assert standard.json() == {"id": ORDER_ID, "status": "pending", "access_token": "good"}
    to_orders = [(body, kind) for path, body, kind in sent if path == "/orders"]
    assert to_orders[0] == (buyers, "application/json")
    assert json.loads(to_orders[1][0])["stock_at_locations"] == {"seoul-1": {"TEE-1": 3}}


async def test_fields_a_customer_may_not_set_are_refused_by_name(client: httpx.AsyncClient) -> None:
    body = checkout(status="paid", total=1)
    body["lines"][0]["unit_price"] = 1
    response = await client.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"status", "total", "lines[0].unit_price"} <= fields


async def test_a_body_over_the_limit_is_refused_before_parsing() -> None:
    app = build(gateway_max_body_bytes=2048)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        big = checkout(shipping_method="x" * 5000)
        response = await c.post("/v1/orders", json=big, headers={"Idempotency-Key": "k"})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "body_too_large"
        assert response.headers["x-content-type-options"] == "nosniff"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b" " * 1000

        chunked = await c.post("/v1/orders", content=chunks(), headers={"Idempotency-Key": "k"})
        assert chunked.status_code == 413

        async def small_chunks() -> AsyncIterator[bytes]:
            body = json.dumps(checkout()).encode()
            yield body[:100]
            yield body[100:]

        small = await c.post(
            "/v1/orders",
            content=small_chunks(),
            headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        )
        assert small.status_code == 202, small.text


async def test_every_answer_has_a_request_id_and_security_headers(client: httpx.AsyncClient) -> None:
    given = await client.get(f"/v1/orders/{ORDER_ID}", headers={**STAFF, "X-Request-Id": "my-request-0001"})
    assert given.headers["x-request-id"] == "my-request-0001"
    assert given.headers["x-content-type-options"] == "nosniff"
    assert given.headers["cache-control"] == "no-store"
    admin = await client.get("/v1/admin/inbounds?sku=TEE-1", headers=SUPPORT)
    assert admin.headers["cache-control"] == "no-store"
    invalid = await client.get("/health", headers={"X-Request-Id": "bad id\twith spaces"})
    assert invalid.headers["x-request-id"] != "bad id\twith spaces"
    assert len(invalid.headers["x-request-id"]) == 32
    assert "cache-control" not in invalid.headers


async def test_a_failing_service_is_not_named_and_its_error_not_shown(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/admin/variants/BOOM/preorder-policy", headers=STAFF)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    text = response.text
    for leak in ("catalog", "Traceback", "10.0.0.3", "8101", "internal"):
        assert leak not in text


async def test_an_unexpected_error_is_a_bare_500_problem() -> None:
    app = build()

    @app.get("/v1/explode")
    async def explode() -> None:
        raise RuntimeError("secret internals at http://catalog:8101")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://gw"
    ) as c:
        response = await c.get("/v1/explode")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "catalog" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"] in response.json()["detail"]


async def test_a_sku_in_a_path_cannot_walk_to_other_internal_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/admin/variants/..%2Fproducts/preorder-policy", headers=STAFF)
    assert response.status_code in (404, 422)


def test_error_answers_are_documented_as_problem_json() -> None:
    schema = build().openapi()
    responses = schema["paths"]["/v1/orders"]["post"]["responses"]
    assert set(responses) >= {"202", "400", "413", "422", "429", "503"}
    assert list(responses["429"]["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert {"ApiKey", "OrderAccessToken"} <= set(schema["components"]["securitySchemes"])


async def test_every_order_scoped_route_checks_the_token_or_the_role(client: httpx.AsyncClient) -> None:
    cancel = f"/v1/orders/{ORDER_ID}/cancel"
    body = {"reason": "changed_mind"}
    assert (await client.post(cancel, json=body, headers={"Authorization": "Bearer good"})).status_code == 200
    assert (
        await client.post(cancel, json=body, headers={"Authorization": "Bearer other"})
    ).status_code == 404
    assert (await client.post(cancel, json=body)).status_code == 401
    assert (await client.post(cancel, json=body, headers=STAFF)).status_code == 200
    assert (await client.post(cancel, json=body, headers=SUPPORT)).status_code == 403
    assert (await client.post(cancel, json=body, headers=WAREHOUSE)).status_code == 403
    cancellation = f"/v1/orders/{ORDER_ID}/cancellation"
    assert (await client.get(cancellation, headers={"Authorization": "Bearer good"})).status_code == 200
    assert (await client.get(cancellation, headers={"Authorization": "Bearer other"})).status_code == 404
    assert (await client.get(cancellation)).status_code == 401
    assert (await client.get(cancellation, headers=SUPPORT)).status_code == 200
    assert (await client.get(cancellation, headers=WAREHOUSE)).status_code == 403
    order_routes = sorted(
        path for path in build().openapi()["paths"] if path.startswith("/v1/orders/{order_id}")
    )
    assert order_routes == [
        "/v1/orders/{order_id}",
        "/v1/orders/{order_id}/cancel",
        "/v1/orders/{order_id}/cancellation",
        "/v1/orders/{order_id}/payment-method",
        "/v1/orders/{order_id}/preorder-decision",
        "/v1/orders/{order_id}/returns",
    ], "a new order-scoped route: give it order_access() and a test here"
    decide = f"/v1/orders/{ORDER_ID}/preorder-decision"
    answer = {"decision": "cancel"}
    assert (
        await client.post(decide, json=answer, headers={"Authorization": "Bearer good"})
    ).status_code == 200
    assert (
        await client.post(decide, json=answer, headers={"Authorization": "Bearer other"})
    ).status_code == 404
    assert (await client.post(decide, json=answer)).status_code == 401
    assert (await client.post(decide, json=answer, headers=SUPPORT)).status_code == 403
    assert (await client.post(decide, json={"decision": "maybe"}, headers=STAFF)).status_code == 422
    returns = f"/v1/orders/{ORDER_ID}/returns"
    asked = {"lines": [{"sku": "TEE", "quantity": 1}], "reason": "size"}
    assert (
        await client.post(returns, json=asked, headers={"Authorization": "Bearer good"})
    ).status_code == 200
    assert (
        await client.post(returns, json=asked, headers={"Authorization": "Bearer other"})
    ).status_code == 404
    assert (await client.post(returns, json=asked)).status_code == 401
    assert (await client.post(returns, json=asked, headers=SUPPORT)).status_code == 403
    assert (await client.post(returns, json=asked, headers=WAREHOUSE)).status_code == 403
    assert (await client.get(returns, headers={"Authorization": "Bearer good"})).status_code == 200
    assert (await client.get(returns, headers=SUPPORT)).status_code == 200
    assert (await client.get(returns)).status_code == 401
    wrong = {"lines": [{"sku": "TEE", "quantity": 0}], "reason": "bored"}
    refused = await client.post(returns, json=wrong, headers=STAFF)
    assert refused.status_code == 422
    assert {error["field"] for error in refused.json()["errors"]} >= {"lines[0].quantity", "reason"}


def _metrics_answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/preorder-metrics" and request.url.host == "catalog":
        return httpx.Response(
            200,
            json={
                "campaigns": [
                    {
                        "campaign": "HOODIE@always",
                        "sku": "HOODIE",
                        "cap": 3,
                        "views": 4,
                        "sell_out_seconds": 60.0,
                    }
                ]
            },
        )
    if request.url.path == "/preorder-metrics":
        assert request.url.params.get("sku") == "HOODIE"
        return httpx.Response(
            200,
            json={
                "orders": 10,
                "preorder_orders": 2,
                "preorder_share": 0.2,
                "campaigns": [{"campaign": "HOODIE@always", "sku": "HOODIE", "orders": 2, "units": 3}],
            },
        )
    return internal(request)


async def test_preorder_metrics_join_catalog_and_orders_for_staff_and_support_only() -> None:
    app = build()
    transport = httpx.MockTransport(_metrics_answer)
    app.state.services._clients = {
        name: httpx.AsyncClient(base_url=f"http://{name}", transport=transport)
        for name in ("catalog", "orders")
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        for key in (STAFF, SUPPORT):
            response = await c.get("/v1/admin/preorder-metrics", params={"sku": "HOODIE"}, headers=key)
            assert response.status_code == 200, response.text
            [campaign] = response.json()["campaigns"]
            assert (campaign["orders"], campaign["views"], campaign["conversion"]) == (2, 4, 0.5)
            assert campaign["sell_out_seconds"] == 60.0
            assert response.json()["preorder_share"] == 0.2
        warehouse = await c.get("/v1/admin/preorder-metrics", params={"sku": "HOODIE"}, headers=WAREHOUSE)
        assert warehouse.status_code == 403
        assert (
            await c.get("/v1/admin/preorder-metrics", params={"sku": "bad sku!"}, headers=STAFF)
        ).status_code == 422


async def test_product_views_are_rate_limited_per_client() -> None:
    app = build(gateway_view_rate_per_second=0.01, gateway_view_burst=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        view = f"/v1/products/{uuid.uuid4()}/views"
        assert [(await c.post(view, json={"sku": "TEE-1"})).status_code for _ in range(3)] == [201, 201, 429]
        limited = await c.post(view, json={"sku": "TEE-1"})
        assert int(limited.headers["Retry-After"]) >= 1


async def test_changing_an_inbound_is_for_staff_and_needs_something_to_change(
    client: httpx.AsyncClient,
) -> None:
    path = f"/v1/admin/inbounds/{uuid.uuid4()}"
    assert (await client.patch(path, json={"quantity": 3})).status_code == 401
    assert (await client.patch(path, json={"quantity": 3}, headers=SUPPORT)).status_code == 403
    assert (await client.patch(path, json={"quantity": 0}, headers=STAFF)).status_code == 422
    naive = await client.patch(path, json={"expected_at": "2027-01-01T00:00:00"}, headers=STAFF)
    assert naive.status_code == 422


def _cancelling(outcome: dict[str, Any]) -> FastAPI:
    """A gateway whose orders answers a cancel with 202 (fulfillment is being asked), then ``outcome``."""
    followed = {"count": 0}

    def orders(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                202, json={"id": ORDER_ID, "status": "requested", "reason": "other", "refund": 0}
            )
        followed["count"] += 1
        if followed["count"] < 3:
            return httpx.Response(
                200, json={"id": ORDER_ID, "status": "requested", "reason": "other", "refund": 0}
            )
        return httpx.Response(200, json=outcome)

    app = build(gateway_cancel_wait_seconds=5)
    app.state.services._clients["orders"] = httpx.AsyncClient(
        base_url="http://orders", transport=httpx.MockTransport(orders)
    )
    return app


async def _cancel(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        return await c.post(f"/v1/orders/{ORDER_ID}/cancel", json={"reason": "other"}, headers=STAFF)


async def test_a_cancel_waits_for_fulfillment_and_answers_what_it_decided() -> None:
    done = {"id": ORDER_ID, "status": "cancelled", "reason": "other", "refund": 42000, "note": None}
    response = await _cancel(_cancelling(done))
    assert response.status_code == 200
    assert response.json() == {"id": ORDER_ID, "status": "cancelled", "reason": "other", "refund": 42000}


async def test_a_cancel_the_warehouse_refused_is_a_409_that_says_to_request_a_return() -> None:
    refused = {
        "id": ORDER_ID,
        "status": "refused",
        "reason": "other",
        "refund": 0,
        "refused_because": "the warehouse has already packed this order: request a return instead",
    }
    response = await _cancel(_cancelling(refused))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "request a return" in response.json()["detail"]


async def test_replacing_an_orders_payment_method_checks_the_token_or_the_role(
    client: httpx.AsyncClient,
) -> None:
    path = f"/v1/orders/{ORDER_ID}/payment-method"
    body = {"token": "tok_visa"}
    replaced = await client.put(path, json=body, headers={"Authorization": "Bearer good"})
    assert replaced.status_code == 200
    assert replaced.json() == {"brand": "visa", "last4": "4242"}
    assert (await client.put(path, json=body, headers={"Authorization": "Bearer other"})).status_code == 404
    assert (await client.put(path, json=body)).status_code == 401
    assert (await client.put(path, json=body, headers=STAFF)).status_code == 200
    assert (await client.put(path, json=body, headers=SUPPORT)).status_code == 403
    assert (await client.put(path, json=body, headers=WAREHOUSE)).status_code == 403
    no_token = await client.put(path, json={}, headers={"Authorization": "Bearer good"})
    assert no_token.status_code == 422
    assert [error["field"] for error in no_token.json()["errors"]] == ["token"]
    card_number = await client.put(
        path, json={"token": "tok_visa", "card_number": "4242424242424242"}, headers=STAFF
    )
    assert card_number.status_code == 422
