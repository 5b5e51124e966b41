"""The shared runtime against the real PostgreSQL and RabbitMQ: outbox relay, inbox, retries, parking, shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import aio_pika
import aiormq
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from shop_contracts import Envelope, fulfillment
from shop_contracts import catalog as contracts
from shop_contracts.routing import SIGNATURE_HEADER, WAREHOUSE_EXCHANGE, parking_queue, service_queue
from shop_contracts.values import Address, LocatedLine
from shop_runtime import signatures
from shop_runtime.broker import declare_exchanges
from shop_runtime.database import Database, UnitOfWork, create_engine
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.outbox import OutboxRelay
from shop_runtime.service import ServiceDefinition
from shop_runtime.settings import ServiceSettings
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import drained, fresh_worker_settings, worker_only

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.Text),
)


class ProbeSettings(ServiceSettings):
    service_name = "runtime_probe"
    database_url: str = infra.database_url("runtime_probe")
    http_port: int = 0


@dataclass
class Behaviour:
    """What the probe service's handler does with each ReleaseStock it is given."""

    fail_first: int = 0
    hold: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[float] = field(default_factory=list)

    async def handle(self, message: contracts.ReleaseStock, uow: UnitOfWork) -> None:
        self.attempts.append(time.monotonic())
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        if len(self.attempts) <= self.fail_first:
            raise RuntimeError(f"attempt {len(self.attempts)} fails on purpose")
        await uow.session.execute(sa.insert(effects).values(order_id=message.order_id))
        uow.publish(contracts.StockReleased(order_id=message.order_id), subject=message.order_id)
        await uow.commit()


def definition(behaviour: Behaviour) -> ServiceDefinition:
    return worker_only("runtime_probe", ProbeSettings, metadata, {contracts.ReleaseStock: behaviour.handle})


@pytest.fixture
async def settings(broker: AbstractRobustConnection) -> AsyncIterator[ServiceSettings]:
    settings = await fresh_worker_settings(broker, definition(Behaviour()), [100, 300, 600])
    yield settings
    await infra.drop_database(settings.database_url)


@pytest.fixture
async def database(settings: ServiceSettings) -> AsyncIterator[Database]:
    database = Database(create_engine(settings), outbox=outbox, inbox=inbox)
    yield database
    await database.dispose()


async def count(database: Database, query: sa.Select[Any]) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def write_outbox_rows(database: Database, how_many: int, prefix: str) -> None:
    async with database.unit_of_work() as uow:
        for index in range(how_many):
            uow.publish(contracts.StockReleased(order_id=f"{prefix}-{index}"), subject=f"{prefix}-{index}")
        await uow.commit()


