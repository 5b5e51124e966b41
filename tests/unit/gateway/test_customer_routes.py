"""The gateway's customer routes in process, orders faked: login limits and answers, which headers reach orders,
who may call the staff routes, fields nobody may set, and secrets kept out of logs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shop_gateway.bootstrap import create_http_app
from shop_gateway.customer_tokens import mint
from shop_gateway.logs import REDACTED, Redactor
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings

STAFF = {"X-Api-Key": "staff-key-0123456789"}
SUPPORT = {"X-Api-Key": "support-key-0123456789"}
WAREHOUSE = {"X-Api-Key": "warehouse-key-0123456789"}
KEY = "customer-token-key-0123456789abcdef"
CUSTOMER = str(uuid.uuid4())
ORDER = str(uuid.uuid4())


class FakeOrders:
    """Orders as the gateway sees it: the good password is 'right password'; it records each call."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.path == "/customers/authenticate":
            if b"right password" in request.content:
                return httpx.Response(200, json={"customer_id": CUSTOMER})
            return httpx.Response(
                401,
                json={"type": "about:blank", "title": "internal wording", "status": 401},
                headers={"content-type": "application/problem+json"},
            )
        if request.method == "POST" and request.url.path == "/orders":
            return httpx.Response(202, json={"id": ORDER, "status": "pending", "access_token": "t"})
        if request.method == "POST" and request.url.path == "/customers":
            return httpx.Response(201, json={"id": CUSTOMER})
        return httpx.Response(200, json={"id": CUSTOMER, "items": []})


def build(orders: FakeOrders, **overrides: Any) -> FastAPI:
    settings = GatewaySettings(
        staff_api_key=STAFF["X-Api-Key"],
        warehouse_api_key=WAREHOUSE["X-Api-Key"],
        support_api_key=SUPPORT["X-Api-Key"],
        gateway_customer_token_keys=KEY,
        **overrides,
    )
    app = create_http_app(settings)
    services = Services({}, timeout=1)
    transport = httpx.MockTransport(orders)
    services._clients = {
        name: httpx.AsyncClient(base_url=f"http://{name}", transport=transport)
        for name in ("catalog", "orders", "payments", "fulfillment", "notifications")
    }
    app.state.services = services
    return app


@pytest.fixture
def orders() -> FakeOrders:
    return FakeOrders()


@pytest.fixture
async def client(orders: FakeOrders) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build(orders)), base_url="http://gw") as c:
        yield c


def bearer(customer: str = CUSTOMER, *, key: str = KEY, age: timedelta = timedelta()) -> dict[str, str]:
    token = mint(customer, keys=[key], now=datetime.now(UTC) - age, lifetime=timedelta(minutes=15)).token
    return {"Authorization": f"Bearer {token}"}


async def test_login_answers_a_token_and_one_401_for_every_wrong_login(client: httpx.AsyncClient) -> None:
    good = await client.post(
        "/v1/auth/token", json={"email": "kim@example.com", "password": "right password"}
    )
    assert good.status_code == 200
    assert good.json()["expires_in"] == 15 * 60
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {good.json()['access_token']}"})
    assert me.status_code == 200
    bad = await client.post("/v1/auth/token", json={"email": "kim@example.com", "password": "wrong"})
    assert bad.status_code == 401
    assert bad.json()["title"] == "The email or password is wrong"  # the gateway's words, not orders'
    assert bad.json()["code"] == "invalid_credentials"


async def test_logins_are_limited_per_email_in_any_case_and_per_client(orders: FakeOrders) -> None:
    app = build(orders, gateway_login_burst_per_email=2, gateway_login_burst_per_client=4)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        statuses = [
            (await client.post("/v1/auth/token", json={"email": email, "password": "x"})).status_code
            for email in ("kim@example.com", "KIM@example.com ", "Kim@Example.com", "lee@example.com")
        ]
        assert statuses == [401, 401, 429, 401]
        # four calls from this client so far: its bucket is empty, for logins and sign-ups alike
        limited = await client.post("/v1/auth/token", json={"email": "park@example.com", "password": "x"})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        signup = {"email": "new@example.com", "name": "N", "password": "long enough pw", "locale": "ko"}
        assert (await client.post("/v1/customers", json=signup)).status_code == 429
    assert sum(call.url.path == "/customers/authenticate" for call in orders.calls) == 3


async def test_a_token_that_expired_or_was_signed_elsewhere_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/me", headers=bearer())).status_code == 200
    expired = await client.get("/v1/me", headers=bearer(age=timedelta(minutes=16)))
    assert expired.status_code == 401
    assert expired.json()["code"] == "expired_token"
    forged = await client.get("/v1/me", headers=bearer(key="another-key-0123456789abcdef-xyz"))
    assert forged.json()["code"] == "invalid_token"
    # a customer token that does not verify opens no order either, and does not fall back to a guest checkout
    assert (
        await client.get(f"/v1/orders/{ORDER}", headers=bearer(age=timedelta(hours=1)))
    ).status_code == 401


