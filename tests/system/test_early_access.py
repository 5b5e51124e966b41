"""Early access to a pre-order through the gateway: staff put a customer in a segment, the policy opens its window
early for that segment, and everyone else is told when it opens to the public."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import bearer, checkout, new_sku
from tests.system.shop import STAFF, place_order, product, put_on_preorder, wait_for_status
from tests.system.test_customers import log_in, member

pytestmark = pytest.mark.system


async def checkout_as(gateway: httpx.AsyncClient, token: str, sku: str) -> httpx.Response:
    return await gateway.post(
        "/v1/orders", json=checkout(sku), headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
    )


def not_open_until(refused: httpx.Response, opens: datetime) -> None:
    """The checkout was refused with 409 ``preorder_not_open`` naming the line and when it opens to the public."""
    assert refused.status_code == 409, refused.text
    problem: dict[str, Any] = refused.json()
    assert problem["code"] == "preorder_not_open"
    [error] = problem["errors"]
    assert error["field"] == "lines[0].sku"
    assert datetime.fromisoformat(error["opens_at"]) == opens
    assert f"opens to the public at {error['opens_at']}" in error["message"]
    assert error["opens_at"] in problem["title"]


async def test_a_vip_orders_during_early_access_and_everyone_else_when_the_window_opens(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    """Bearer tokens last minutes: after each move of the clock the customers log in again."""
    sku = new_sku("VIPDROP")
    await product(gateway, sku=sku, prices={"KRW": 20000})
    now = datetime.now(UTC)
    early, public = now + timedelta(days=1), now + timedelta(days=3)
    await put_on_preorder(
        stack,
        gateway,
        sku,
        {
            "payment_mode": "pay_now",
            "cap": 100,
            "expected_ship_date": "2027-01-20",
            "starts_at": public.isoformat(),
            "ends_at": (public + timedelta(days=7)).isoformat(),
            "early_access_segment": "vip",
            "early_access_starts_at": early.isoformat(),
            "early_bird_tiers": [{"until_day": 2, "percent_off": 20}, {"percent_off": 10}],
        },
    )
    vip, vip_token = await member(gateway)
    other, other_token = await member(gateway)

    # Staff put the customer in the segment; names that are not slugs, and callers without the key, are refused.
    segments = f"/v1/admin/customers/{vip['id']}/segments"
    assert (await gateway.put(f"{segments}/vip")).status_code == 401
    bad = await gateway.put(f"{segments}/Not%20A%20Slug", headers=STAFF)
    assert bad.status_code == 422, bad.text
    assert [error["field"] for error in bad.json()["errors"]] == ["path:segment"]
    added = await gateway.put(f"{segments}/vip", headers=STAFF)
    assert added.status_code == 200, added.text
    assert added.json()["segments"] == ["vip"]
    assert (await gateway.put(f"{segments}/newsletter", headers=STAFF)).status_code == 200
    assert (await gateway.delete(f"{segments}/newsletter", headers=STAFF)).status_code == 204
    assert (await gateway.get(segments, headers=STAFF)).json()["items"] == ["vip"]
    assert (await gateway.get("/v1/me", headers=bearer(vip_token))).json()["segments"] == ["vip"]

    # Before early access nobody orders, the member included.
    not_open_until(await checkout_as(gateway, vip_token, sku), public)

    clock(timedelta(days=1, hours=1))  # early access: the segment orders, everyone else hears when it opens
    vip_token, other_token = await log_in(gateway, vip["email"]), await log_in(gateway, other["email"])
    placed = await checkout_as(gateway, vip_token, sku)
    assert placed.status_code == 202, placed.text
    order = await wait_for_status(gateway, placed.json(), "confirmed")
    assert order["customer_id"] == vip["id"]
    # Early access is priced like the window's first day: the member gets the first early-bird tier.
    assert order["lines"][0]["unit_price"] == 16000, order["lines"]
    not_open_until(await place_order(gateway, checkout(sku)), public)
    not_open_until(await checkout_as(gateway, other_token, sku), public)

    clock(timedelta(days=3, hours=1))  # the public window: everyone orders
    other_token = await log_in(gateway, other["email"])
    later = await checkout_as(gateway, other_token, sku)
    assert later.status_code == 202, later.text
    await wait_for_status(gateway, later.json(), "confirmed")
