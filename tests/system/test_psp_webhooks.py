"""PSP webhooks through the public gateway of a running shop: the sandbox PSP delivers its signed events to
``/v1/webhooks/psp``; a balance the customer had to confirm gets paid and the pre-order ships; forged, stale
and replayed deliveries change nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_payments import webhooks
from shop_storefront import checkout, new_sku
from tests.system.conftest import PSP_WEBHOOK_SECRET
from tests.system.shop import (
    expect_and_receive,
    place_order,
    product,
    put_on_preorder,
    wait_for_group,
    wait_for_status,
)

pytestmark = pytest.mark.system


def is_problem(response: httpx.Response, status: int, code: str) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["code"] == code
    )


async def sandbox(stack: Stack, path: str) -> dict[str, Any]:
    """Ask the sandbox PSP (inside payments) to act as the PSP would: it delivers to the gateway."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.config.service_port('payments')}") as psp:
        response = await psp.post(path, timeout=20)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_customer_confirms_a_balance_charge_and_the_psp_webhook_gets_the_preorder_shipped(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("ACTION")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    policy = {"payment_mode": "deposit", "deposit_percent": 10, "cap": 10, "expected_ship_date": "2027-01-20"}
    await put_on_preorder(stack, gateway, sku, policy)
    placed = (await place_order(gateway, checkout(sku, token="tok_requires_action"))).json()
    await wait_for_status(gateway, placed, "confirmed")
    await expect_and_receive(gateway, sku, expected=1, received=1)
    await wait_for_group(gateway, placed, "balance_scheduled")
    clock(timedelta(hours=25))  # the balance is charged a day after its reminder
    order = await wait_for_group(gateway, placed, "balance_failed")
    [declined] = [p for p in order["payments"]["items"] if p["balance_group"] and p["requires_action"]]

    delivery = await sandbox(stack, f"/sandbox/charges/{declined['psp_reference']}/complete-action")

    assert delivery["status"] == 200, delivery
    assert delivery["answer"] == {"event_id": delivery["event_id"], "status": "balance_charged"}
    order = await wait_for_group(gateway, placed, "pick_requested")
    assert order["payments"]["captured"] == 5000 + 3000 + 45000
    assert "balance_charged" in [entry["event"] for entry in order["timeline"]]

    # the PSP redelivers (it did not hear back in time, say): nothing changes
    again = await sandbox(stack, f"/sandbox/webhook-events/{delivery['event_id']}/redeliver")
    assert again["answer"] == {"event_id": delivery["event_id"], "status": "duplicate"}
    order = await wait_for_group(gateway, placed, "pick_requested")
    assert order["payments"]["captured"] == 5000 + 3000 + 45000


async def test_the_public_webhook_route_believes_only_fresh_signatures_of_the_psp(
    gateway: httpx.AsyncClient,
) -> None:
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "payout.paid", "data": {}}).encode()
    now = int(time.time())

    def post(signature: str | None) -> Any:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[webhooks.SIGNATURE_HEADER] = signature
        return gateway.post("/v1/webhooks/psp", content=body, headers=headers)

    assert is_problem(await post(None), 400, "missing_signature")
    assert is_problem(await post("v1=deadbeef"), 400, "malformed_signature")
    guessed = webhooks.sign(body, secret="whsec-not-the-shops-secret", timestamp=now)
    assert is_problem(await post(guessed), 401, "bad_signature")
    stale = webhooks.sign(body, secret=PSP_WEBHOOK_SECRET, timestamp=now - 600)
    assert is_problem(await post(stale), 401, "stale_signature")
    signed = webhooks.sign(body, secret=PSP_WEBHOOK_SECRET, timestamp=now)
    first, replay = await post(signed), await post(signed)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "ignored"  # an event type payments does not act on
    assert replay.json()["status"] == "duplicate"
    assert "127.0.0.1" not in (await post(guessed)).text
