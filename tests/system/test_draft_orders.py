"""Draft orders through the gateway of a running shop: stock held until a time, an invoice emailed and paid
through its link, a bank transfer marked as paid, duplicate and delete."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from shop_storefront import new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    ADDRESS,
    STAFF,
    WAREHOUSE,
    as_staff,
    available,
    emails_to,
    order_as_customer,
    product_in_stock,
    text_of,
    wait_for_status,
)

pytestmark = pytest.mark.system


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def make_draft(
    gateway: httpx.AsyncClient, body: dict[str, Any], *, reserve_seconds: float | None = 600
) -> dict[str, Any]:
    """Make a draft, waiting while orders has not yet heard of a just-created SKU; its units are held for
    ``reserve_seconds`` from when it is made."""
    made: dict[str, Any] = {}

    async def accepted() -> None:
        if reserve_seconds is not None:
            body["reserve_until"] = _in(reserve_seconds)
        response = await as_staff(gateway).create_draft(body)
        assert response.status_code == 201, response.text
        made.update(response.json())

    await eventually(accepted, timeout=15)
    return made


async def draft_of(gateway: httpx.AsyncClient, draft_id: str) -> dict[str, Any]:
    response = await as_staff(gateway).draft(draft_id)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for_reservation(gateway: httpx.AsyncClient, draft_id: str, status: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> None:
        seen.update(await draft_of(gateway, draft_id))
        assert seen["reservation"]["status"] == status, seen["reservation"]

    await eventually(reached, timeout=20)
    return seen


def draft_body(sku: str, *, email: str, quantity: int = 2) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"email": email, "name": "Jane Park", "locale": "en"},
        "currency": "KRW",
        "lines": [
            {
                "sku": sku,
                "quantity": quantity,
                "discount": {"kind": "fixed", "value": 1000, "reason": "scratch"},
            },
            {"title": "Gift wrapping", "unit_price": 2000, "quantity": 1},
        ],
        "order_discount": {"kind": "percent", "value": 10, "reason": "wholesale customer"},
        "shipping": {"method": "standard"},
        "shipping_address": dict(ADDRESS),
        "payment_terms": {"type": "net", "net_days": 14},
    }
    return body


async def test_a_draft_holds_stock_until_its_time_then_gives_it_back(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("DRAFT")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=39000)
    draft = await make_draft(
        gateway, draft_body(sku, email=f"jane-{uuid.uuid4().hex[:8]}@example.com"), reserve_seconds=8
    )
    # 2 x 39,000 = 78,000 less 1,000 on the line, plus 2,000 gift wrapping = 79,000; 10 % off is 7,900;
    # 71,100 + 3,000 shipping = 74,100, which includes 10/110 of it as VAT: 6,736.36 -> 6,736.
    assert draft["totals"] == {
        "subtotal": 80000,
        "line_discounts": 1000,
        "order_discount": 7900,
        "discount": 8900,
        "shipping": 3000,
        "tax": 6736,
        "tax_rate": 1000,
        "tax_included": True,
        "total": 74100,
    }
    assert [line["reserved"] for line in draft["lines"]] == [True, False]

    await wait_for_reservation(gateway, draft["id"], "held")
    assert await available(gateway, product_id) == 3

    lapsed = await wait_for_reservation(gateway, draft["id"], "lapsed")
    assert lapsed["status"] == "open"

    async def stock_back() -> None:
        assert await available(gateway, product_id) == 5

    await eventually(stock_back, timeout=15)

    # Holding again for a new time reserves again.
    changed = await gateway.patch(
        f"/v1/admin/draft-orders/{draft['id']}", headers=STAFF, json={"reserve_until": _in(600)}
    )
    assert changed.status_code == 200, changed.text
    await wait_for_reservation(gateway, draft["id"], "held")
    assert await available(gateway, product_id) == 3


async def test_an_invoice_is_emailed_and_paid_through_its_link_into_a_confirmed_order(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("DRAFT")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=39000)
    email = f"jane-{uuid.uuid4().hex[:8]}@example.com"
    draft = await make_draft(gateway, draft_body(sku, email=email))
    await wait_for_reservation(gateway, draft["id"], "held")
    assert await available(gateway, product_id) == 3

    sent = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/invoice", headers=STAFF)
    assert sent.status_code == 200, sent.text
    assert sent.json()["payment_terms"]["type"] == "net"
    assert sent.json()["payment_terms"]["due_date"] is not None

    link: dict[str, str] = {}

    async def invoice_emailed() -> None:
        messages = emails_to(mail_dir, email)
        assert messages, "no invoice email yet"
        text = text_of(messages[-1])
        assert "Total: ₩74,100" in text
        assert "net 14 days" in text
        found = re.search(r"/draft-orders/([0-9a-f-]+)/invoice\?token=(\S+)", text)
        assert found is not None, text
        link.update(draft_id=found.group(1), token=unquote(found.group(2)))

    await eventually(invoice_emailed, timeout=20)
    assert link["draft_id"] == draft["id"]
    bearer = {"Authorization": f"Bearer {link['token']}"}

    invoice = await gateway.get(f"/v1/draft-orders/{draft['id']}/invoice", headers=bearer)
    assert invoice.status_code == 200, invoice.text
    assert invoice.json()["totals"]["total"] == 74100
    assert "note" not in invoice.json()
    wrong = await gateway.get(
        f"/v1/draft-orders/{draft['id']}/invoice", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 404

    paid = await gateway.post(
        f"/v1/draft-orders/{draft['id']}/checkout", headers=bearer, json={"payment": {"token": "tok_visa"}}
    )
    assert paid.status_code == 202, paid.text
    placed = {"id": paid.json()["order_id"], "access_token": paid.json()["access_token"]}
    again = await gateway.post(
        f"/v1/draft-orders/{draft['id']}/checkout", headers=bearer, json={"payment": {"token": "tok_visa"}}
    )
    assert again.status_code == 202, again.text
    assert again.json()["order_id"] == placed["id"]

    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["totals"]["total"] == 74100
    assert order["totals"]["discount"] == 8900
    assert order["draft_order"]["id"] == draft["id"]
    assert order["draft_order"]["payment_terms"]["type"] == "net"
    assert [(p["status"], p["amount"]) for p in order["payments"]["items"]] == [("succeeded", 74100)]
    # The draft's reservation became the order's: the units were not reserved a second time.
    assert await available(gateway, product_id) == 3

    async def pick_requested() -> None:
        picks = await gateway.get(
            "/v1/warehouse/pick-requests", params={"location": "seoul-1"}, headers=WAREHOUSE
        )
        items = [item for item in picks.json()["items"] if item["order_id"] == placed["id"]]
        assert items, "no pick request yet"
        assert [(line["sku"], line["quantity"]) for line in items[0]["lines"]] == [(sku, 2)]

    await eventually(pick_requested, timeout=20)
    completed = await draft_of(gateway, draft["id"])
    assert (completed["status"], completed["order_id"], completed["paid_by"]) == (
        "completed",
        placed["id"],
        "card",
    )
    changed = await gateway.patch(
        f"/v1/admin/draft-orders/{draft['id']}", headers=STAFF, json={"note": "late"}
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "draft_not_open"


async def test_a_bank_transfer_marked_as_paid_completes_into_a_paid_order(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("DRAFT")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    unheld = await make_draft(
        gateway, draft_body(sku, email=f"jane-{uuid.uuid4().hex[:8]}@example.com"), reserve_seconds=None
    )
    refused = await gateway.post(
        f"/v1/admin/draft-orders/{unheld['id']}/mark-paid", headers=STAFF, json={"reference": "KB-1"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "draft_not_ready"

    draft = await make_draft(gateway, draft_body(sku, email=f"jane-{uuid.uuid4().hex[:8]}@example.com"))
    await wait_for_reservation(gateway, draft["id"], "held")
    marked = await gateway.post(
        f"/v1/admin/draft-orders/{draft['id']}/mark-paid", headers=STAFF, json={"reference": "KB-20261125-7"}
    )
    assert marked.status_code == 200, marked.text
    placed = {"id": marked.json()["order_id"], "access_token": marked.json()["access_token"]}
    again = await gateway.post(
        f"/v1/admin/draft-orders/{draft['id']}/mark-paid", headers=STAFF, json={"reference": "KB-20261125-7"}
    )
    assert again.json()["order_id"] == placed["id"]

    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["draft_order"]["paid_by"] == "bank_transfer"
    assert order["draft_order"]["payment_reference"] == "KB-20261125-7"
    assert [(p["status"], p["amount"]) for p in order["payments"]["items"]] == [("succeeded", 74100)]
    assert (await order_as_customer(gateway, placed))["shipment_groups"][0]["location"] == "seoul-1"


async def test_a_draft_is_duplicated_and_deleted_and_its_stock_comes_back(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("DRAFT")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=39000)
    draft = await make_draft(
        gateway, draft_body(sku, email=f"jane-{uuid.uuid4().hex[:8]}@example.com", quantity=4)
    )
    await wait_for_reservation(gateway, draft["id"], "held")
    assert await available(gateway, product_id) == 1

    copied = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/duplicate", headers=STAFF)
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    assert copy["id"] != draft["id"]
    assert copy["duplicated_from"] == draft["id"]
    assert copy["customer"] == draft["customer"]
    assert copy["lines"] == draft["lines"]
    assert copy["order_discount"] == draft["order_discount"]
    assert copy["totals"] == draft["totals"]
    assert copy["reservation"]["status"] == "none"

    deleted = await gateway.delete(f"/v1/admin/draft-orders/{draft['id']}", headers=STAFF)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted"

    async def stock_back() -> None:
        assert await available(gateway, product_id) == 5

    await eventually(stock_back, timeout=15)
    assert (await gateway.delete(f"/v1/admin/draft-orders/{draft['id']}", headers=STAFF)).status_code == 200
    listed = await gateway.get(
        "/v1/admin/draft-orders",
        headers=STAFF,
        params={"customer_id": draft["customer"]["id"], "status": "open"},
    )
    assert [item["id"] for item in listed.json()["drafts"]] == [copy["id"]]

    # Bad input answers 4xx naming the field.
    bad = await gateway.post(
        "/v1/admin/draft-orders",
        headers=STAFF,
        json={
            "customer_id": draft["customer"]["id"],
            "currency": "KRW",
            "lines": [{"sku": "NOPE-1", "quantity": 1}],
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "lines[0].sku"
    missing = await gateway.get(f"/v1/admin/draft-orders/{uuid.uuid4()}", headers=STAFF)
    assert missing.status_code == 404


async def _ship(gateway: httpx.AsyncClient, placed: dict[str, Any], tracking: str) -> None:
    """The warehouse sees the pick request, then reports picked, packed and shipped."""
    fulfillments: list[str] = []

    async def pick_requested() -> None:
        picks = await gateway.get(
            "/v1/warehouse/pick-requests", params={"location": "seoul-1"}, headers=WAREHOUSE
        )
        assert any(item["order_id"] == placed["id"] for item in picks.json()["items"]), "no pick request yet"
        shipments = (await gateway.get(f"/v1/orders/{placed['id']}", headers=STAFF)).json()["shipments"]
        fulfillments[:] = [shipment["id"] for shipment in shipments]
        assert fulfillments, "no fulfillment yet"

    await eventually(pick_requested, timeout=20)
    for event in (
        {"type": "picked"},
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": tracking},
    ):
        reported = await gateway.post(
            f"/v1/warehouse/fulfillments/{fulfillments[0]}/events", json=event, headers=WAREHOUSE
        )
        assert reported.status_code == 200, reported.text


async def test_a_net_30_draft_completes_unpaid_ships_and_is_paid_later(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("TERMS")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=39000)
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    body = draft_body(sku, email=email)
    body["payment_terms"] = {"type": "due_on_receipt"}
    draft = await make_draft(gateway, body)
    await wait_for_reservation(gateway, draft["id"], "held")

    refused = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/complete", headers=STAFF)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "draft_not_ready"
    assert "due on receipt" in refused.text

    changed = await gateway.patch(
        f"/v1/admin/draft-orders/{draft['id']}",
        headers=STAFF,
        json={"payment_terms": {"type": "net", "net_days": 30}},
    )
    assert changed.status_code == 200, changed.text
    completed = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/complete", headers=STAFF)
    assert completed.status_code == 200, completed.text
    placed = {"id": completed.json()["order_id"], "access_token": completed.json()["access_token"]}
    again = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/complete", headers=STAFF)
    assert again.json()["order_id"] == placed["id"]

    order = await wait_for_status(gateway, placed, "confirmed")
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    assert order["payment_due"]["status"] == "awaiting_payment"
    assert order["payment_due"]["amount"] == 74100
    assert order["payment_due"]["due_date"] == due
    assert not (order["payments"] or {}).get("items")
    assert await available(gateway, product_id) == 3  # the draft's hold carried over

    async def confirmation_emailed() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, email)]
        assert any("is confirmed; nothing has been charged yet" in text for text in texts), texts

    await eventually(confirmation_emailed, timeout=20)

    await _ship(gateway, placed, "CJ7770001111")
    shipped = await wait_for_status(gateway, placed, "shipped")
    assert shipped["payment_due"]["status"] == "awaiting_payment"
    assert not (shipped["payments"] or {}).get("items")

    marked = await gateway.post(
        f"/v1/admin/draft-orders/{draft['id']}/mark-paid", headers=STAFF, json={"reference": "KB-NET30-1"}
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["order_id"] == placed["id"]
    twice = await gateway.post(
        f"/v1/admin/draft-orders/{draft['id']}/mark-paid", headers=STAFF, json={"reference": "KB-NET30-1"}
    )
    assert twice.status_code == 200, twice.text

    paid: dict[str, Any] = {}

    async def payment_captured() -> None:
        paid.update(await order_as_customer(gateway, placed))
        assert paid["payment_due"]["status"] == "paid", paid["payment_due"]
        assert [(p["status"], p["amount"]) for p in paid["payments"]["items"]] == [("succeeded", 74100)]

    await eventually(payment_captured, timeout=20)
    assert paid["status"] == "shipped"
    assert paid["payment_due"]["paid_at"] is not None


async def test_on_fulfillment_terms_are_due_when_the_order_ships(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("TERMS")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    body = draft_body(sku, email=f"buyer-{uuid.uuid4().hex[:8]}@example.com")
    body["payment_terms"] = {"type": "on_fulfillment"}
    # Not held: the order reserves like a checkout.
    draft = await make_draft(gateway, body, reserve_seconds=None)
    completed = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/complete", headers=STAFF)
    assert completed.status_code == 200, completed.text
    placed = {"id": completed.json()["order_id"], "access_token": completed.json()["access_token"]}

    order = await wait_for_status(gateway, placed, "confirmed")
    assert (order["payment_due"]["status"], order["payment_due"]["due_date"]) == ("awaiting_payment", None)

    await _ship(gateway, placed, "CJ7770002222")
    shipped = await wait_for_status(gateway, placed, "shipped")
    assert shipped["payment_due"]["due_date"] == datetime.now(UTC).date().isoformat()
    assert shipped["payment_due"]["status"] == "awaiting_payment"


async def test_an_unpaid_order_on_terms_cancelled_before_shipping_refunds_nothing_and_frees_its_units(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("TERMS")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=39000)
    draft = await make_draft(gateway, draft_body(sku, email=f"buyer-{uuid.uuid4().hex[:8]}@example.com"))
    await wait_for_reservation(gateway, draft["id"], "held")
    completed = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/complete", headers=STAFF)
    assert completed.status_code == 200, completed.text
    placed = {"id": completed.json()["order_id"], "access_token": completed.json()["access_token"]}
    await wait_for_status(gateway, placed, "confirmed")

    cancelled = await gateway.post(
        f"/v1/orders/{placed['id']}/cancel",
        json={"reason": "changed_mind"},
        headers={"Authorization": f"Bearer {placed['access_token']}"},
    )
    assert cancelled.status_code in (200, 202), cancelled.text
    order = await wait_for_status(gateway, placed, "cancelled")
    assert order["payment_due"]["status"] == "cancelled"
    assert not (order["payments"] or {}).get("items")

    async def stock_back() -> None:
        assert await available(gateway, product_id) == 5

    await eventually(stock_back, timeout=20)
    refused = await gateway.post(
        f"/v1/admin/draft-orders/{draft['id']}/mark-paid", headers=STAFF, json={"reference": "KB-LATE"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "order_not_payable"
