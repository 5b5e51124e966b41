"""What a storefront, a member of staff and a warehouse do through the gateway, for system tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from scripts.stack import ROOT, SERVICES, Stack
from shop_storefront import (
    SEOUL,
    OrderAccess,
    Staff,
    Storefront,
    Variant,
    Warehouse,
    api_key,
)
from tests.support.messages import eventually
from tests.system.conftest import STAFF_KEY, WAREHOUSE_KEY

STAFF = api_key(STAFF_KEY)
WAREHOUSE = api_key(WAREHOUSE_KEY)
ADDRESS = SEOUL.as_json()


def as_staff(gateway: httpx.AsyncClient) -> Staff:
    return Staff(gateway, STAFF_KEY)


def as_warehouse(gateway: httpx.AsyncClient) -> Warehouse:
    return Warehouse(gateway, WAREHOUSE_KEY)


def access(placed: Mapping[str, Any]) -> OrderAccess:
    """The id and token of an order as the checkout answered it."""
    return OrderAccess(str(placed["id"]), str(placed["access_token"]))


async def product_in_stock(gateway: httpx.AsyncClient, *, sku: str, units: int, price: int = 39000) -> str:
    return await as_staff(gateway).product_in_stock(Variant(sku, prices={"KRW": price}), units)


async def place_order(
    gateway: httpx.AsyncClient, body: dict[str, Any], *, key: str | None = None, timeout: float = 15
) -> httpx.Response:
    """Place an order, waiting while orders has not yet heard of a just-created SKU (catalog's event is on its way)."""
    return (await Storefront(gateway).place(body, key=key, wait_for_new_skus=timeout)).response


async def order_as_customer(gateway: httpx.AsyncClient, placed: Mapping[str, Any]) -> dict[str, Any]:
    """The order as its customer sees it; an AssertionError unless 200 (so ``eventually`` polls through it)."""
    response = await Storefront(gateway).read_order(access(placed))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for_status(
    gateway: httpx.AsyncClient, placed: Mapping[str, Any], status: str, *, timeout: float = 20
) -> dict[str, Any]:
    return await Storefront(gateway).follow(access(placed), status, timeout=timeout, poll=0.05)


async def available(gateway: httpx.AsyncClient, product_id: str) -> int:
    return await Storefront(gateway).available(product_id)


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
    variant = Variant(sku, prices=prices, options={"size": "M", "colour": "black"})
    created = await as_staff(gateway).create_product(title="Launch jacket", variants=[variant])
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def put_on_preorder(stack: Any, gateway: httpx.AsyncClient, sku: str, policy: dict[str, Any]) -> None:
    """Set a variant's pre-order policy and wait until orders has heard of it (it prices checkouts)."""
    response = await as_staff(gateway).set_preorder_policy(sku, policy)
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
    return await as_staff(gateway).expect_and_receive(sku, expected=expected, received=received)


async def ship_and_deliver(gateway: httpx.AsyncClient, fulfillment_id: str, tracking: str) -> None:
    await as_warehouse(gateway).ship_and_deliver(fulfillment_id, tracking)


async def wait_for_group(
    gateway: httpx.AsyncClient, placed: Mapping[str, Any], status: str, *, count: int = 1, timeout: float = 20
) -> dict[str, Any]:
    """Wait until ``count`` pre-order shipment groups of the order reach ``status``; return the order."""

    def groups_reached(view: dict[str, Any]) -> bool:
        groups = [g for g in view["shipment_groups"] if g["kind"] == "preorder" and g["status"] == status]
        return len(groups) >= count

    return await Storefront(gateway).follow(access(placed), groups_reached, timeout=timeout, poll=0.05)


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
