"""Dead-letter commands against the real broker: a parked message listed, shown, replayed and purged."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from shop_contracts.payments import CapturePayment
from shop_contracts.routing import COMMANDS_EXCHANGE, parking_queue
from shop_ops.cli import run
from shop_ops.settings import OpsSettings
from shop_runtime import dead_letters
from shop_runtime.broker import declare_service_topology
from tests.support import infra

pytestmark = pytest.mark.integration

SERVICE = "payments"
ROUTING_KEY = CapturePayment.TYPE


@pytest.fixture
async def parking(broker: AbstractRobustConnection) -> None:
    """An empty parking queue of the service, declared as its worker declares it."""
    channel = await broker.channel()
    await channel.queue_delete(parking_queue(SERVICE))
    await declare_service_topology(channel, service=SERVICE, bindings=[], retry_delays_ms=[])
    await channel.close()


@pytest.fixture
async def probe_queue(broker: AbstractRobustConnection) -> AsyncIterator[AbstractQueue]:
    """Stands where the original consumer would: bound to the original exchange and routing key."""
    channel = await broker.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(COMMANDS_EXCHANGE, routing_key=ROUTING_KEY)
    yield queue
    await channel.close()


async def park(broker: AbstractRobustConnection, *, error: str, routing_key: str = ROUTING_KEY) -> str:
    message_id = str(uuid.uuid4())
    channel = await broker.channel(publisher_confirms=True)
    await channel.default_exchange.publish(
        aio_pika.Message(
            body=json.dumps({"id": message_id, "type": ROUTING_KEY, "data": {"order_id": "o-1"}}).encode(),
            content_type="application/json",
            message_id=message_id,
            type=ROUTING_KEY,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "x-shop-attempts": 4,
                "x-shop-error": f"{error}\nwith a second line",
                "x-shop-traceback": "Traceback (most recent call last):\n  File handlers.py\nValueError: boom",
                "x-shop-parked-at": "2025-03-01T11:00:00+00:00",
                "x-shop-original-exchange": COMMANDS_EXCHANGE,
                "x-shop-original-routing-key": routing_key,
            },
        ),
        routing_key=parking_queue(SERVICE),
    )
    await channel.close()
    return message_id


async def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(list(argv), settings=OpsSettings(amqp_url=infra.amqp_url()), stdout=out)
    return code, out.getvalue()


async def _parked_ids(broker: AbstractRobustConnection) -> list[str]:
    return [message.message_id for message in await dead_letters.list_parked(broker, SERVICE)]


async def test_listing_and_showing_leave_the_queue_as_it_was(
    broker: AbstractRobustConnection, parking: None
) -> None:
    first = await park(broker, error="ValueError: first")
    second = await park(broker, error="KeyError: second")

    code, output = await _cli("dead-letters", "list", "--service", SERVICE)
    assert code == 0
    assert output.splitlines() == [
        "payments: 2 parked",
        f"  {first}  {ROUTING_KEY}  attempts=4  parked_at=2025-03-01T11:00:00+00:00",
        "      ValueError: first",
        f"  {second}  {ROUTING_KEY}  attempts=4  parked_at=2025-03-01T11:00:00+00:00",
        "      KeyError: second",
    ]
    code, output = await _cli("dead-letters", "show", SERVICE, second)
    assert code == 0
    assert f"message id:     {second}" in output
    assert f"original route: exchange='{COMMANDS_EXCHANGE}' routing_key='{ROUTING_KEY}'" in output
    assert "  ValueError: boom" in output
    assert "  traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" in output
    assert '"order_id": "o-1"' in output

    assert await _parked_ids(broker) == [first, second]
    assert await dead_letters.parked_count(broker, SERVICE) == 2


async def test_every_service_is_listed_and_a_missing_parking_queue_is_said(
    broker: AbstractRobustConnection, parking: None
) -> None:
    channel = await broker.channel()
    await channel.queue_delete(parking_queue("notifications"))
    await channel.close()
    code, output = await _cli("dead-letters", "list")
    assert code == 0
    assert "payments: 0 parked" in output
    assert "notifications: no parking queue (notifications.messages.parked does not exist)" in output


async def test_a_replayed_message_goes_back_to_its_original_route_without_attempt_headers(
    broker: AbstractRobustConnection, parking: None, probe_queue: AbstractQueue
) -> None:
    kept = await park(broker, error="ValueError: kept")
    replayed = await park(broker, error="ValueError: replayed")

    code, output = await _cli("dead-letters", "replay", SERVICE, replayed)

    assert code == 0, output
    assert f"replayed {replayed}" in output
    delivered = await probe_queue.get(timeout=5)
    await delivered.ack()
    assert delivered.message_id == replayed
    assert delivered.routing_key == ROUTING_KEY
    assert json.loads(delivered.body)["id"] == replayed
    headers: dict[str, Any] = dict(delivered.headers or {})
    assert not [name for name in headers if name in dead_letters.HEADERS_REMOVED_ON_REPLAY]
    assert headers["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert "x-shop-replayed-at" in headers
    assert await _parked_ids(broker) == [kept]


async def test_an_unroutable_replay_stays_parked(
    broker: AbstractRobustConnection, parking: None, probe_queue: AbstractQueue
) -> None:
    stuck = await park(broker, error="ValueError: nobody listens", routing_key="nobody.listens.v1")
    code, output = await _cli("dead-letters", "replay", SERVICE, stuck)
    assert code == 1
    assert f"FAILED {stuck}" in output
    assert await _parked_ids(broker) == [stuck]


async def test_replay_all_and_purge(
    broker: AbstractRobustConnection, parking: None, probe_queue: AbstractQueue
) -> None:
    ids = [await park(broker, error=f"ValueError: {n}") for n in range(3)]
    code, output = await _cli("dead-letters", "replay", SERVICE, "--all")
    assert code == 0, output
    assert output.splitlines()[-1] == "3 replayed, 0 failed"
    received = []
    for _ in ids:
        message = await probe_queue.get(timeout=5)
        await message.ack()
        received.append(message.message_id)
    assert received == ids
    assert await dead_letters.parked_count(broker, SERVICE) == 0

    for n in range(2):
        await park(broker, error=f"ValueError: {n}")
    code, output = await _cli("dead-letters", "purge", SERVICE, "--yes")
    assert code == 0
    assert output.strip() == "purged 2 parked message(s) of payments"
    assert await dead_letters.parked_count(broker, SERVICE) == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_purge_at_a_terminal_asks_for_the_service_name(
    broker: AbstractRobustConnection, parking: None
) -> None:
    await park(broker, error="ValueError: one")
    settings = OpsSettings(amqp_url=infra.amqp_url())
    out = io.StringIO()
    assert (
        await run(["dead-letters", "purge", SERVICE], settings=settings, stdout=out, stdin=_Terminal("y\n"))
        == 1
    )
    assert "Delete 1 parked message(s) of payments for good?" in out.getvalue()
    assert "not purged" in out.getvalue()
    assert await dead_letters.parked_count(broker, SERVICE) == 1
    code = await run(
        ["dead-letters", "purge", SERVICE], settings=settings, stdout=out, stdin=_Terminal("payments\n")
    )
    assert code == 0
    assert await dead_letters.parked_count(broker, SERVICE) == 0


async def test_a_confirmed_purge_deletes_only_the_count_seen_and_nothing_when_it_differs(
    broker: AbstractRobustConnection, parking: None
) -> None:
    seen = [await park(broker, error=f"ValueError: {n}") for n in range(2)]
    with pytest.raises(
        dead_letters.PurgeNotConfirmed, match="2 message\\(s\\) are parked, not the 3 confirmed"
    ):
        await dead_letters.purge(broker, SERVICE, confirmed=3)
    assert await _parked_ids(broker) == seen

    assert await dead_letters.purge(broker, SERVICE, confirmed=2) == 2
    assert await dead_letters.parked_count(broker, SERVICE) == 0
    assert await dead_letters.purge(broker, SERVICE, confirmed=0) == 0


async def test_a_parked_message_reads_as_json_with_its_headers(
    broker: AbstractRobustConnection, parking: None
) -> None:
    message_id = await park(broker, error="ValueError: shown")
    found = await dead_letters.find_parked(broker, SERVICE, message_id)
    assert found is not None
    details = found.details()
    assert json.loads(json.dumps(details)) == details  # every header value is JSON
    assert (details["id"], details["attempts"], details["body"]["data"]) == (
        message_id,
        4,
        {"order_id": "o-1"},
    )
    assert details["error"].startswith("ValueError: shown")
    assert details["headers"]["x-shop-original-routing-key"] == ROUTING_KEY
    assert found.summary()["error"] == "ValueError: shown"
