"""A probed subscription against the real PostgreSQL and RabbitMQ: a message its probe finds a no-op is acked
with no inbox row and no transaction; one it finds worth handling is claimed and handled as any other; a probe
that raises is retried and parked like a failing handler; and in a batch a no-op leaves the others alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts import Envelope
from shop_contracts import catalog as contracts
from shop_contracts.routing import parking_queue, service_queue
from shop_runtime.broker import declare_service_topology
from shop_runtime.consumer import Probed, bindings_for
from shop_runtime.database import Database, UnitOfWork, create_engine
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.metrics import REGISTRY
from shop_runtime.service import ServiceDefinition
from shop_runtime.settings import ServiceSettings
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import eventually, publish_envelope
from tests.support.services import fresh_worker_settings, worker_only

pytestmark = pytest.mark.integration

SERVICE = "runtime_probed"
QUEUE = service_queue(SERVICE)

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False),
)
wanted = sa.Table("wanted", metadata, sa.Column("order_id", sa.Text, primary_key=True))
"""The orders whose ReleaseStock changes something; any other is a no-op."""


class ProbedSettings(ServiceSettings):
    service_name = SERVICE
    database_url: str = infra.database_url(SERVICE)
    http_port: int = 0


@dataclass(frozen=True)
class Look:
    """One run of the probe: the order it looked at, and whether its connection was in a transaction."""

    order_id: str
    in_transaction: bool


@dataclass
class Subscriber:
    """Handles ReleaseStock (an effect and an event) for a wanted order; its probe reads ``wanted`` in one
    statement, and raises for an order named ``broken-*``."""

    looks: list[Look] = field(default_factory=list)
    handled: list[str] = field(default_factory=list)

    async def probe(self, message: contracts.ReleaseStock, session: AsyncSession) -> bool:
        found = await session.scalar(sa.select(sa.exists().where(wanted.c.order_id == message.order_id)))
        connection = await (await session.connection()).get_raw_connection()
        assert connection.driver_connection is not None
        self.looks.append(Look(message.order_id, connection.driver_connection.is_in_transaction()))
        if message.order_id.startswith("broken"):
            raise RuntimeError(f"the probe of {message.order_id} fails")
        return bool(found)

    async def handle(self, message: contracts.ReleaseStock, uow: UnitOfWork) -> None:
        self.handled.append(message.order_id)
        await uow.session.execute(sa.insert(effects).values(order_id=message.order_id))
        uow.publish(contracts.StockReleased(order_id=message.order_id), subject=message.order_id)
        await uow.commit()

    def looked_at(self, order_id: str) -> list[Look]:
        return [look for look in self.looks if look.order_id == order_id]


def definition(subscriber: Subscriber) -> ServiceDefinition:
    return worker_only(
        SERVICE,
        ProbedSettings,
        metadata,
        {contracts.ReleaseStock: Probed(subscriber.handle, subscriber.probe)},
    )


@pytest.fixture
async def settings(broker: AbstractRobustConnection) -> AsyncIterator[ServiceSettings]:
    settings = await fresh_worker_settings(broker, definition(Subscriber()), [100, 300, 600])
    yield settings
    await infra.drop_database(settings.database_url)


@pytest.fixture
async def database(settings: ServiceSettings) -> AsyncIterator[Database]:
    database = Database(create_engine(settings), outbox=outbox, inbox=inbox)
    yield database
    await database.dispose()


def release(order_id: str) -> Envelope:
    command = contracts.ReleaseStock(order_id=order_id, reason="test")
    return Envelope.wrap(command, subject=order_id, correlation_id=order_id)


async def want(database: Database, *order_ids: str) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(wanted), [{"order_id": order_id} for order_id in order_ids])


async def publish(
    broker: AbstractRobustConnection, settings: ServiceSettings, sent: Sequence[Envelope]
) -> None:
    """Put ``sent`` in the service's queue, in this order (an envelope twice is the same message delivered
    twice, as after a lost ack)."""
    channel = await broker.channel(publisher_confirms=True)
    await declare_service_topology(
        channel,
        service=SERVICE,
        bindings=bindings_for({contracts.ReleaseStock: Subscriber().handle}),
        retry_delays_ms=settings.retry_delays_ms,
    )
    await channel.close()
    for envelope in sent:
        await publish_envelope(broker, contracts.ReleaseStock.model_validate(envelope.data), envelope)


def outcomes() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value(
            "shop_messages_handled_total",
            {"queue": QUEUE, "type": contracts.ReleaseStock.TYPE, "outcome": outcome},
        )
        or 0.0
        for outcome in ("ok", "duplicate", "retried", "parked")
    }


def since(before: dict[str, float]) -> dict[str, float]:
    return {outcome: value - before[outcome] for outcome, value in outcomes().items()}


def units_of_work() -> float:
    return REGISTRY.get_sample_value("shop_consumer_unit_of_work_messages_count", {"queue": QUEUE}) or 0.0


async def handle(
    broker: AbstractRobustConnection,
    settings: ServiceSettings,
    subscriber: Subscriber,
    sent: Sequence[Envelope],
    *,
    settled: int,
    backlog: bool = False,
) -> dict[str, float]:
    """Have a worker handle ``sent`` until ``settled`` of them were handled (ok or duplicate); the outcomes.
    ``backlog``: queued before the worker starts, so its consumer takes them in batches."""
    before = outcomes()
    worker = Worker(definition(subscriber), settings)
    if backlog:
        await publish(broker, settings, sent)
    assert await worker.start()
    try:
        if not backlog:
            await publish(broker, settings, sent)

        def all_settled() -> None:
            counted = since(before)
            assert counted["ok"] + counted["duplicate"] == settled

        await eventually(all_settled, timeout=30)
    finally:
        await worker.stop()
    return since(before)


async def rows(database: Database, query: sa.Select[Any]) -> list[Any]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def inbox_ids(database: Database) -> set[uuid.UUID]:
    return {message_id for (message_id,) in await rows(database, sa.select(inbox.c.message_id))}


async def effects_by_order(database: Database) -> dict[str, int]:
    query = sa.select(effects.c.order_id, sa.func.count()).group_by(effects.c.order_id)
    return {order_id: count for order_id, count in await rows(database, query)}


async def outbox_rows(database: Database) -> int:
    return len(await rows(database, sa.select(outbox.c.id)))


async def test_a_message_probed_a_no_op_is_acked_with_no_inbox_row_and_no_transaction(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    subscriber = Subscriber()
    unwanted = release("unwanted")
    counted = await handle(broker, settings, subscriber, [unwanted, unwanted], settled=2)

    assert counted == {"ok": 2, "duplicate": 0, "retried": 0, "parked": 0}  # acked, both times
    # Probed each time (nothing of the first delivery was kept), on a connection in autocommit.
    assert subscriber.looked_at("unwanted") == [Look("unwanted", in_transaction=False)] * 2
    assert subscriber.handled == []
    assert await inbox_ids(database) == set()
    assert await effects_by_order(database) == {}
    assert await outbox_rows(database) == 0


async def test_a_message_probed_worth_handling_is_claimed_and_handled_once(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    await want(database, "wanted")
    subscriber = Subscriber()
    first = release("wanted")
    counted = await handle(broker, settings, subscriber, [first, first], settled=2)

    # Both deliveries probed; the claim tells the second from the first, as for any message.
    assert counted == {"ok": 1, "duplicate": 1, "retried": 0, "parked": 0}
    assert subscriber.looked_at("wanted") == [Look("wanted", in_transaction=False)] * 2
    assert subscriber.handled == ["wanted"]
    assert await inbox_ids(database) == {first.id}
    assert await effects_by_order(database) == {"wanted": 1}
    assert await outbox_rows(database) == 1


async def test_a_probe_that_raises_is_retried_and_parked_like_a_failing_handler(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    await want(database, "after")
    subscriber = Subscriber()
    broken = release("broken-1")
    worker = Worker(definition(subscriber), settings)
    assert await worker.start()
    channel = await broker.channel()
    found: list[AbstractIncomingMessage] = []
    try:
        await publish(broker, settings, [broken, release("after")])
        parked_queue = await channel.get_queue(parking_queue(SERVICE))

        async def parked() -> None:
            message = await parked_queue.get(no_ack=True, fail=False)
            assert message is not None
            found.append(message)

        await eventually(parked, timeout=15)
    finally:
        await worker.stop()
        await channel.close()

    assert found[0].message_id == str(broken.id)
    headers = found[0].headers or {}
    assert headers["x-shop-attempts"] == 4  # tried, then retried after each of the three delays
    assert "the probe of broken-1 fails" in str(headers["x-shop-error"])
    assert len(subscriber.looked_at("broken-1")) == 4
    assert "broken-1" not in subscriber.handled
    # The queue kept flowing, and nothing of the broken message was kept.
    assert await effects_by_order(database) == {"after": 1}
    assert broken.id not in await inbox_ids(database)


async def test_no_ops_in_a_batch_are_acked_unclaimed_while_the_others_take_effect_once(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    wanted_orders = [f"batch-wanted-{index}" for index in range(15)]
    await want(database, *wanted_orders)
    sent = [release(order_id) for order_id in wanted_orders]
    sent += [release(f"batch-unwanted-{index}") for index in range(15)]
    sent = sent[::2] + sent[1::2]  # wanted and unwanted mixed through the backlog
    again = [sent[3], sent[4], sent[20]]  # delivered a second time
    subscriber = Subscriber()
    units_before = units_of_work()
    counted = await handle(
        broker, settings, subscriber, [*sent, *again], settled=len(sent) + len(again), backlog=True
    )

    assert units_of_work() - units_before < len(sent)  # they really were handled in batches
    wanted_sent = [envelope for envelope in sent if envelope.correlation_id in wanted_orders]
    wanted_again = [envelope for envelope in again if envelope.correlation_id in wanted_orders]
    assert counted["duplicate"] == len(wanted_again)
    assert counted["ok"] == len(sent) + len(again) - len(wanted_again)
    assert (counted["retried"], counted["parked"]) == (0, 0)
    assert await inbox_ids(database) == {envelope.id for envelope in wanted_sent}
    assert await effects_by_order(database) == dict.fromkeys(wanted_orders, 1)
    assert await outbox_rows(database) == len(wanted_orders)
    assert any(look.in_transaction for look in subscriber.looks)  # probed in a batch's transaction


async def test_a_probe_that_raises_in_a_batch_splits_it_and_the_others_take_effect_once(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    wanted_orders = [f"split-wanted-{index}" for index in range(10)]
    await want(database, *wanted_orders)
    sent = [release(order_id) for order_id in wanted_orders]
    sent += [release(f"split-unwanted-{index}") for index in range(10)]
    sent.insert(12, release("broken-in-batch"))
    split_before = REGISTRY.get_sample_value("shop_consumer_batches_split_total", {"queue": QUEUE}) or 0.0
    subscriber = Subscriber()
    counted = await handle(broker, settings, subscriber, sent, settled=len(sent) - 1, backlog=True)

    split = REGISTRY.get_sample_value("shop_consumer_batches_split_total", {"queue": QUEUE}) or 0.0
    assert split - split_before >= 1
    assert counted["ok"] == len(sent) - 1
    assert counted["duplicate"] == 0
    assert "broken-in-batch" not in subscriber.handled
    assert await effects_by_order(database) == dict.fromkeys(wanted_orders, 1)
    assert await inbox_ids(database) == {
        envelope.id for envelope in sent if envelope.correlation_id in wanted_orders
    }
