"""Several ready messages in one unit of work, against the real PostgreSQL and RabbitMQ: a backlog is handled in
fewer transactions than messages, yet each message takes effect once, with its own causation and trace, in its
lane's order; a failing message is retried and parked alone; duplicates are skipped."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope
from shop_contracts import catalog as contracts
from shop_contracts.routing import parking_queue, service_queue
from shop_runtime.broker import declare_service_topology
from shop_runtime.consumer import bindings_for
from shop_runtime.database import Database, UnitOfWork, create_engine
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.metrics import REGISTRY
from shop_runtime.service import ServiceDefinition
from shop_runtime.settings import ServiceSettings
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import eventually
from tests.support.services import fresh_worker_settings, worker_only

pytestmark = pytest.mark.integration

SERVICE = "runtime_batch"
QUEUE = service_queue(SERVICE)

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
)


class BatchProbeSettings(ServiceSettings):
    service_name = SERVICE
    database_url: str = infra.database_url(SERVICE)
    http_port: int = 0


@dataclass
class Handler:
    """Records an effect and publishes an event per ReleaseStock; an order in ``poisoned`` always fails."""

    poisoned: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    async def handle(self, message: contracts.ReleaseStock, uow: UnitOfWork) -> None:
        self.calls.append(message.order_id)
        await uow.session.execute(sa.insert(effects).values(order_id=message.order_id, step=message.reason))
        if message.order_id in self.poisoned:
            raise RuntimeError(f"{message.order_id} is poisoned")
        uow.publish(contracts.StockReleased(order_id=message.order_id), subject=message.order_id)
        await (
            uow.commit()
        )  # as the bench's handler does: in a batch it must leave the others' work uncommitted


def definition(handler: Handler) -> ServiceDefinition:
    return worker_only(SERVICE, BatchProbeSettings, metadata, {contracts.ReleaseStock: handler.handle})


@pytest.fixture
async def settings(broker: AbstractRobustConnection) -> AsyncIterator[ServiceSettings]:
    settings = await fresh_worker_settings(broker, definition(Handler()), [100, 300, 600])
    yield settings
    await infra.drop_database(settings.database_url)


@pytest.fixture
async def database(settings: ServiceSettings) -> AsyncIterator[Database]:
    database = Database(create_engine(settings), outbox=outbox, inbox=inbox)
    yield database
    await database.dispose()


@dataclass(frozen=True)
class Sent:
    envelope: Envelope
    trace_id: str


def release(order_id: str, step: str = "1") -> Sent:
    command = contracts.ReleaseStock(order_id=order_id, reason=step)
    return Sent(Envelope.wrap(command, subject=order_id, correlation_id=order_id), uuid.uuid4().hex)


async def fill_queue(
    broker: AbstractRobustConnection,
    settings: ServiceSettings,
    sent: Sequence[Sent],
    *,
    lanes: Sequence[str] | None = None,
) -> None:
    """Put ``sent`` in the service's queue before its worker starts: a backlog. ``lanes`` overrides each one's
    correlation header (the consumer's lane)."""
    channel = await broker.channel(publisher_confirms=True)
    await declare_service_topology(
        channel,
        service=SERVICE,
        bindings=bindings_for({contracts.ReleaseStock: Handler().handle}),
        retry_delays_ms=settings.retry_delays_ms,
    )
    exchange = await channel.get_exchange(contracts.ReleaseStock.EXCHANGE)
    for index, one in enumerate(sent):
        envelope = one.envelope
        await exchange.publish(
            aio_pika.Message(
                envelope.model_dump_json().encode(),
                content_type="application/json",
                message_id=str(envelope.id),
                type=envelope.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={
                    "correlation_id": lanes[index] if lanes else envelope.correlation_id,
                    "traceparent": f"00-{one.trace_id}-{uuid.uuid4().hex[:16]}-01",
                },
            ),
            routing_key=contracts.ReleaseStock.TYPE,
        )
    await channel.close()


@dataclass(frozen=True)
class Counts:
    """The consumer's metrics of this test's queue at one moment."""

    units_of_work: float
    messages_in_units: float
    batches_split: float
    outcomes: dict[str, float]

    @classmethod
    def now(cls) -> Counts:
        def value(name: str, **labels: str) -> float:
            return REGISTRY.get_sample_value(name, {"queue": QUEUE, **labels}) or 0.0

        return cls(
            units_of_work=value("shop_consumer_unit_of_work_messages_count"),
            messages_in_units=value("shop_consumer_unit_of_work_messages_sum"),
            batches_split=value("shop_consumer_batches_split_total"),
            outcomes={
                outcome: value(
                    "shop_messages_handled_total", type=contracts.ReleaseStock.TYPE, outcome=outcome
                )
                for outcome in ("ok", "duplicate", "retried", "parked")
            },
        )

    def since(self, before: Counts) -> Counts:
        return Counts(
            units_of_work=self.units_of_work - before.units_of_work,
            messages_in_units=self.messages_in_units - before.messages_in_units,
            batches_split=self.batches_split - before.batches_split,
            outcomes={key: value - before.outcomes[key] for key, value in self.outcomes.items()},
        )


async def rows(database: Database, query: sa.Select[Any]) -> list[Any]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def handle_backlog(
    broker: AbstractRobustConnection,
    settings: ServiceSettings,
    handler: Handler,
    sent: Sequence[Sent],
    *,
    settled: int,
    lanes: Sequence[str] | None = None,
) -> Counts:
    """Fill the queue with ``sent``, start a worker on it and wait until ``settled`` messages were handled
    (ok or duplicate); return the consumer's counts of that."""
    await fill_queue(broker, settings, sent, lanes=lanes)
    before = Counts.now()
    worker = Worker(definition(handler), settings)
    assert await worker.start()
    try:

        def all_settled() -> None:
            outcomes = Counts.now().since(before).outcomes
            assert outcomes["ok"] + outcomes["duplicate"] == settled

        await eventually(all_settled, timeout=30)
    finally:
        await worker.stop()
    return Counts.now().since(before)


async def effects_by_order(database: Database) -> dict[str, int]:
    query = sa.select(effects.c.order_id, sa.func.count()).group_by(effects.c.order_id)
    return {order_id: count for order_id, count in await rows(database, query)}


async def test_a_backlog_is_handled_in_fewer_transactions_than_messages_and_each_takes_effect_once(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    sent = [release(f"backlog-{index}") for index in range(40)]
    counts = await handle_backlog(broker, settings, Handler(), sent, settled=40)
    assert counts.messages_in_units == 40
    assert counts.units_of_work < 40
    assert counts.outcomes == {"ok": 40, "duplicate": 0, "retried": 0, "parked": 0}
    assert await effects_by_order(database) == {f"backlog-{index}": 1 for index in range(40)}
    published = await rows(database, sa.select(sa.func.count()).select_from(outbox))
    assert published[0][0] == 40


async def test_a_poisoned_message_in_a_batch_is_retried_and_parked_alone_while_the_others_take_effect_once(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    sent = [release(f"mixed-{index}") for index in range(30)]
    handler = Handler(poisoned={"mixed-12"})
    counts = await handle_backlog(broker, settings, handler, sent, settled=29)

    channel = await broker.channel()
    parked_queue = await channel.get_queue(parking_queue(SERVICE))
    found: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def parked() -> None:
        message = await parked_queue.get(no_ack=True, fail=False)
        assert message is not None
        found.append(message)

    worker = Worker(definition(handler), settings)  # the retries come back from their delay queues
    assert await worker.start()
    try:
        await eventually(parked, timeout=15)
    finally:
        await worker.stop()
        await channel.close()
    headers = found[0].headers or {}
    assert found[0].message_id == str(sent[12].envelope.id)
    assert headers["x-shop-attempts"] == 4  # its own attempts, one per delivery, not one per batch-mate
    assert "mixed-12 is poisoned" in str(headers["x-shop-error"])
    assert counts.batches_split >= 1  # it really was in a batch
    assert handler.calls.count("mixed-12") >= 5  # in its batch, then alone on each of its 4 deliveries
    # The others were rolled back with it and handled again alone: each took effect once, none was a duplicate
    # (a handler's own commit inside the batch committed nothing).
    assert counts.outcomes["ok"] == 29
    assert counts.outcomes["duplicate"] == 0
    assert await effects_by_order(database) == {f"mixed-{index}": 1 for index in range(30) if index != 12}


async def test_duplicates_in_a_batch_are_skipped(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    earlier = [release(f"earlier-{index}") for index in range(5)]
    await handle_backlog(broker, settings, Handler(), earlier, settled=5)

    fresh = [release(f"fresh-{index}") for index in range(20)]
    twice = release("twice")
    # The earlier ones again, and one new message twice in different lanes, so both copies can share a batch.
    backlog = [*fresh[:10], *earlier, twice, *fresh[10:], twice]
    lanes = [one.envelope.correlation_id for one in backlog]
    lanes[-1] = "another-lane"
    counts = await handle_backlog(broker, settings, Handler(), backlog, settled=len(backlog), lanes=lanes)

    assert counts.outcomes == {"ok": 21, "duplicate": 6, "retried": 0, "parked": 0}
    assert counts.units_of_work < len(backlog)
    assert await effects_by_order(database) == {
        one.envelope.correlation_id: 1 for one in [*earlier, *fresh, twice]
    }


async def test_one_order_s_messages_in_a_backlog_are_still_handled_in_order(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    steps = [str(step) for step in range(1, 13)]
    backlog: list[Sent] = []
    for step in steps:
        backlog += [release("lane-a", step), release(f"other-{step}-1"), release(f"other-{step}-2")]
    counts = await handle_backlog(broker, settings, Handler(), backlog, settled=len(backlog))

    assert counts.units_of_work < len(backlog)
    handled = await rows(
        database, sa.select(effects.c.step).where(effects.c.order_id == "lane-a").order_by(effects.c.id)
    )
    assert [step for (step,) in handled] == steps


async def test_outbox_rows_of_a_batch_carry_each_message_s_own_causation_correlation_and_trace(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    sent = {f"traced-{index}": release(f"traced-{index}") for index in range(24)}
    counts = await handle_backlog(broker, settings, Handler(), list(sent.values()), settled=len(sent))
    assert counts.units_of_work < len(sent)

    written = await rows(database, sa.select(outbox.c.body, outbox.c.headers))
    assert len(written) == len(sent)
    for body, headers in written:
        envelope = Envelope.model_validate(json.loads(body))
        cause = sent[envelope.subject]
        assert envelope.causation_id == str(cause.envelope.id)
        assert envelope.correlation_id == cause.envelope.correlation_id == headers["correlation_id"]
        assert headers["traceparent"].split("-")[1] == cause.trace_id


async def test_with_a_batch_size_of_1_every_message_has_a_transaction_of_its_own(
    settings: ServiceSettings, database: Database, broker: AbstractRobustConnection
) -> None:
    one_by_one = settings.model_copy(update={"consumer_batch_size": 1})
    sent = [release(f"single-{index}") for index in range(20)]
    counts = await handle_backlog(broker, one_by_one, Handler(), sent, settled=20)
    assert counts.units_of_work == counts.messages_in_units == 20
    assert counts.batches_split == 0
    assert await effects_by_order(database) == {f"single-{index}": 1 for index in range(20)}
