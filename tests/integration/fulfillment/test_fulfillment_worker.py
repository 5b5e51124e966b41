"""Fulfillment against the real PostgreSQL and RabbitMQ: its worker and its HTTP API, in process."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope
from shop_contracts import fulfillment as contracts
from shop_contracts.routing import WAREHOUSE_EXCHANGE
from shop_contracts.values import Address, LocatedLine
from shop_fulfillment.bootstrap import DEFINITION
from shop_fulfillment.tables import inbox
from shop_runtime.broker import declare_exchanges
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

ADDRESS = Address(name="Kim Minji", line1="1 Sejong-daero", city="Seoul", postal_code="04524", country="KR")


@pytest.fixture
async def fulfillment(broker: AbstractRobustConnection) -> AsyncIterator[tuple[httpx.AsyncClient, Worker]]:
    async with running_service(DEFINITION, infra.service_settings(DEFINITION), broker) as service:
        yield service.client, service.worker


def create_command(order_id: str, location: str = "seoul-1") -> contracts.CreateFulfillmentOrder:
    return contracts.CreateFulfillmentOrder(
        order_id=order_id,
        location=location,
        lines=[LocatedLine(sku="TEE-M", quantity=2, location=location)],
        shipping_address=ADDRESS,
        shipping_method="standard",
    )


async def fulfillment_order_for(broker: AbstractRobustConnection, probe: MessageProbe, order_id: str) -> str:
    """Have orders ask for a fulfillment order and return its id once fulfillment announces it."""
    await send(broker, create_command(order_id), subject=order_id)
    created = await probe.wait_for(contracts.FulfillmentOrderCreated, lambda m: m.order_id == order_id)
    return created.fulfillment_id


async def report(client: httpx.AsyncClient, fulfillment_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/fulfillments/{fulfillment_id}/events", json=body)


async def test_a_new_fulfillment_order_hands_pick_work_to_the_warehouse_at_its_location(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = fulfillment
    # What a warehouse system at seoul-1 does: bind its own queue to its location's pick requests.
    channel = await broker.channel()
    await declare_exchanges(channel)
    warehouse = await channel.declare_queue(exclusive=True, auto_delete=True)
    await warehouse.bind(WAREHOUSE_EXCHANGE, routing_key="pick.seoul-1")

    await send(broker, create_command("order-1"), subject="order-1")

    created = await probe.wait_for(contracts.FulfillmentOrderCreated, lambda m: m.order_id == "order-1")
    assert created.location == "seoul-1"
    received: list[Envelope] = []

    async def warehouse_got_the_pick_request() -> None:
        message = await warehouse.get(no_ack=True, fail=False)
        assert message is not None
        received.append(Envelope.model_validate_json(message.body))

    await eventually(warehouse_got_the_pick_request)
    await channel.close()
    [envelope] = received
    assert envelope.type == contracts.PickRequested.TYPE
    assert envelope.subject == "order-1"
    pick = contracts.PickRequested.model_validate(envelope.data)
    assert pick.fulfillment_id == created.fulfillment_id
    assert [(line.sku, line.quantity) for line in pick.lines] == [("TEE-M", 2)]
    assert pick.shipping_address == ADDRESS
    assert pick.shipping_method == "standard"

    listed = await client.get("/pick-requests", params={"location": "seoul-1"})
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == created.fulfillment_id
    assert item["status"] == "pick_requested"
    assert item["shipping_address"]["city"] == "Seoul"
    assert (await client.get("/pick-requests", params={"location": "busan-1"})).json()["items"] == []


async def test_a_repeated_command_creates_one_fulfillment_order(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection, caplog: pytest.LogCaptureFixture
) -> None:
    client, worker = fulfillment
    caplog.set_level(logging.INFO, logger="shop_runtime.consumer")
    first, retried = uuid.uuid4(), uuid.uuid4()
    await send(broker, create_command("order-2"), subject="order-2", message_id=first)
    await send(broker, create_command("order-2"), subject="order-2", message_id=first)
    # Orders re-sending its command (a new message id) must not open a second shipment either.
    await send(broker, create_command("order-2"), subject="order-2", message_id=retried)

    async def both_commands_handled() -> None:
        async with worker.database.engine.connect() as connection:
            handled = await connection.scalar(
                sa.select(sa.func.count()).where(inbox.c.message_id.in_([first, retried]))
            )
        assert handled == 2

    def duplicate_delivery_ignored() -> None:
        assert any("duplicate" in r.getMessage() and str(first) in r.getMessage() for r in caplog.records)

    await eventually(both_commands_handled)
    await eventually(duplicate_delivery_ignored)
    items = (await client.get("/fulfillments", params={"order_id": "order-2"})).json()["items"]
    assert len(items) == 1
    await probe.wait_for(contracts.PickRequested, lambda m: m.order_id == "order-2")
    assert len([m for m in probe.of_type(contracts.FulfillmentOrderCreated) if m.order_id == "order-2"]) == 1
    assert len([m for m in probe.of_type(contracts.PickRequested) if m.order_id == "order-2"]) == 1


async def test_warehouse_reports_move_the_order_to_delivered_and_build_its_timeline(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = fulfillment
    fulfillment_id = await fulfillment_order_for(broker, probe, "order-3")

    picked = await report(client, fulfillment_id, type="picked")
    assert picked.status_code == 200, picked.text
    assert picked.json()["status"] == "picked"
    again = await report(client, fulfillment_id, type="picked")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "picked"
    assert (await report(client, fulfillment_id, type="packed")).status_code == 200
    shipped = await report(client, fulfillment_id, type="shipped", carrier="cj", tracking_number="CJ123")
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["tracking_number"] == "CJ123"
    assert (await client.get("/pick-requests", params={"location": "seoul-1"})).json()["items"] == []
    assert (await report(client, fulfillment_id, type="delivered")).status_code == 200

    announced = await probe.wait_for(contracts.ShipmentShipped, lambda m: m.order_id == "order-3")
    assert (announced.carrier, announced.tracking_number, announced.location) == ("cj", "CJ123", "seoul-1")
    assert [(line.sku, line.quantity) for line in announced.lines] == [("TEE-M", 2)]
    await probe.wait_for(contracts.FulfillmentPicked, lambda m: m.fulfillment_id == fulfillment_id)
    await probe.wait_for(contracts.FulfillmentPacked, lambda m: m.fulfillment_id == fulfillment_id)
    await probe.wait_for(contracts.ShipmentDelivered, lambda m: m.fulfillment_id == fulfillment_id)
    assert len([m for m in probe.of_type(contracts.FulfillmentPicked) if m.order_id == "order-3"]) == 1

    [item] = (await client.get("/fulfillments", params={"order_id": "order-3"})).json()["items"]
    assert item["status"] == "delivered"
    assert (item["carrier"], item["tracking_number"]) == ("cj", "CJ123")
    assert [event["type"] for event in item["events"]] == [
        "pick_requested",
        "picked",
        "packed",
        "shipped",
        "delivered",
    ]
    assert item["events"][3]["tracking_number"] == "CJ123"
    assert (await client.get(f"/fulfillments/{fulfillment_id}")).json()["status"] == "delivered"


async def test_shipped_without_a_tracking_number_is_refused_naming_the_field(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = fulfillment
    fulfillment_id = await fulfillment_order_for(broker, probe, "order-4")
    for status in ("picked", "packed"):
        assert (await report(client, fulfillment_id, type=status)).status_code == 200

    response = await report(client, fulfillment_id, type="shipped", carrier="cj", tracking_number=None)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["tracking_number"]
    assert (await client.get(f"/fulfillments/{fulfillment_id}")).json()["status"] == "packed"


async def test_delivered_before_shipped_is_a_conflict_that_names_the_current_status(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = fulfillment
    fulfillment_id = await fulfillment_order_for(broker, probe, "order-5")
    assert (await report(client, fulfillment_id, type="picked")).status_code == 200

    response = await report(client, fulfillment_id, type="delivered")

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "picked" in response.json()["title"]
    assert (await client.get(f"/fulfillments/{fulfillment_id}")).json()["status"] == "picked"


async def test_unknown_orders_and_unknown_fields_are_refused(fulfillment) -> None:
    client, _ = fulfillment
    missing = await report(client, str(uuid.uuid4()), type="picked")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    extra = await report(client, str(uuid.uuid4()), type="picked", note="hi")
    assert extra.status_code == 422
    assert [error["field"] for error in extra.json()["errors"]] == ["note"]
    no_location = await client.get("/pick-requests")
    assert no_location.status_code == 422
    assert [error["field"] for error in no_location.json()["errors"]] == ["query:location"]


def cancel_command(order_id: str, group_id: str) -> contracts.CancelFulfillmentOrder:
    return contracts.CancelFulfillmentOrder(
        order_id=order_id,
        group_id=group_id,
        location="seoul-1",
        lines=[LocatedLine(sku="TEE-M", quantity=2, location="seoul-1")],
        shipping_address=ADDRESS,
        reason="changed_mind",
    )


async def test_cancelling_unpacked_pick_work_drops_it_and_tells_the_warehouse(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = fulfillment
    channel = await broker.channel()
    await declare_exchanges(channel)
    warehouse = await channel.declare_queue(exclusive=True, auto_delete=True)
    await warehouse.bind(WAREHOUSE_EXCHANGE, routing_key="pick.seoul-1")
    order_id = f"order-{uuid.uuid4()}"
    group_id = str(uuid.uuid4())
    await send(broker, create_command(order_id).model_copy(update={"group_id": group_id}), subject=order_id)
    created = await probe.wait_for(contracts.FulfillmentOrderCreated, lambda m: m.order_id == order_id)
    assert (await report(client, created.fulfillment_id, type="picked")).status_code == 200

    await send(broker, cancel_command(order_id, group_id), subject=order_id)
    cancelled = await probe.wait_for(contracts.FulfillmentCancelled, lambda m: m.order_id == order_id)
    assert (cancelled.group_id, cancelled.fulfillment_id) == (group_id, created.fulfillment_id)
    types: list[str] = []

    async def warehouse_told() -> None:
        while (message := await warehouse.get(no_ack=True, fail=False)) is not None:
            envelope = Envelope.model_validate_json(message.body)
            if envelope.subject == order_id:
                types.append(envelope.type)
        assert types == ["fulfillment.pick.requested.v1", "fulfillment.pick.cancelled.v1"], types

    await eventually(warehouse_told)
    shown = (await client.get(f"/fulfillments/{created.fulfillment_id}")).json()
    assert shown["status"] == "cancelled"
    listed = (await client.get("/pick-requests", params={"location": "seoul-1"})).json()["items"]
    assert created.fulfillment_id not in [str(item["id"]) for item in listed]
    refused = await report(client, created.fulfillment_id, type="packed")
    assert refused.status_code == 409


async def test_packed_pick_work_is_not_cancelled(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, _ = fulfillment
    order_id = f"order-{uuid.uuid4()}"
    group_id = str(uuid.uuid4())
    await send(broker, create_command(order_id).model_copy(update={"group_id": group_id}), subject=order_id)
    created = await probe.wait_for(contracts.FulfillmentOrderCreated, lambda m: m.order_id == order_id)
    for step in ("picked", "packed"):
        assert (await report(client, created.fulfillment_id, type=step)).status_code == 200

    await send(broker, cancel_command(order_id, group_id), subject=order_id)
    refused = await probe.wait_for(contracts.FulfillmentCancelRefused, lambda m: m.order_id == order_id)
    assert (refused.group_id, refused.status) == (group_id, "packed")
    assert (await client.get(f"/fulfillments/{created.fulfillment_id}")).json()["status"] == "packed"


async def test_a_group_cancelled_before_its_fulfillment_order_opened_never_reaches_the_warehouse(
    fulfillment, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    client, worker = fulfillment
    order_id = f"order-{uuid.uuid4()}"
    group_id = str(uuid.uuid4())
    await send(broker, cancel_command(order_id, group_id), subject=order_id)
    cancelled = await probe.wait_for(contracts.FulfillmentCancelled, lambda m: m.order_id == order_id)
    assert cancelled.fulfillment_id is None
    late = await send(
        broker, create_command(order_id).model_copy(update={"group_id": group_id}), subject=order_id
    )

    async def create_handled() -> None:
        async with worker.database.engine.connect() as connection:
            handled = await connection.scalar(sa.select(sa.func.count()).where(inbox.c.message_id == late.id))
        assert handled == 1

    await eventually(create_handled)
    [item] = (await client.get("/fulfillments", params={"order_id": order_id})).json()["items"]
    assert item["status"] == "cancelled"
    assert not [m for m in probe.of_type(contracts.PickRequested) if m.order_id == order_id]
