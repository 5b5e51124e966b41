"""The gateway keeps strangers out (OWASP API Top 10, the gateway's part): roles and rotated keys, object-level
access, refused fields, rate limits, size limits, headers, and no secret in its logs.

Most tests use a second gateway process started here against the running shop's services, with settings the
shared stack does not have: a support key, a rotated staff key, a tight checkout rate limit and debug logging
to a file of its own. It is also a second gateway replica, with its own rate-limit buckets.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import ROOT, Stack
from shop_storefront import checkout, new_sku
from tests.support import infra
from tests.system.conftest import STAFF_KEY, WAREHOUSE_KEY
from tests.system.shop import STAFF, WAREHOUSE, place_order, product_in_stock

pytestmark = pytest.mark.system

ROTATED_STAFF_KEY = "staff-key-rotated-in-for-system-tests"
SUPPORT_KEY = "support-key-for-system-tests"
ROTATED_STAFF = {"X-Api-Key": ROTATED_STAFF_KEY}
SUPPORT = {"X-Api-Key": SUPPORT_KEY}
BURST = 5
SECURE_PORT = infra.PORT_BASE + 60


@pytest.fixture(scope="module")
def secure_gateway_process(stack: Stack) -> Iterator[tuple[str, Path]]:
    """A second gateway on the shop's services: support key on, staff key mid-rotation, tight checkout limit."""
    log_path = stack.config.log_dir / "gateway-security.log"
    env = stack.config.environment()
    env.update(
        {
            "SHOP_GATEWAY_PORT": str(SECURE_PORT),
            "SHOP_STAFF_API_KEY": f"{STAFF_KEY}, {ROTATED_STAFF_KEY}",
            "SHOP_SUPPORT_API_KEY": SUPPORT_KEY,
            "SHOP_WAREHOUSE_API_KEY": WAREHOUSE_KEY,
            "SHOP_GATEWAY_CHECKOUT_RATE_PER_SECOND": "0.01",
            "SHOP_GATEWAY_CHECKOUT_BURST": str(BURST),
            "SHOP_GATEWAY_LOG_LEVEL": "DEBUG",
            "SHOP_GATEWAY_SPAN_FILE": str(stack.config.span_dir / "gateway-security.jsonl"),
        }
    )
    url = f"http://127.0.0.1:{SECURE_PORT}"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shop_gateway"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, "the second gateway did not get ready"
            time.sleep(0.2)
        yield url, log_path
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def secure(secure_gateway_process: tuple[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=secure_gateway_process[0], timeout=10) as client:
        yield client


async def placed_order(gateway: httpx.AsyncClient) -> dict[str, Any]:
    sku = new_sku("SEC")
    await product_in_stock(gateway, sku=sku, units=5)
    response = await place_order(gateway, checkout(sku))
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["status"] == status
    )


async def test_each_role_reaches_only_its_calls(
    gateway: httpx.AsyncClient, secure: httpx.AsyncClient
) -> None:
    order = await placed_order(gateway)
    sku = new_sku("SEC")
    product = {"title": "X", "variants": [{"sku": sku, "prices": [{"currency": "KRW", "amount": 1}]}]}
    inbounds = ("/v1/admin/inbounds", {"sku": sku})
    policy = f"/v1/admin/variants/{sku}/preorder-policy"
    picks = ("/v1/warehouse/pick-requests", {"location": "seoul-1"})

    # support reads orders and admin data ...
    read = await secure.get(f"/v1/orders/{order['id']}", headers=SUPPORT)
    assert read.status_code == 200, read.text
    assert read.json()["id"] == order["id"]
    assert (await secure.get(inbounds[0], params=inbounds[1], headers=SUPPORT)).status_code == 200
    assert (await secure.get(policy, headers=SUPPORT)).status_code == 404  # read allowed: there is no policy
    # ... and writes nothing, nor does warehouse work
    assert is_problem(await secure.post("/v1/admin/products", json=product, headers=SUPPORT), 403)
    assert is_problem(await secure.delete(policy, headers=SUPPORT), 403)
    assert is_problem(await secure.get(picks[0], params=picks[1], headers=SUPPORT), 403)
    cancel = {"reason": "changed_mind"}
    assert is_problem(
        await secure.post(f"/v1/orders/{order['id']}/cancel", json=cancel, headers=SUPPORT), 403
    )
    assert is_problem(
        await secure.post(f"/v1/orders/{order['id']}/cancel", json=cancel, headers=WAREHOUSE), 403
    )
    # warehouse: only warehouse calls
    assert (await secure.get(picks[0], params=picks[1], headers=WAREHOUSE)).status_code == 200
    assert is_problem(await secure.get(f"/v1/orders/{order['id']}", headers=WAREHOUSE), 403)
    assert is_problem(await secure.get(inbounds[0], params=inbounds[1], headers=WAREHOUSE), 403)
    assert is_problem(await secure.post("/v1/admin/products", json=product, headers=WAREHOUSE), 403)
    # staff (admin): everything but warehouse calls
    assert is_problem(await secure.get(picks[0], params=picks[1], headers=STAFF), 403)
    assert (await secure.get(f"/v1/orders/{order['id']}", headers=STAFF)).status_code == 200
    # no key or a key of no role
    assert is_problem(await secure.get(inbounds[0], params=inbounds[1]), 401)
    assert is_problem(
        await secure.get(inbounds[0], params=inbounds[1], headers={"X-Api-Key": "not-a-key-of-anyone"}), 401
    )