async def test_rows_left_unpublished_by_a_dead_process_are_published_by_the_next_relay(
    database: Database, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    await write_outbox_rows(database, 3, "left")  # committed, then "the process died" before publishing
    channel = await broker.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    relay = OutboxRelay(database, channel, batch_size=10, idle_poll_seconds=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))

    async def all_three_arrived() -> None:
        assert sorted(m.order_id for m in probe.of_type(contracts.StockReleased)) == [
            "left-0",
            "left-1",
            "left-2",
        ]

    await eventually(all_three_arrived)
    stop.set()
    await running
    assert (
        await count(
            database, sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
        == 0
    )


async def test_two_relays_side_by_side_publish_every_row_exactly_once(
    database: Database, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    await write_outbox_rows(database, 500, "pair")
    stop = asyncio.Event()
    relays = []
    for _ in range(2):
        channel = await broker.channel(publisher_confirms=True)
        await declare_exchanges(channel)
        relays.append(
            asyncio.create_task(
                OutboxRelay(database, channel, batch_size=50, idle_poll_seconds=0.1).run(stop)
            )
        )

    async def all_arrived() -> None:
        assert (
            len([m for m in probe.of_type(contracts.StockReleased) if m.order_id.startswith("pair-")]) >= 500
        )

    await eventually(all_arrived, timeout=30)
    stop.set()
    await asyncio.gather(*relays)
    ids = [e.id for e in probe.envelopes if e.type == contracts.StockReleased.TYPE]
    assert len(ids) == len(set(ids)) == 500


async def test_a_failing_message_is_retried_with_growing_delays_and_then_takes_effect_once(
    settings: ServiceSettings, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    behaviour = Behaviour(fail_first=2)
    worker = Worker(definition(behaviour), settings)
    assert await worker.start()
    await send(broker, contracts.ReleaseStock(order_id="retry-1", reason="test"), subject="retry-1")
    await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "retry-1")
    await worker.stop()
    first, second, third = behaviour.attempts
    assert second - first >= 0.1
    assert third - second >= 0.3
    database = Database(create_engine(settings), outbox=outbox, inbox=inbox)
    assert await count(database, sa.select(sa.func.count()).select_from(effects)) == 1
    await database.dispose()


async def test_a_message_that_keeps_failing_is_parked_with_its_error_and_the_queue_keeps_flowing(
    settings: ServiceSettings, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    behaviour = Behaviour(fail_first=4)
    worker = Worker(definition(behaviour), settings)
    assert await worker.start()
    await send(broker, contracts.ReleaseStock(order_id="poison", reason="test"), subject="poison")
    channel = await broker.channel()
    parked_queue = await channel.get_queue(parking_queue("runtime_probe"))

    found = []

    async def parked() -> None:
        message = await parked_queue.get(no_ack=True, fail=False)
        assert message is not None
        found.append(message)

    await eventually(parked, timeout=15)
    headers = found[0].headers or {}
    assert headers["x-shop-attempts"] == 4
    assert "attempt 4 fails on purpose" in str(headers["x-shop-error"])
    assert headers["x-shop-original-routing-key"] == contracts.ReleaseStock.TYPE
    # The queue was not blocked: the next message takes effect (attempt 5 succeeds).
    await send(broker, contracts.ReleaseStock(order_id="after", reason="test"), subject="after")
    await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "after")
    await worker.stop()
    await channel.close()


async def test_stopping_a_worker_finishes_the_message_in_flight(
    settings: ServiceSettings, broker: AbstractRobustConnection
) -> None:
    behaviour = Behaviour(hold=asyncio.Event())
    worker = Worker(definition(behaviour), settings)
    assert await worker.start()
    await send(broker, contracts.ReleaseStock(order_id="in-flight", reason="test"), subject="in-flight")
    await asyncio.wait_for(behaviour.started.wait(), timeout=10)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0)  # let stop() cancel the consumer before the handler is released
    behaviour.hold.set()  # type: ignore[union-attr]
    await stopping
    database = Database(create_engine(settings), outbox=outbox, inbox=inbox)
    assert (
        await count(
            database, sa.select(sa.func.count()).select_from(effects).where(effects.c.order_id == "in-flight")
        )
        == 1
    )
    await database.dispose()
    await drained(service_queue("runtime_probe"))


@dataclass
class Lanes:
    """Records the order messages are handled in; the first of lane A waits until lane B has started."""

    b_started: asyncio.Event = field(default_factory=asyncio.Event)
    handled: list[tuple[str, str]] = field(default_factory=list)

    async def handle(self, message: contracts.ReleaseStock, uow: UnitOfWork) -> None:
        if message.order_id == "lane-b":
            self.b_started.set()
        if (message.order_id, message.reason) == ("lane-a", "1"):
            await asyncio.wait_for(self.b_started.wait(), timeout=10)
        await asyncio.sleep(0.01 * (hash(message.reason) % 3))
        self.handled.append((message.order_id, message.reason))
        await uow.commit()


async def test_messages_of_one_order_are_handled_in_order_while_other_orders_go_on(
    settings: ServiceSettings, broker: AbstractRobustConnection
) -> None:
    lanes = Lanes()
    probe = definition(Behaviour())
    worker = Worker(
        ServiceDefinition(
            name=probe.name,
            settings_class=probe.settings_class,
            metadata=probe.metadata,
            migrations_path=probe.migrations_path,
            create_app=probe.create_app,
            subscriptions=lambda context: {contracts.ReleaseStock: lanes.handle},
        ),
        settings.model_copy(update={"consumer_concurrency": 4}),
    )
    assert await worker.start()
    steps = [str(step) for step in range(1, 7)]
    for step in steps:
        for order in ("lane-a", "lane-b"):
            await send(broker, contracts.ReleaseStock(order_id=order, reason=step), subject=order)

    def all_handled() -> None:
        assert len(lanes.handled) == 12

    await eventually(all_handled, timeout=20)
    await worker.stop()
    for order in ("lane-a", "lane-b"):
        assert [step for handled, step in lanes.handled if handled == order] == steps
    # lane A's first message waited for lane B: the other order went on meanwhile
    assert lanes.handled.index(("lane-b", "1")) < lanes.handled.index(("lane-a", "1"))


async def test_draining_sends_batch_after_batch_in_the_order_they_were_written(
    database: Database, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    """Batch after batch until nothing waits: every row published once, in id order, and marked as published."""
    await write_outbox_rows(database, 45, "drain")
    channel = await broker.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    relay = OutboxRelay(database, channel, batch_size=10, idle_poll_seconds=0.1)

    assert await relay.drain() == 45

    async def all_arrived() -> None:
        arrived = [
            m.order_id for m in probe.of_type(contracts.StockReleased) if m.order_id.startswith("drain-")
        ]
        assert arrived == [f"drain-{index}" for index in range(45)]

    await eventually(all_arrived)
    unpublished = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    assert await count(database, unpublished) == 0
    assert await relay.drain() == 0


class HeldPublishing:
    """The relay's channel, whose publishes wait until the test lets them go: a batch held in flight."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self.in_flight = asyncio.Event()
        self.released = asyncio.Event()

    async def get_underlay_channel(self) -> HeldChannel:
        return HeldChannel(await self._channel.get_underlay_channel(), self)


@dataclass
class HeldChannel:
    channel: aiormq.abc.AbstractChannel
    publishing: HeldPublishing

    async def basic_publish(self, body: bytes, **options: Any) -> object:
        self.publishing.in_flight.set()
        await self.publishing.released.wait()
        return await self.channel.basic_publish(body, **options)


async def test_a_row_committed_while_a_batch_is_in_flight_is_published_at_once_not_after_the_idle_poll(
    database: Database, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    """Its NOTIFY is sent during the batch, whose claim did not see the row (PostgreSQL hands it to the relay's
    connection once the batch commits): the relay must claim again as soon as the batch is done, not sleep the
    idle poll (a minute here) with the row waiting."""
    await write_outbox_rows(database, 1, "first")
    channel = await broker.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    publishing = HeldPublishing(channel)
    relay = OutboxRelay(database, cast(AbstractChannel, publishing), batch_size=10, idle_poll_seconds=60)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(publishing.in_flight.wait(), timeout=10)
        await write_outbox_rows(database, 1, "meanwhile")
        publishing.released.set()
        await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "first-0")
        await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "meanwhile-0", timeout=10)
    finally:
        publishing.released.set()
        stop.set()
        await running
        await channel.close()


async def test_the_relay_signs_what_goes_to_a_signed_exchange_and_nothing_else(
    database: Database, broker: AbstractRobustConnection
) -> None:
    secret = "warehouse-signing-secret-for-tests"
    channel = await broker.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    picks = await channel.declare_queue(exclusive=True)
    await picks.bind(WAREHOUSE_EXCHANGE, routing_key="pick.#")
    events = await channel.declare_queue(exclusive=True)
    await events.bind("shop.events", routing_key=contracts.StockReleased.TYPE)
    async with database.unit_of_work() as uow:
        uow.publish(
            fulfillment.PickRequested(
                fulfillment_id="f-1",
                order_id="o-signed",
                location="seoul-1",
                lines=[LocatedLine(sku="TEE-M", quantity=1, location="seoul-1")],
                shipping_address=Address(
                    name="Kim", line1="1", city="Seoul", postal_code="06236", country="KR"
                ),
                shipping_method="standard",
            ),
            subject="o-signed",
        )
        uow.publish(contracts.StockReleased(order_id="o-signed"), subject="o-signed")
        await uow.commit()

    relay = OutboxRelay(
        database, channel, batch_size=10, idle_poll_seconds=0.1, signing={WAREHOUSE_EXCHANGE: secret}
    )
    assert await relay.drain() == 2

    pick = await picks.get(timeout=5)
    signed_at = signatures.verify(
        pick.body,
        cast(str, pick.headers[SIGNATURE_HEADER]),
        secrets=["an-older-secret-still-accepted", secret],
        now=time.time(),
        tolerance_seconds=60,
    )
    assert abs(signed_at - time.time()) < 60
    with pytest.raises(signatures.SignatureRefused):
        signatures.verify(
            pick.body.replace(b"o-signed", b"o-forged"),
            cast(str, pick.headers[SIGNATURE_HEADER]),
            secrets=[secret],
            now=time.time(),
            tolerance_seconds=60,
        )
    released = await events.get(timeout=5)
    assert SIGNATURE_HEADER not in (released.headers or {})
    await channel.close()


async def test_a_message_s_trace_travels_on_to_the_messages_it_causes_when_no_span_is_recorded(
    settings: ServiceSettings, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    """A worker without an exporter makes no spans, yet the trace of what it handles reaches what it publishes."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    worker = Worker(definition(Behaviour()), settings)
    assert await worker.start()
    try:
        command = contracts.ReleaseStock(order_id="traced-1", reason="test")
        envelope = Envelope.wrap(command, subject="traced-1", correlation_id="traced-1")
        channel = await broker.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(command.EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                envelope.model_dump_json().encode(),
                message_id=str(envelope.id),
                type=envelope.type,
                headers={"correlation_id": "traced-1", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
            ),
            routing_key=command.routing_key(),
        )
        await channel.close()
        await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "traced-1")
    finally:
        await worker.stop()
    released = next(
        message
        for message in probe.raw
        if message.type == contracts.StockReleased.TYPE and b"traced-1" in message.body
    )
    traceparent = cast(str, (released.headers or {})["traceparent"])
    assert traceparent.split("-")[1] == trace_id


async def test_the_relay_publishes_again_after_its_database_connection_was_cut(
    database: Database, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    """A database restart cuts the relay's connection: it connects again and publishes what is committed next."""
    channel = await broker.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    relay = OutboxRelay(database, channel, batch_size=10, idle_poll_seconds=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await write_outbox_rows(database, 1, "before-cut")
        await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "before-cut-0")
        async with database.engine.connect() as connection:
            cut = await connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert cut.scalar_one() >= 1
        await write_outbox_rows(database, 1, "after-cut")
        await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "after-cut-0", timeout=15)
    finally:
        stop.set()
        await running
        await channel.close()
