"""Catalog's waitlist against the real PostgreSQL and RabbitMQ: subscribing, and one message per subscriber
when a variant comes back in stock or opens for pre-order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_catalog.bootstrap import DEFINITION
from shop_contracts import catalog as contracts
from shop_contracts.values import RequestedLine
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

LOCATION = "seoul-1"


class Catalog:
    def __init__(self, client: httpx.AsyncClient, broker: AbstractRobustConnection) -> None:
        self.client = client
        self.broker = broker

    async def product(self, sku: str) -> str:
        created = await self.client.post(
            "/products",
            json={
                "title": "Launch Tee",
                "variants": [
                    {"sku": sku, "options": {"size": "M"}, "prices": [{"currency": "KRW", "amount": 39000}]}
                ],
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def adjust(self, sku: str, delta: int) -> None:
        adjusted = await self.client.post(
            "/inventory/adjustments",
            json={"sku": sku, "location": LOCATION, "delta": delta, "reason": "counted"},
        )
        assert adjusted.status_code == 201, adjusted.text

    async def subscribe(self, sku: str, email: str, locale: str = "ko") -> httpx.Response:
        return await self.client.post("/waitlist", json={"sku": sku, "email": email, "locale": locale})

    async def policy(self, sku: str, **fields: Any) -> None:
        response = await self.client.put(
            f"/preorder-policies/{sku}", json={"payment_mode": "pay_now", **fields}
        )
        assert response.status_code == 200, response.text

    async def waitlist(self, sku: str) -> dict[str, Any]:
        response = await self.client.get("/waitlist", params={"sku": sku})
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
async def catalog(broker: AbstractRobustConnection) -> AsyncIterator[Catalog]:
    settings = infra.service_settings(DEFINITION)
    async with running_service(DEFINITION, settings, broker) as service:
        yield Catalog(service.client, broker)


def told(probe: MessageProbe, sku: str, kind: str) -> list[contracts.WaitlistNotification]:
    return [m for m in probe.of_type(contracts.WaitlistNotification) if m.sku == sku and m.kind == kind]


async def test_subscribing_twice_keeps_one_entry_and_unsubscribing_removes_it(catalog: Catalog) -> None:
    await catalog.product("WL-SUB")
    first = await catalog.subscribe("WL-SUB", "Minji@Example.com", "en")
    assert first.status_code == 201, first.text
    entry = first.json()
    assert (entry["sku"], entry["email"], entry["locale"]) == ("WL-SUB", "minji@example.com", "en")
    assert entry["notified_at"] == {"back_in_stock": None, "preorder_open": None}

    again = await catalog.subscribe("WL-SUB", "minji@example.com", "ko")
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["locale"]) == (entry["id"], "ko")
    listed = await catalog.waitlist("WL-SUB")
    assert listed["count"] == 1
    assert [item["id"] for item in listed["items"]] == [entry["id"]]

    assert (await catalog.client.delete(f"/waitlist/{entry['id']}")).status_code == 204
    assert (await catalog.client.delete(f"/waitlist/{entry['id']}")).status_code == 404
    assert (await catalog.waitlist("WL-SUB"))["count"] == 0


async def test_an_unknown_sku_or_a_bad_address_is_refused_naming_the_field(catalog: Catalog) -> None:
    unknown = await catalog.subscribe("WL-NOPE", "ann@example.com")
    assert unknown.status_code == 404, unknown.text
    assert [error["field"] for error in unknown.json()["errors"]] == ["sku"]
    assert (await catalog.client.get("/waitlist", params={"sku": "WL-NOPE"})).status_code == 404

    await catalog.product("WL-BAD")
    bad = await catalog.client.post("/waitlist", json={"sku": "WL-BAD", "email": "nobody", "locale": "ko"})
    assert bad.status_code == 422
    french = await catalog.client.post("/waitlist", json={"sku": "WL-BAD", "email": "a@b.fr", "locale": "fr"})
    assert french.status_code == 422


async def test_back_in_stock_tells_each_subscriber_once_until_it_sells_out_again(
    catalog: Catalog, probe: MessageProbe
) -> None:
    product_id = await catalog.product("WL-BACK")
    await catalog.subscribe("WL-BACK", "minji@example.com", "ko")
    await catalog.subscribe("WL-BACK", "ann@example.com", "en")
    gone = (await catalog.subscribe("WL-BACK", "gone@example.com", "en")).json()
    await catalog.client.delete(f"/waitlist/{gone['id']}")

    await catalog.adjust("WL-BACK", 3)  # 0 -> 3: back in stock

    async def two_told() -> None:
        assert len(told(probe, "WL-BACK", "back_in_stock")) == 2

    await eventually(two_told)
    messages = told(probe, "WL-BACK", "back_in_stock")
    assert {(m.customer.email, m.customer.locale) for m in messages} == {
        ("minji@example.com", "ko"),
        ("ann@example.com", "en"),
    }
    assert {(m.product_id, m.title, tuple(m.options.items())) for m in messages} == {
        (product_id, "Launch Tee", (("size", "M"),))
    }
    listed = await catalog.waitlist("WL-BACK")
    assert all(item["notified_at"]["back_in_stock"] is not None for item in listed["items"])

    await catalog.adjust("WL-BACK", 2)  # 3 -> 5: still in stock, nobody is told again
    await send(
        catalog.broker,
        contracts.ReserveStock(order_id="wl-ord-1", lines=[RequestedLine(sku="WL-BACK", quantity=5)]),
        subject="wl-ord-1",
    )
    await probe.wait_for(contracts.StockReserved, lambda m: m.order_id == "wl-ord-1")  # 5 -> 0: sold out
    release = await send(
        catalog.broker,
        contracts.ReleaseStock(order_id="wl-ord-1", reason="payment_failed"),
        subject="wl-ord-1",
    )

    def caused_by_the_release() -> list[str]:
        return [
            e.data["customer"]["email"]
            for e in probe.envelopes
            if e.type == contracts.WaitlistNotification.TYPE and e.causation_id == str(release.id)
        ]

    async def told_again() -> None:
        assert len(caused_by_the_release()) == 2

    await eventually(told_again)  # 0 -> 5 after the release: each is told once more
    assert sorted(caused_by_the_release()) == ["ann@example.com", "minji@example.com"]
    assert len(told(probe, "WL-BACK", "back_in_stock")) == 4


async def test_received_units_all_taken_by_pre_orders_are_not_back_in_stock(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("WL-RECV")
    await catalog.policy("WL-RECV")
    await send(
        catalog.broker,
        contracts.ReserveStock(order_id="wl-pre-1", lines=[RequestedLine(sku="WL-RECV", quantity=2)]),
        subject="wl-pre-1",
    )
    await probe.wait_for(contracts.StockReserved, lambda m: m.order_id == "wl-pre-1")
    await catalog.subscribe("WL-RECV", "minji@example.com", "ko")

    async def receive(quantity: int) -> dict[str, Any]:
        expected = await catalog.client.post(
            "/inbounds",
            json={
                "sku": "WL-RECV",
                "location": LOCATION,
                "quantity": quantity,
                "expected_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            },
        )
        received = await catalog.client.post(
            f"/inbounds/{expected.json()['id']}/receive", json={"quantity": quantity}
        )
        assert received.status_code == 200, received.text
        return dict(received.json())

    assert (await receive(2))["allocated_to_preorders"] == 2  # nothing left over: nobody is told
    [entry] = (await catalog.waitlist("WL-RECV"))["items"]
    assert entry["notified_at"]["back_in_stock"] is None
    assert (await receive(3))["allocated_to_preorders"] == 0  # 3 left over: back in stock

    message = await probe.wait_for(
        contracts.WaitlistNotification, lambda m: m.sku == "WL-RECV" and m.kind == "back_in_stock"
    )
    assert message.customer.email == "minji@example.com"
    allocated = [m for m in probe.of_type(contracts.PreorderAllocated) if m.order_id == "wl-pre-1"]
    assert sum(m.quantity for m in allocated) == 2
    assert len(told(probe, "WL-RECV", "back_in_stock")) == 1


async def test_a_pre_order_that_opens_tells_each_subscriber_once_per_campaign(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("WL-PRE")
    await catalog.subscribe("WL-PRE", "minji@example.com", "ko")
    await catalog.subscribe("WL-PRE", "ann@example.com", "en")
    ends_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=14)

    await catalog.policy("WL-PRE", starts_at=(datetime.now(UTC) + timedelta(days=2)).isoformat())  # not open
    await catalog.policy("WL-PRE", ends_at=ends_at.isoformat(), expected_ship_date="2030-05-01")  # opens now

    async def two_told() -> None:
        assert len(told(probe, "WL-PRE", "preorder_open")) == 2

    await eventually(two_told)
    for message in told(probe, "WL-PRE", "preorder_open"):
        assert (message.ends_at, message.expected_ship_date) == (ends_at, date(2030, 5, 1))

    await catalog.policy("WL-PRE", ends_at=ends_at.isoformat(), cap=10)  # open before and after: no news
    assert (await catalog.client.delete("/preorder-policies/WL-PRE")).status_code == 200
    await catalog.policy("WL-PRE", cap=20)  # a new campaign opens

    async def told_of_the_new_campaign() -> None:
        assert len([m for m in told(probe, "WL-PRE", "preorder_open") if m.ends_at is None]) == 2

    await eventually(told_of_the_new_campaign)
    assert len(told(probe, "WL-PRE", "preorder_open")) == 4
    assert not told(probe, "WL-PRE", "back_in_stock")
