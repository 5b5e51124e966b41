"""How the consumer shares its slots among ready messages: alone while slots are free, in batches of different
orders' first messages when they are not, one message of an order at a time, in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shop_contracts import Envelope
from shop_contracts import catalog as contracts
from shop_runtime.consumer import Consumer, Dispatcher, Routed


class FakeChannel:
    """The channel deliveries come on: records the acks it is sent, as the broker would apply them."""

    is_closed = False

    def __init__(self) -> None:
        self.delivered: dict[int, FakeMessage] = {}
        self.frames: list[tuple[int, bool]] = []

    def deliver(self, message: FakeMessage) -> None:
        message.delivery_tag = len(self.delivered) + 1
        self.delivered[message.delivery_tag] = message

    async def basic_ack(self, delivery_tag: int, multiple: bool = False, wait: bool = True) -> None:
        """Settle ``delivery_tag`` (and with ``multiple`` every outstanding one below it); acking a settled tag
        is the broker's PRECONDITION_FAILED, counted here as a second ack."""
        self.frames.append((delivery_tag, multiple))
        outstanding = [
            tag for tag, message in self.delivered.items() if tag <= delivery_tag and not message.acks
        ]
        for tag in outstanding if multiple else [delivery_tag]:
            self.delivered[tag].acks += 1


CHANNEL = FakeChannel()


@pytest.fixture(autouse=True)
def new_channel() -> None:
    """Each test's deliveries come on a channel of their own, numbered from 1, as a new channel's are."""
    global CHANNEL
    CHANNEL = FakeChannel()


@dataclass
class FakeMessage:
    """What the consumer reads of a delivery, and whether it was acked (once)."""

    order_id: str
    step: int
    envelope: Envelope = field(init=False)
    acks: int = 0
    delivery_tag: int = 0
    channel: FakeChannel = field(default_factory=lambda: CHANNEL)

    def __post_init__(self) -> None:
        command = contracts.ReleaseStock(order_id=self.order_id, reason=str(self.step))
        self.envelope = Envelope.wrap(command, subject=self.order_id, correlation_id=self.order_id)
        self.channel.deliver(self)

    @property
    def acked(self) -> bool:
        return self.acks > 0

    @property
    def body(self) -> bytes:
        return self.envelope.model_dump_json().encode()

    @property
    def headers(self) -> dict[str, Any]:
        return {"correlation_id": self.order_id}

    @property
    def message_id(self) -> str:
        return str(self.envelope.id)

    @property
    def type(self) -> str:
        return self.envelope.type


