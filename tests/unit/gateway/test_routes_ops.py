"""The dead-letter staff routes with the services faked: who may read, replay and purge, and what is passed on."""

from __future__ import annotations

import httpx

from shop_gateway.bootstrap import create_http_app
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings
from tests.unit.gateway.test_app import SUPPORT, WAREHOUSE, build

STAFF = {"X-Api-Key": "staff-key-new-0123456789"}
ROOT = "/v1/admin/dead-letters"


def parking(requests: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        service = request.url.host
        path = request.url.path
        if request.method == "GET" and path == "/dead-letters":
            if service == "fulfillment":
                return httpx.Response(503, text="down")
            items = (
                [{"id": "m-1", "type": "t", "attempts": 4, "error": "boom"}] if service == "payments" else []
            )
            return httpx.Response(200, json={"service": service, "count": len(items), "items": items})
        if request.method == "DELETE" and request.url.params.get("confirm") != "1":
            return httpx.Response(
                409,
                json={"title": "confirm", "status": 409, "code": "purge_not_confirmed"},
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(200, json={"service": service, "path": path})

    return httpx.MockTransport(answer)


def client_with(requests: list[httpx.Request]) -> httpx.AsyncClient:
    app = build()
    services = Services({}, timeout=1)
    services._clients = {
        name: httpx.AsyncClient(base_url=f"http://{name}", transport=parking(requests))
        for name in ("catalog", "orders", "payments", "fulfillment", "notifications")
    }
    app.state.services = services
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_staff_and_support_read_every_service_s_parked_messages_and_a_service_down_is_named() -> None:
    async with client_with([]) as client:
        for headers in (STAFF, SUPPORT):
            listed = await client.get(ROOT, headers=headers)
            assert listed.status_code == 200
            body = listed.json()
            assert body["total"] == 1
            assert [entry["service"] for entry in body["services"]] == [
                "catalog",
                "orders",
                "payments",
                "notifications",
            ]
            assert body["unavailable"] == ["fulfillment"]
            shown = await client.get(f"{ROOT}/payments/m-1", headers=headers)
            assert shown.json() == {"service": "payments", "path": "/dead-letters/m-1"}


async def test_only_staff_replay_or_purge_and_warehouse_sees_nothing() -> None:
    requests: list[httpx.Request] = []
    async with client_with(requests) as client:
        calls = [
            ("POST", f"{ROOT}/orders/m-1/replay"),
            ("POST", f"{ROOT}/orders/replay"),
            ("DELETE", f"{ROOT}/orders?confirm=1"),
        ]
        for method, path in calls:
            assert (await client.request(method, path, headers=SUPPORT)).status_code == 403
            assert (await client.request(method, path, headers=WAREHOUSE)).status_code == 403
            assert (await client.request(method, path)).status_code == 401
        assert requests == []
        assert (await client.get(ROOT, headers=WAREHOUSE)).status_code == 403
        assert (await client.get(f"{ROOT}/orders/m-1", headers=WAREHOUSE)).status_code == 403

        for method, path in calls:
            assert (await client.request(method, path, headers=STAFF)).status_code == 200
        assert [(r.method, r.url.host, r.url.path) for r in requests] == [
            ("POST", "orders", "/dead-letters/m-1/replay"),
            ("POST", "orders", "/dead-letters/replay"),
            ("DELETE", "orders", "/dead-letters"),
        ]


async def test_a_purge_without_the_confirmed_count_is_a_409_problem_and_services_are_named_by_the_list() -> (
    None
):
    async with client_with([]) as client:
        unconfirmed = await client.delete(f"{ROOT}/orders", headers=STAFF)
        assert unconfirmed.status_code == 409
        assert unconfirmed.headers["content-type"] == "application/problem+json"
        assert unconfirmed.json()["instance"] == f"{ROOT}/orders"
        unknown = await client.get(f"{ROOT}/warehouse/m-1", headers=STAFF)
        assert unknown.status_code == 422
        assert (await client.delete(f"{ROOT}/orders?confirm=-1", headers=STAFF)).status_code == 422


def test_the_routes_are_in_the_public_schema() -> None:
    app = create_http_app(GatewaySettings(staff_api_key="s" * 16, warehouse_api_key="w" * 16))
    paths = app.openapi()["paths"]
    assert {ROOT, f"{ROOT}/{{service}}", f"{ROOT}/{{service}}/replay", "/v1/webhooks/psp"} <= set(paths)


async def test_a_message_id_cannot_walk_to_another_internal_route() -> None:
    requests: list[httpx.Request] = []
    async with client_with(requests) as client:
        for message_id in ("..", "..%2Fpayments", "x%3Fconfirm%3D1", ".hidden"):
            response = await client.post(f"{ROOT}/orders/{message_id}/replay", headers=STAFF)
            assert response.status_code in (404, 405, 422), (message_id, response.status_code)
    assert requests == []