async def test_orders_hear_the_verified_customer_and_never_a_client_chosen_one(
    client: httpx.AsyncClient, orders: FakeOrders
) -> None:
    await client.get(f"/v1/orders/{ORDER}", headers=bearer())
    await client.get("/v1/me/orders", headers=bearer())
    body = {
        "currency": "KRW",
        "lines": [{"sku": "TEE-1", "quantity": 1}],
        "shipping_method": "standard",
        "payment": {"token": "tok_visa"},
    }
    placed = await client.post("/v1/orders", json=body, headers={**bearer(), "Idempotency-Key": "k1"})
    assert placed.status_code == 202
    seen = [
        (call.url.path, call.headers.get("x-customer-id"))
        for call in orders.calls
        if call.url.path not in ("/payments", "/fulfillments")
    ]
    assert seen == [
        (f"/orders/{ORDER}", CUSTOMER),
        (f"/customers/{CUSTOMER}/orders", None),
        ("/orders", CUSTOMER),
    ]
    forged = await client.post(
        "/v1/orders",
        json={**body, "customer_id": str(uuid.uuid4())},
        headers={"Idempotency-Key": "k2", "X-Customer-Id": str(uuid.uuid4())},
    )
    assert forged.status_code == 422
    assert {error["field"] for error in forged.json()["errors"]} == {"customer_id"}
    guest = await client.post(
        "/v1/orders", json=body, headers={"Idempotency-Key": "k3", "X-Customer-Id": CUSTOMER}
    )
    assert guest.status_code == 202
    assert orders.calls[-1].headers.get("x-customer-id") is None  # a header a client sends is not passed on


async def test_staff_routes_by_role(client: httpx.AsyncClient) -> None:
    find = ("/v1/admin/customers", {"email": "kim@example.com"})
    one = f"/v1/admin/customers/{CUSTOMER}"
    link = (f"/v1/admin/orders/{ORDER}/customer", {"customer_id": CUSTOMER})
    new = {"email": "kim@example.com", "name": "Kim", "locale": "ko"}
    for headers in (STAFF, SUPPORT):
        assert (await client.get(find[0], params=find[1], headers=headers)).status_code == 200
        assert (await client.get(one, headers=headers)).status_code == 200
    assert (await client.put(link[0], json=link[1], headers=STAFF)).status_code == 200
    assert (await client.post("/v1/admin/customers", json=new, headers=STAFF)).status_code == 201
    for headers in (SUPPORT, WAREHOUSE):
        assert (await client.put(link[0], json=link[1], headers=headers)).status_code == 403
        assert (await client.post("/v1/admin/customers", json=new, headers=headers)).status_code == 403
    assert (await client.get(one, headers=WAREHOUSE)).status_code == 403
    assert (await client.get(one, headers=bearer())).status_code == 401  # a customer is not staff
    with_password = await client.post(
        "/v1/admin/customers", json={**new, "password": "x" * 12}, headers=STAFF
    )
    assert with_password.status_code == 422
    assert {error["field"] for error in with_password.json()["errors"]} == {"password"}


async def test_staff_manage_segments_and_a_name_that_is_not_a_slug_never_reaches_orders(
    client: httpx.AsyncClient, orders: FakeOrders
) -> None:
    segments = f"/v1/admin/customers/{CUSTOMER}/segments"
    assert (await client.put(f"{segments}/vip", headers=STAFF)).status_code == 200
    assert (orders.calls[-1].method, orders.calls[-1].url.path) == (
        "PUT",
        f"/customers/{CUSTOMER}/segments/vip",
    )
    for headers in (STAFF, SUPPORT):
        assert (await client.get(segments, headers=headers)).status_code == 200
    for headers in (SUPPORT, WAREHOUSE):
        assert (await client.put(f"{segments}/vip", headers=headers)).status_code == 403
        assert (await client.delete(f"{segments}/vip", headers=headers)).status_code == 403
    assert (await client.put(f"{segments}/vip", headers=bearer())).status_code == 401
    calls = len(orders.calls)
    for bad in ("VIP", "vip%20club", "..%2F..%2Forders", "x" * 65):
        refused = await client.put(f"{segments}/{bad}", headers=STAFF)
        assert refused.status_code in (404, 422), refused.text
        if refused.status_code == 422:
            assert [error["field"] for error in refused.json()["errors"]] == ["path:segment"]
    assert len(orders.calls) == calls


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('{"email": "kim@example.com", "password": "correct horse battery"}', "correct horse battery"),
        ("new_password=hunter2hunter2", "hunter2hunter2"),
        ("token cus1.eyJzdWIiOiJjLTEifQ.c2lnbmF0dXJl issued", "cus1.eyJzdWIiOiJjLTEifQ.c2lnbmF0dXJl"),
        ("Authorization: Bearer cus1.eyJzdWIiOiJjLTEifQ.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        (f"signing with {KEY}", KEY),
    ],
)
def test_passwords_customer_tokens_and_signing_keys_are_redacted(line: str, secret: str) -> None:
    cleaned = Redactor([KEY])(line)
    assert secret not in cleaned
    assert REDACTED in cleaned