async def test_during_a_key_rotation_the_old_and_the_new_staff_key_both_work(
    gateway: httpx.AsyncClient, secure: httpx.AsyncClient
) -> None:
    for headers in (STAFF, ROTATED_STAFF):
        sku = new_sku("ROT")
        product = {"title": "X", "variants": [{"sku": sku, "prices": [{"currency": "KRW", "amount": 1}]}]}
        created = await secure.post("/v1/admin/products", json=product, headers=headers)
        assert created.status_code == 201, created.text
    # the shared gateway has not been given the new key, nor a support key
    assert is_problem(
        await gateway.get("/v1/admin/inbounds", params={"sku": "X"}, headers=ROTATED_STAFF), 401
    )
    assert is_problem(await gateway.get("/v1/admin/inbounds", params={"sku": "X"}, headers=SUPPORT), 401)


async def test_a_customer_opens_only_its_own_order(gateway: httpx.AsyncClient) -> None:
    a = await placed_order(gateway)
    b = await placed_order(gateway)
    own = await gateway.get(f"/v1/orders/{a['id']}", headers={"Authorization": f"Bearer {a['access_token']}"})
    assert own.status_code == 200
    as_a = await gateway.get(
        f"/v1/orders/{b['id']}", headers={"Authorization": f"Bearer {a['access_token']}"}
    )
    missing = await gateway.get(
        f"/v1/orders/{uuid.uuid4()}", headers={"Authorization": f"Bearer {a['access_token']}"}
    )
    assert is_problem(as_a, 404)
    assert is_problem(missing, 404)
    # the same answer as for an order that does not exist: nothing says B's order is there
    strip = {"instance", "title", "detail"}
    assert {k: v for k, v in as_a.json().items() if k not in strip} == {
        k: v for k, v in missing.json().items() if k not in strip
    }
    assert b["access_token"] not in as_a.text
    assert is_problem(await gateway.get(f"/v1/orders/{b['id']}"), 401)
    assert is_problem(
        await gateway.get(f"/v1/orders/{b['id']}", headers={"Authorization": f"Basic {b['access_token']}"}),
        401,
    )
    not_an_id = await gateway.get("/v1/orders/1%20OR%201=1", headers={"Authorization": "Bearer x"})
    assert is_problem(not_an_id, 422)

    # nor cancel it: the same 404, and B's order is untouched
    cancel = {"reason": "changed_mind"}
    as_a = await gateway.post(
        f"/v1/orders/{b['id']}/cancel", json=cancel, headers={"Authorization": f"Bearer {a['access_token']}"}
    )
    assert is_problem(as_a, 404)
    assert is_problem(await gateway.post(f"/v1/orders/{b['id']}/cancel", json=cancel), 401)
    view = await gateway.get(
        f"/v1/orders/{b['id']}", headers={"Authorization": f"Bearer {b['access_token']}"}
    )
    assert view.json()["status"] != "cancelled"


async def test_fields_a_storefront_may_not_set_are_refused_by_name(gateway: httpx.AsyncClient) -> None:
    body = checkout(new_sku())
    body.update({"status": "paid", "total": 1, "discount": 100})
    body["lines"][0]["unit_price"] = 1
    body["payment"]["amount"] = 1
    response = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert is_problem(response, 422)
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"status", "total", "discount", "lines[0].unit_price", "payment.amount"} <= fields
    for name in ("status", "total", "unit_price"):
        assert name in response.json()["detail"]


async def test_checkout_is_rate_limited_per_client_with_retry_after(
    gateway: httpx.AsyncClient, secure: httpx.AsyncClient
) -> None:
    sku = new_sku("RATE")
    await product_in_stock(gateway, sku=sku, units=20)
    assert (await place_order(gateway, checkout(sku))).status_code == 202  # orders knows the SKU now

    statuses = []
    for _ in range(BURST + 1):
        response = await secure.post(
            "/v1/orders", json=checkout(sku), headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        statuses.append(response.status_code)
    assert statuses == [202] * BURST + [429]
    assert is_problem(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    # a client cannot pick a fresh bucket by claiming another address: no proxy is trusted
    spoofed = await secure.post(
        "/v1/orders",
        json=checkout(sku),
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "203.0.113.77"},
    )
    assert spoofed.status_code == 429
    # other calls are not limited
    assert (await secure.get("/v1/products", params={"limit": 1})).status_code == 200


async def test_a_body_over_the_limit_is_refused_with_413(gateway: httpx.AsyncClient) -> None:
    body = checkout(new_sku())
    body["shipping_address"]["line2"] = "x" * 70_000
    response = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert is_problem(response, 413)
    assert response.json()["code"] == "body_too_large"
    staff = await gateway.post(
        "/v1/admin/products",
        content=b"{" + b" " * 70_000 + b"}",
        headers={**STAFF, "Content-Type": "application/json"},
    )
    assert is_problem(staff, 413)


async def test_too_many_lines_or_units_and_long_strings_are_refused_by_name(
    gateway: httpx.AsyncClient,
) -> None:
    body = checkout(new_sku(), quantity=101)
    body["lines"] *= 51
    body["shipping_address"]["name"] = "x" * 201
    response = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert is_problem(response, 422)
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"lines", "shipping_address.name"} <= fields


