"""Catalog against the real PostgreSQL and RabbitMQ: its HTTP API and its worker, in process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_catalog.bootstrap import DEFINITION
from shop_contracts import catalog as contracts
from shop_contracts.routing import parking_queue
from shop_contracts.values import LocatedLine, RequestedLine
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def catalog(broker: AbstractRobustConnection) -> AsyncIterator[tuple[httpx.AsyncClient, Worker]]:
    async with running_service(DEFINITION, infra.service_settings(DEFINITION), broker) as service:
        yield service.client, service.worker


async def _product_with_stock(client: httpx.AsyncClient, sku: str, units: int) -> str:
    created = await client.post(
        "/products",
        json={
            "title": "Tee",
            "variants": [
                {"sku": sku, "options": {"size": "M"}, "prices": [{"currency": "KRW", "amount": 39000}]}
            ],
        },
    )
    assert created.status_code == 201, created.text
    adjusted = await client.post(
        "/inventory/adjustments",
        json={"sku": sku, "location": "seoul-1", "delta": units, "reason": "received"},
    )
    assert adjusted.status_code == 201, adjusted.text
    return str(created.json()["id"])


async def test_creating_a_product_tells_other_services_its_prices(catalog, probe: MessageProbe) -> None:
    client, _ = catalog
    await _product_with_stock(client, "TEE-M", 3)
    updated = await probe.wait_for(contracts.VariantUpdated, lambda m: m.sku == "TEE-M")
    assert [(p.currency, p.amount) for p in updated.prices] == [("KRW", 39000)]


async def test_reserving_takes_units_and_a_duplicate_delivery_takes_none(
    catalog, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = catalog
    product_id = await _product_with_stock(client, "TEE-L", 5)
    message_id = uuid.uuid4()
    command = contracts.ReserveStock(order_id="order-1", lines=[RequestedLine(sku="TEE-L", quantity=2)])
    await send(broker, command, subject="order-1", message_id=message_id)
    await send(broker, command, subject="order-1", message_id=message_id)
    reserved = await probe.wait_for(contracts.StockReserved, lambda m: m.order_id == "order-1")
    assert [(line.sku, line.location, line.quantity) for line in reserved.lines] == [("TEE-L", "seoul-1", 2)]

    async def three_left() -> None:
        product = (await client.get(f"/products/{product_id}")).json()
        assert product["variants"][0]["available"] == 3

    await eventually(three_left)
    assert len(probe.of_type(contracts.StockReserved)) == 1


async def test_an_order_for_more_than_exists_is_rejected_and_reserves_nothing(
    catalog, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = catalog
    product_id = await _product_with_stock(client, "TEE-S", 1)
    await send(
        broker,
        contracts.ReserveStock(order_id="order-2", lines=[RequestedLine(sku="TEE-S", quantity=2)]),
        subject="order-2",
    )
    rejected = await probe.wait_for(contracts.StockRejected, lambda m: m.order_id == "order-2")
    assert rejected.shortages[0].available == 1
    product = (await client.get(f"/products/{product_id}")).json()
    assert product["variants"][0]["available"] == 1


async def test_thirty_buyers_racing_for_ten_units_get_exactly_ten(
    catalog, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = catalog
    product_id = await _product_with_stock(client, "TEE-RACE", 10)
    buyers = [f"race-{index}" for index in range(30)]
    await asyncio.gather(
        *(
            send(
                broker,
                contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku="TEE-RACE", quantity=1)]),
                subject=order_id,
            )
            for order_id in buyers
        )
    )

    async def all_answered() -> None:
        answered = {m.order_id for m in probe.of_type(contracts.StockReserved)} | {
            m.order_id for m in probe.of_type(contracts.StockRejected)
        }
        assert set(buyers) <= answered

    await eventually(all_answered)
    reserved = [m for m in probe.of_type(contracts.StockReserved) if m.order_id in buyers]
    rejected = [m for m in probe.of_type(contracts.StockRejected) if m.order_id in buyers]
    assert len(reserved) == 10
    assert len(rejected) == 20
    assert {(s.reason, s.available) for m in rejected for s in m.shortages} == {("out_of_stock", 0)}
    product = (await client.get(f"/products/{product_id}")).json()
    assert product["variants"][0]["available"] == 0


async def test_a_line_no_single_location_covers_is_split_over_locations(
    catalog, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = catalog
    await _product_with_stock(client, "TEE-SPLIT", 2)
    adjusted = await client.post(
        "/inventory/adjustments",
        json={"sku": "TEE-SPLIT", "location": "busan-1", "delta": 3, "reason": "received"},
    )
    assert adjusted.status_code == 201, adjusted.text
    await send(
        broker,
        contracts.ReserveStock(order_id="split-1", lines=[RequestedLine(sku="TEE-SPLIT", quantity=4)]),
        subject="split-1",
    )
    reserved = await probe.wait_for(contracts.StockReserved, lambda m: m.order_id == "split-1")
    assert sorted((line.location, line.quantity) for line in reserved.lines) == [
        ("busan-1", 3),
        ("seoul-1", 1),
    ]


async def test_a_message_that_keeps_failing_is_parked_with_its_error(
    catalog, broker: AbstractRobustConnection
) -> None:
    await send(broker, contracts.CommitStock.model_construct(order_id="x", lines=[]), subject="x")
    channel = await broker.channel()
    parked = await channel.declare_queue(parking_queue("catalog"), passive=True)

    async def one_parked() -> None:
        message = await parked.get(no_ack=True, fail=False)
        assert message is not None
        assert "x-shop-error" in (message.headers or {})
        assert (message.headers or {})["x-shop-attempts"] == 4

    await eventually(one_parked)
    await channel.close()


async def test_bad_input_is_answered_with_a_problem_naming_the_field(catalog) -> None:
    client, _ = catalog
    response = await client.post("/products", json={"title": "X", "variants": [{"sku": "", "prices": []}]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"variants[0].sku", "variants[0].prices"} <= fields


async def test_releasing_part_of_an_order_gives_back_those_units_only(
    catalog, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = catalog
    sku = f"TEE-{uuid.uuid4().hex[:6].upper()}"
    order_id = f"order-{uuid.uuid4()}"
    product_id = await _product_with_stock(client, sku, 5)
    await send(
        broker,
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=3)]),
        subject=order_id,
    )
    await probe.wait_for(contracts.StockReserved, lambda m: m.order_id == order_id)

    async def left(units: int) -> None:
        product = (await client.get(f"/products/{product_id}")).json()
        assert product["variants"][0]["available"] == units

    await eventually(lambda: left(2))
    part = [LocatedLine(sku=sku, quantity=1, location="seoul-1")]
    await send(
        broker, contracts.ReleaseStock(order_id=order_id, reason="other", lines=part), subject=order_id
    )
    await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == order_id)
    await eventually(lambda: left(3))
    # Asking to release more than is held gives back what is held and no more.
    too_many = [LocatedLine(sku=sku, quantity=9, location="seoul-1")]
    await send(
        broker, contracts.ReleaseStock(order_id=order_id, reason="other", lines=too_many), subject=order_id
    )
    await eventually(lambda: left(5))
    await send(broker, contracts.ReleaseStock(order_id=order_id, reason="other"), subject=order_id)
    assert len(await _released(probe, order_id, 3)) == 3
    await left(5)


async def _released(probe: MessageProbe, order_id: str, count: int) -> list[contracts.StockReleased]:
    async def all_three() -> None:
        assert len([m for m in probe.of_type(contracts.StockReleased) if m.order_id == order_id]) == count

    await eventually(all_three)
    return [m for m in probe.of_type(contracts.StockReleased) if m.order_id == order_id]