@dataclass
class HeldDispatcher:
    """Records each unit of work (the (order, step) pairs it held) and holds it until the test releases it."""

    units: list[list[tuple[str, str]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def message_types(self) -> list[str]:
        return [contracts.ReleaseStock.TYPE]

    def route(self, envelope: Envelope) -> Routed:
        message = contracts.ReleaseStock.model_validate(envelope.data)
        return Routed(envelope, message, self._never_called)

    async def _never_called(self, message: Any, uow: Any) -> None:
        raise AssertionError("the fake dispatcher runs no handlers")

    async def dispatch(self, envelope: Envelope) -> bool:
        await self._unit([envelope])
        return True

    async def dispatch_together(
        self, batch: Sequence[Routed], *, around: Callable[[int], AbstractContextManager[object]]
    ) -> list[bool]:
        await self._unit([routed.envelope for routed in batch])
        return [True] * len(batch)

    async def _unit(self, envelopes: list[Envelope]) -> None:
        self.units.append([(e.data["order_id"], e.data["reason"]) for e in envelopes])
        await self.release.wait()


def consumer(dispatcher: HeldDispatcher, *, concurrency: int, batch_size: int) -> Consumer:
    return Consumer(
        service="unit_batches",
        channel=cast(AbstractChannel, object()),
        dispatcher=cast(Dispatcher, dispatcher),
        retry_delays_ms=[100],
        concurrency=concurrency,
        batch_size=batch_size,
    )


async def deliver(consumer: Consumer, messages: Sequence[FakeMessage]) -> None:
    for message in messages:
        await consumer._on_message(cast(AbstractIncomingMessage, message))


async def settled(worker: Consumer, messages: Sequence[FakeMessage]) -> None:
    """Wait (up to 5 s) until nothing is in flight, as stopping does; then every message was acked."""
    await worker.stop(grace_seconds=5)
    assert all(message.acks == 1 for message in messages)


async def test_while_slots_are_free_each_message_starts_at_once_alone() -> None:
    dispatcher = HeldDispatcher()
    worker = consumer(dispatcher, concurrency=4, batch_size=16)
    messages = [FakeMessage(f"order-{index}", 1) for index in range(3)]
    await deliver(worker, messages)
    await asyncio.sleep(0)  # the units of work start
    assert sorted(dispatcher.units) == [[(f"order-{index}", "1")] for index in range(3)]
    dispatcher.release.set()
    await settled(worker, messages)


async def test_a_backlog_goes_in_batches_of_different_orders_first_messages_in_their_order() -> None:
    dispatcher = HeldDispatcher()
    worker = consumer(dispatcher, concurrency=1, batch_size=4)
    first = FakeMessage("first", 1)
    await deliver(worker, [first])
    await asyncio.sleep(0)
    assert dispatcher.units == [[("first", "1")]]  # alone, while nothing else was ready: it never waits
    backlog = [FakeMessage("lane-a", step) for step in (1, 2, 3)] + [
        FakeMessage(f"other-{index}", 1) for index in range(6)
    ]
    await deliver(worker, backlog)
    await asyncio.sleep(0)
    assert len(dispatcher.units) == 1  # the one slot is taken: the backlog waits for it
    dispatcher.release.set()
    await settled(worker, [first, *backlog])

    batches = dispatcher.units[1:]
    assert all(len(batch) <= 4 for batch in batches)
    assert len(batches) < len(backlog)
    for batch in batches:
        orders = [order for order, _ in batch]
        assert len(orders) == len(set(orders))  # one message of an order per batch
    lane_a = [step for batch in batches for order, step in batch if order == "lane-a"]
    assert lane_a == ["1", "2", "3"]
    assert sorted(pair for batch in batches for pair in batch) == sorted(
        (message.order_id, str(message.step)) for message in backlog
    )


async def test_with_a_batch_size_of_1_every_message_is_a_unit_of_work_of_its_own() -> None:
    dispatcher = HeldDispatcher()
    worker = consumer(dispatcher, concurrency=2, batch_size=1)
    messages = [FakeMessage(f"order-{index % 3}", index) for index in range(9)]
    await deliver(worker, messages)
    dispatcher.release.set()
    await settled(worker, messages)
    assert [len(unit) for unit in dispatcher.units] == [1] * 9
    for order in ("order-0", "order-1", "order-2"):
        steps = [step for unit in dispatcher.units for handled, step in unit if handled == order]
        assert steps == sorted(steps, key=int)


@dataclass
class GatedDispatcher:
    """Holds each unit of work until every order in it is released."""

    released: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def message_types(self) -> list[str]:
        return [contracts.ReleaseStock.TYPE]

    def route(self, envelope: Envelope) -> Routed:
        return HeldDispatcher().route(envelope)

    def release(self, *orders: str) -> None:
        self.released.update(orders)
        self.changed.set()

    async def dispatch(self, envelope: Envelope) -> bool:
        await self._unit([envelope])
        return True

    async def dispatch_together(
        self, batch: Sequence[Routed], *, around: Callable[[int], AbstractContextManager[object]]
    ) -> list[bool]:
        await self._unit([routed.envelope for routed in batch])
        return [True] * len(batch)

    async def _unit(self, envelopes: list[Envelope]) -> None:
        while not {envelope.data["order_id"] for envelope in envelopes} <= self.released:
            self.changed.clear()
            await self.changed.wait()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the condition is the fake channel's, which has no event
            await asyncio.sleep(0)


async def test_a_batch_of_the_lowest_unsettled_deliveries_is_acked_in_one_frame() -> None:
    dispatcher = GatedDispatcher()
    worker = consumer(cast(HeldDispatcher, dispatcher), concurrency=1, batch_size=4)
    first = FakeMessage("first", 1)
    backlog = [FakeMessage(f"other-{index}", 1) for index in range(4)]
    await deliver(worker, [first, *backlog])
    dispatcher.release("first")
    await until(lambda: first.acked)
    frames = len(CHANNEL.frames)
    dispatcher.release(*(message.order_id for message in backlog))
    await settled(worker, [first, *backlog])
    assert CHANNEL.frames[frames:] == [(backlog[-1].delivery_tag, True)]


async def test_no_ack_covers_an_earlier_delivery_still_being_handled() -> None:
    dispatcher = GatedDispatcher()
    worker = consumer(cast(HeldDispatcher, dispatcher), concurrency=2, batch_size=4)
    slow, quick = FakeMessage("slow", 1), FakeMessage("quick", 1)
    later = [FakeMessage(f"later-{index}", 1) for index in range(3)]
    await deliver(worker, [slow, quick, *later])
    dispatcher.release("quick", *(message.order_id for message in later))
    await until(lambda: all(message.acked for message in [quick, *later]))
    assert not slow.acked  # its tag is the lowest: a multiple ack of the later ones would have settled it
    dispatcher.release("slow")
    await settled(worker, [slow, quick, *later])


async def test_no_ack_covers_a_delivery_that_has_not_reached_the_consumer() -> None:
    dispatcher = GatedDispatcher()
    worker = consumer(cast(HeldDispatcher, dispatcher), concurrency=1, batch_size=4)
    unseen = FakeMessage("unseen", 1)  # delivered on the channel, not yet handed to the consumer
    first = FakeMessage("first", 1)
    backlog = [FakeMessage(f"other-{index}", 1) for index in range(4)]
    await deliver(worker, [first, *backlog])
    dispatcher.release("first", *(message.order_id for message in backlog))
    await settled(worker, [first, *backlog])
    assert not unseen.acked
    assert not any(multiple for _, multiple in CHANNEL.frames)