async def test_answers_carry_security_headers_and_a_request_id(gateway: httpx.AsyncClient) -> None:
    order = await placed_order(gateway)
    read = await gateway.get(
        f"/v1/orders/{order['id']}",
        headers={"Authorization": f"Bearer {order['access_token']}", "X-Request-Id": "support-case-00042"},
    )
    assert read.headers["x-request-id"] == "support-case-00042"
    assert read.headers["x-content-type-options"] == "nosniff"
    assert read.headers["cache-control"] == "no-store"
    admin = await gateway.get("/v1/admin/inbounds", params={"sku": "X"}, headers=STAFF)
    assert admin.headers["cache-control"] == "no-store"
    assert admin.headers["x-content-type-options"] == "nosniff"
    products = await gateway.get("/v1/products", params={"limit": 1}, headers={"X-Request-Id": "no good"})
    assert products.headers["x-content-type-options"] == "nosniff"
    assert len(products.headers["x-request-id"]) == 32  # a fresh one for an id that is not valid
    assert "no-store" not in products.headers.get("cache-control", "")
    # A control character in a header is malformed HTTP: the parser (httptools) refuses it before the app does
    # anything with it, and nothing of it is echoed.
    malformed = await gateway.get("/v1/products", headers={"X-Request-Id": "no good\x7f"})
    assert malformed.status_code == 400
    assert "no good" not in malformed.headers.get("x-request-id", "")


async def test_error_answers_name_no_internal_service_or_address(gateway: httpx.AsyncClient) -> None:
    answers = [
        await gateway.get(f"/v1/products/{uuid.uuid4()}"),
        await gateway.get(f"/v1/admin/variants/{new_sku()}/preorder-policy", headers=STAFF),
        await gateway.post(f"/v1/admin/inbounds/{uuid.uuid4()}/receive", json={"quantity": 1}, headers=STAFF),
        await gateway.post(
            f"/v1/warehouse/fulfillments/{uuid.uuid4()}/events", json={"type": "picked"}, headers=WAREHOUSE
        ),
        await gateway.post(
            "/v1/orders",
            content=b"{not json",
            headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        ),
    ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["instance"].startswith("/v1/"), body
        text = json.dumps(body).lower()
        for leak in (
            "127.0.0.1",
            "localhost",
            "traceback",
            "preorder-policies",
            "/inbounds/",
            "/fulfillments/",
        ):
            assert leak not in text.replace(body["instance"].lower(), ""), body


async def test_no_secret_reaches_the_gateway_log(
    gateway: httpx.AsyncClient, secure: httpx.AsyncClient, secure_gateway_process: tuple[str, Path]
) -> None:
    """Runs last in this module: the second gateway logs at DEBUG, and has seen every kind of secret by now."""
    order = await placed_order(gateway)
    bearer = {"Authorization": f"Bearer {order['access_token']}"}
    await secure.get(f"/v1/orders/{order['id']}", headers={**bearer, "X-Request-Id": "log-check-000001"})
    await secure.get(f"/v1/orders/{order['id']}", headers=SUPPORT)
    await secure.get("/v1/admin/inbounds", params={"sku": "X"}, headers=ROTATED_STAFF)
    await secure.get(
        "/v1/warehouse/pick-requests", params={"location": "x"}, headers={"X-Api-Key": "a-wrong-key-0000"}
    )
    await secure.post(
        "/v1/orders", json=checkout(new_sku(), token="tok_visa"), headers={"Idempotency-Key": "k-log"}
    )
    await asyncio.sleep(0.5)
    _, log_path = secure_gateway_process
    text = log_path.read_text(errors="replace")
    assert "log-check-000001" in text, "the request id is in the log"
    for secret in (
        STAFF_KEY,
        ROTATED_STAFF_KEY,
        SUPPORT_KEY,
        WAREHOUSE_KEY,
        "a-wrong-key-0000",
        order["access_token"],
        "tok_visa",
    ):
        assert secret not in text, f"{secret[:6]}... is in the gateway log"
    shared_log = (Path(secure_gateway_process[1]).parent / "gateway.log").read_text(errors="replace")
    for secret in (STAFF_KEY, WAREHOUSE_KEY, order["access_token"]):
        assert secret not in shared_log
