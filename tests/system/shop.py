"""What a storefront, a member of staff and a warehouse do through the gateway, for system tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from scripts.stack import ROOT, SERVICES, Stack
from tests.support.messages import eventually
from tests.system.conftest import STAFF_KEY, WAREHOUSE_KEY

STAFF = {"X-Api-Key": STAFF_KEY}
WAREHOUSE = {"X-Api-Key": WAREHOUSE_KEY}
ADDRESS = {"name": "김민수", "line1": "테헤란로 1", "city": "Seoul", "postal_code": "06236", "country": "KR"}


def new_sku(prefix: str = "TEE") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def product_in_stock(gateway: httpx.AsyncClient, *, sku: str, units: int, price: int = 39000) -> str:
    created = await gateway.post(
        "/v1/admin/products",
        headers=STAFF,
        json={
            "title": "Linen shirt",
            "variants": [
                {"sku": sku, "options": {"size": "M"}, "prices": [{"currency": "KRW", "amount": price}]}
            ],
        },
    )
    assert created.status_code == 201, created.text
    if units:
        adjusted = await gateway.post(
            "/v1/admin/inventory/adjustments",
            headers=STAFF,
            json={"sku": sku, "location": "seoul-1", "delta": units, "reason": "received"},
        )
        assert adjusted.status_code == 201, adjusted.text
    return str(created.json()["id"])


def checkout(
    sku: str, *, quantity: int = 1, token: str = "tok_visa", email: str | None = None, locale: str = "ko"
) -> dict[str, Any]:
    return {
        "email": email or f"buyer-{uuid.uuid4().hex[:8]}@example.com",
        "locale": locale,
        "currency": "KRW",
        "lines": [{"sku": sku, "quantity": quantity}],
        "shipping_address": dict(ADDRESS),
        "shipping_method": "standard",
        "payment": {"token": token},
    }


async def place_order(
    gateway: httpx.AsyncClient, body: dict[str, Any], *, key: str | None = None, timeout: float = 15
) -> httpx.Response:
    """Place an order, waiting while orders has not yet heard of a just-created SKU (catalog's event is on its way)."""
    key = key or str(uuid.uuid4())
    deadline = time.monotonic() + timeout
    while True:
        response = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
        unknown_sku = response.status_code == 422 and "no product variant has SKU" in response.text
        if not unknown_sku or time.monotonic() > deadline:
            return response


async def order_as_customer(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> dict[str, Any]:
    response = await gateway.get(
        f"/v1/orders/{placed['id']}", headers={"Authorization": f"Bearer {placed['access_token']}"}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for_status(
    gateway: httpx.AsyncClient, placed: dict[str, Any], status: str, *, timeout: float = 20
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> None:
        seen.update(await order_as_customer(gateway, placed))
        assert seen["status"] == status, (
            f"status {seen['status']}, timeline {[e['event'] for e in seen['timeline']]}"
        )

    await eventually(reached, timeout=timeout)
    return seen


async def available(gateway: httpx.AsyncClient, product_id: str) -> int:
    product = (await gateway.get(f"/v1/products/{product_id}")).json()
    return int(product["variants"][0]["available"])


def emails_to(mail_dir: Path, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    assert body is not None
    return str(body.get_content())


async def product(gateway: httpx.AsyncClient, *, sku: str, prices: dict[str, int]) -> str:
    created = await gateway.post(
        "/v1/admin/products",
        headers=STAFF,
        json={
            "title": "Launch jacket",
            "variants": [
                {
                    "sku": sku,
                    "options": {"size": "M", "colour": "black"},
                    "prices": [{"currency": c, "amount": a} for c, a in prices.items()],
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def put_on_preorder(stack: Any, gateway: httpx.AsyncClient, sku: str, policy: dict[str, Any]) -> None:
    """Set a variant's pre-order policy and wait until orders has heard of it (it prices checkouts)."""
    response = await gateway.put(f"/v1/admin/variants/{sku}/preorder-policy", headers=STAFF, json=policy)
    assert response.status_code == 200, response.text
    orders_url = f"http://127.0.0.1:{stack.config.service_port('orders')}"

    async def orders_knows() -> None:
        async with httpx.AsyncClient(base_url=orders_url) as orders:
            view = await orders.get(f"/variants/{sku}")
            assert view.status_code == 200
            assert view.json()["preorder_policy"] is not None
            assert view.json()["preorder_policy"]["payment_mode"] == policy["payment_mode"]

    await eventually(orders_knows)


async def expect_and_receive(gateway: httpx.AsyncClient, sku: str, *, expected: int, received: int) -> str:
    inbound = await gateway.post(
        "/v1/admin/inbounds",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "quantity": expected, "expected_at": "2027-01-15T00:00:00Z"},
    )
    assert inbound.status_code == 201, inbound.text
    inbound_id = inbound.json()["id"]
    receipt = await gateway.post(
        f"/v1/admin/inbounds/{inbound_id}/receive", headers=STAFF, json={"quantity": received}
    )
    assert receipt.status_code == 200, receipt.text
    return str(inbound_id)


async def ship_and_deliver(gateway: httpx.AsyncClient, fulfillment_id: str, tracking: str) -> None:
    for event in (
        {"type": "picked"},
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": tracking},
        {"type": "delivered"},
    ):
        reported = await gateway.post(
            f"/v1/warehouse/fulfillments/{fulfillment_id}/events", json=event, headers=WAREHOUSE
        )
        assert reported.status_code == 200, reported.text


async def wait_for_group(
    gateway: httpx.AsyncClient, placed: dict[str, Any], status: str, *, count: int = 1, timeout: float = 20
) -> dict[str, Any]:
    """Wait until ``count`` pre-order shipment groups of the order reach ``status``; return the order."""
    seen: dict[str, Any] = {}

    async def reached() -> None:
        seen.update(await order_as_customer(gateway, placed))
        groups = [g for g in seen["shipment_groups"] if g["kind"] == "preorder" and g["status"] == status]
        assert len(groups) >= count, seen["shipment_groups"]

    await eventually(reached, timeout=timeout)
    return seen


def shop_ops(
    stack: Stack, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m shop_ops <arguments>`` against the running shop's databases and broker, as an operator runs it."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    for service in SERVICES:
        environment[f"SHOP_OPS_{service.upper()}_DATABASE_URL"] = stack.config.database_url(service)
    environment["SHOP_OPS_AMQP_URL"] = stack.config.amqp_url
    return subprocess.run(
        [sys.executable, "-m", "shop_ops", *arguments],
        env=environment | (env or {}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
