"""Returns through the gateway of a running shop: a delivered order's units come back, the label is emailed,
resellable units go back into stock and the refund is the price less the fees; a rejection; too many units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from shop_storefront import Storefront, bearer, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    WAREHOUSE,
    access,
    available,
    emails_to,
    order_as_customer,
    place_order,
    product_in_stock,
    ship_and_deliver,
    text_of,
    wait_for_status,
)

pytestmark = pytest.mark.system


async def delivered_order(gateway: httpx.AsyncClient, sku: str, *, quantity: int) -> dict[str, Any]:
    placed: dict[str, Any] = (
        await place_order(gateway, checkout(sku, quantity=quantity, locale="en"))
    ).json()
    await wait_for_status(gateway, placed, "confirmed")
    found: list[str] = []

    async def opened() -> None:
        view = await order_as_customer(gateway, placed)
        found[:] = [g["fulfillment_id"] for g in view["shipment_groups"] if g["fulfillment_id"]]
        assert found, view["shipment_groups"]

    await eventually(opened)
    await ship_and_deliver(gateway, found[0], f"CJ{sku}")
    await wait_for_status(gateway, placed, "delivered")
    return placed


async def return_in(
    gateway: httpx.AsyncClient, placed: dict[str, Any], return_id: str, status: str
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> None:
        listed = await Storefront(gateway).returns(access(placed))
        assert listed.status_code == 200, listed.text
        seen.update(next(item for item in listed.json()["items"] if item["id"] == return_id))
        assert seen["status"] == status, seen

    await eventually(reached, timeout=20)
    return seen


async def test_a_return_with_restock_and_partial_refund(gateway: httpx.AsyncClient, mail_dir: Path) -> None:
    sku = new_sku("RET")
    product_id = await product_in_stock(gateway, sku=sku, units=5)
    placed = await delivered_order(gateway, sku, quantity=2)
    assert await available(gateway, product_id) == 3

    asked = await gateway.post(
        f"/v1/orders/{placed['id']}/returns",
        json={"lines": [{"sku": sku, "quantity": 1}], "reason": "changed_mind", "note": "not my colour"},
        headers=bearer(placed["access_token"]),
    )
    assert asked.status_code == 201, asked.text
    requested = asked.json()
    assert requested["status"] == "requested"
    assert requested["lines"] == [
        {
            "sku": sku,
            "title": requested["lines"][0]["title"],
            "quantity": 1,
            "location": "seoul-1",
            "unit_price": 39000,
        }
    ]

    waiting = await gateway.get("/v1/admin/returns", params={"status": "requested"}, headers=STAFF)
    assert requested["id"] in [item["id"] for item in waiting.json()["items"]]
    approved = await gateway.post(f"/v1/admin/returns/{requested['id']}/approve", headers=STAFF)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    labelled = await return_in(gateway, placed, requested["id"], "label_sent")
    label = labelled["label"]
    assert label["carrier"] == "sandbox"
    order = await order_as_customer(gateway, placed)
    address = order["email"]

    async def label_emailed() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, address)]
        assert any(label["label_url"] in text and label["tracking_number"] in text for text in texts), texts

    await eventually(label_emailed, timeout=20)

    received = await gateway.post(
        f"/v1/warehouse/returns/{requested['id']}/received",
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
        headers=WAREHOUSE,
    )
    assert received.status_code == 200, received.text

    done = await return_in(gateway, placed, requested["id"], "refunded")
    # 39,000 less the return shipping fee (3,000, the customer's reason) and 10% restocking (3,900).
    assert (done["value"], done["return_shipping_fee"], done["restocking_fee"], done["refund"]) == (
        39000,
        3000,
        3900,
        32100,
    )
    assert [step["status"] for step in done["history"]] == [
        "requested",
        "approved",
        "label_sent",
        "received",
        "refunded",
    ]
    assert (done["lines"][0]["resellable"], done["lines"][0]["damaged"]) == (1, 0)

    async def restocked_and_refunded() -> None:
        assert await available(gateway, product_id) == 4
        view = await order_as_customer(gateway, placed)
        assert view["payments"]["refunded"] == 32100, view["payments"]

    await eventually(restocked_and_refunded, timeout=20)

    async def refund_emailed() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, address)]
        assert any("32,100" in text for text in texts), texts

    await eventually(refund_emailed, timeout=20)

    again = await gateway.post(
        f"/v1/warehouse/returns/{requested['id']}/received",
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
        headers=WAREHOUSE,
    )
    assert again.status_code == 409, again.text


async def test_a_rejected_return_and_one_for_too_many_units(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("RET")
    await product_in_stock(gateway, sku=sku, units=5)
    placed = await delivered_order(gateway, sku, quantity=2)
    returns = f"/v1/orders/{placed['id']}/returns"

    too_many = await gateway.post(
        returns,
        json={"lines": [{"sku": sku, "quantity": 3}], "reason": "size"},
        headers=bearer(placed["access_token"]),
    )
    assert too_many.status_code == 422, too_many.text
    problem = too_many.json()
    assert problem["code"] == "return_refused"
    assert problem["errors"] == [{"field": "lines[0].quantity", "message": problem["errors"][0]["message"]}]
    assert "only 2 unit(s)" in problem["errors"][0]["message"]
    unknown = await gateway.post(
        returns,
        json={"lines": [{"sku": "NOT-SHIPPED", "quantity": 1}], "reason": "size"},
        headers=bearer(placed["access_token"]),
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "lines[0].sku"

    asked = await gateway.post(
        returns,
        json={"lines": [{"sku": sku, "quantity": 2}], "reason": "damaged"},
        headers=bearer(placed["access_token"]),
    )
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["id"]
    # Both units are in that return now: none is left to ask for.
    more = await gateway.post(
        returns,
        json={"lines": [{"sku": sku, "quantity": 1}], "reason": "size"},
        headers=bearer(placed["access_token"]),
    )
    assert more.status_code == 422, more.text

    assert (
        await gateway.post(f"/v1/admin/returns/{return_id}/reject", json={"reason": "x"})
    ).status_code == 401
    rejected = await gateway.post(
        f"/v1/admin/returns/{return_id}/reject",
        json={"reason": "the photos show wear from use"},
        headers=STAFF,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "the photos show wear from use"
    approve = await gateway.post(f"/v1/admin/returns/{return_id}/approve", headers=STAFF)
    assert approve.status_code == 409, approve.text
    not_approved = await gateway.post(
        f"/v1/warehouse/returns/{return_id}/received",
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "damaged"}]},
        headers=WAREHOUSE,
    )
    assert not_approved.status_code == 404, not_approved.text

    address = (await order_as_customer(gateway, placed))["email"]

    async def rejection_emailed() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, address)]
        assert any("the photos show wear from use" in text for text in texts), texts

    await eventually(rejection_emailed, timeout=20)
    # A rejected return gives its units back to ask for again.
    again = await gateway.post(
        returns,
        json={"lines": [{"sku": sku, "quantity": 1}], "reason": "size"},
        headers=bearer(placed["access_token"]),
    )
    assert again.status_code == 201, again.text
