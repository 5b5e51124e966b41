"""A reordering broker hop: messages between services held back, overtaken, delayed and delivered twice.

While it runs, every service queue's bindings (events and commands) are moved to a tap queue of its own; it
consumes each tap and puts every message into the service's queue (the default exchange, the queue's name as
routing key) unchanged: the same body, message id, type and headers, so the service's real consumer takes it
as it would from the exchange. A share of the messages is held: released a moment after the next message of
the same order (correlation id) for the same service went past it, so the later one is handled first, or at
a deadline when none comes (a delay). A share is delivered twice, the second copy a little later, possibly
after newer messages. A tap message is acked only once its first copy is confirmed by the broker, so
stopping or failing loses nothing.

It runs its own event loop in a thread (as the flaky proxy does), so a test that blocks never stalls it.
A worker that restarts declares its bindings again and so bypasses the hop: use it without restarts.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from shop_runtime.broker import QUORUM

SHIPPED = "fulfillment.shipment.shipped.v1"
DELIVERED = "fulfillment.shipment.delivered.v1"


@dataclass(frozen=True)
class Route:
    """One binding of a service queue, moved to the tap while the hop runs."""

    exchange: str
    queue: str
    routing_key: str


@dataclass
class ReorderStats:
    passed: int = 0
    held: int = 0
    overtaken: int = 0
    """Held messages released after a later message of the same order went past them."""
    delayed: int = 0
    """Held messages released at their deadline (nothing came after them in time) or when the hop stopped."""
    duplicated: int = 0
    overtakes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(queue, held type, type that overtook it): how often each pair was reordered."""

    def describe(self) -> str:
        return (
            f"{self.passed} messages passed, {self.held} held ({self.overtaken} overtaken by a later message"
            f" of their order, {self.delayed} only delayed), {self.duplicated} delivered twice"
        )

    def overtaken_in(self, queue: str, held: str, by: str) -> int:
        return self.overtakes[(queue, held, by)]


@dataclass
class _Held:
    message: AbstractIncomingMessage
    released: bool = False


def tap_queue(queue: str) -> str:
    return f"chaos.reorder.{queue}"


class Reorderer:
    def __init__(
        self,
        *,
        amqp_url: str,
        routes: list[Route],
        held_share: float = 0.35,
        duplicated_share: float = 0.2,
        overtaken_lag_seconds: tuple[float, float] = (2.0, 5.0),
        hold_deadline_seconds: tuple[float, float] = (1.0, 4.0),
        seed: int = 12,
    ) -> None:
        """``overtaken_lag_seconds``: how long after the message that overtook it a held one follows: long
        enough for a customer who acts on what the later message showed (the order delivered) to act before
        the earlier one (shipped) is handled, on a busy two-core machine where a look at the order takes a
        while."""
        self.amqp_url = amqp_url
        self.routes = routes
        self.held_share = held_share
        self.duplicated_share = duplicated_share
        self.overtaken_lag = overtaken_lag_seconds
        self.hold_deadline = hold_deadline_seconds
        self.stats = ReorderStats()
        self._random = random.Random(seed)
        self._held: dict[tuple[str, str], list[_Held]] = {}
        self._later: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="reorderer", daemon=True)

    @property
    def queues(self) -> list[str]:
        return sorted({route.queue for route in self.routes})

    def start(self) -> Reorderer:
        """Move the bindings to the taps and start passing messages on."""
        self._thread.start()
        assert self._started.wait(60), "the reorderer did not start"
        if self._failed is not None:
            raise RuntimeError("the reorderer could not start") from self._failed
        return self

    def stop(self, timeout: float = 60) -> None:
        """Put the bindings back, pass on what the taps still hold (held messages at once), remove the taps."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the reorderer did not stop"
        if self._failed is not None:
            raise RuntimeError("the reorderer failed") from self._failed

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as error:  # told to start() or stop(), which are waiting for this thread
            self._failed = error
            self._started.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        connection = await aio_pika.connect(self.amqp_url)
        try:
            control = await connection.channel()
            self._out = await connection.channel(publisher_confirms=True)
            services: dict[str, AbstractQueue] = {}
            taps: dict[str, AbstractQueue] = {}
            feeds: dict[str, asyncio.Queue[AbstractIncomingMessage]] = {}
            tags = {}
            for queue in self.queues:
                services[queue] = await control.get_queue(queue, ensure=False)
                taps[queue] = await control.declare_queue(tap_queue(queue), durable=True, arguments=QUORUM)
                feeds[queue] = asyncio.Queue()
                tags[queue] = await taps[queue].consume(feeds[queue].put)
            pumps = [asyncio.create_task(self._pump(queue, feed)) for queue, feed in feeds.items()]
            moved: list[Route] = []
            try:
                # Tap first, then unbind: for a moment a message may reach both, one more duplicate.
                for route in self.routes:
                    await taps[route.queue].bind(route.exchange, routing_key=route.routing_key)
                    await services[route.queue].unbind(route.exchange, routing_key=route.routing_key)
                    moved.append(route)
                self._started.set()
                await self._stop.wait()
            finally:
                for route in moved:
                    await services[route.queue].bind(route.exchange, routing_key=route.routing_key)
                    await taps[route.queue].unbind(route.exchange, routing_key=route.routing_key)
            await self._drain(control, feeds, pumps)
            for queue, tap in taps.items():
                await tap.cancel(tags[queue])
            for pump in pumps:
                pump.cancel()
            await self._release_everything()
            for queue in taps:
                await control.queue_delete(tap_queue(queue))
        finally:
            await connection.close()

    async def _drain(
        self,
        control: AbstractChannel,
        feeds: dict[str, asyncio.Queue[AbstractIncomingMessage]],
        pumps: list[asyncio.Task[None]],
    ) -> None:
        """Wait until no tap holds a message ready and every one taken is passed on or held."""
        deadline = time.monotonic() + 30
        while True:
            for pump in pumps:
                if pump.done():
                    pump.result()  # a pump that failed: its error, not a wait for ever
            ready = 0
            for queue in feeds:
                declared = await control.declare_queue(tap_queue(queue), passive=True)
                ready += declared.declaration_result.message_count or 0
            if ready == 0 and not self._busy and all(feed.empty() for feed in feeds.values()):
                return
            assert time.monotonic() < deadline, f"the taps still hold {ready} message(s)"
            await asyncio.sleep(0.1)

    async def _pump(self, queue: str, feed: asyncio.Queue[AbstractIncomingMessage]) -> None:
        """Each message in the order the tap gave it: hold it, or pass it on (and what it overtook after it)."""
        while True:
            message = await feed.get()
            self._busy += 1
            try:
                await self._take(queue, message)
            finally:
                self._busy -= 1

    async def _take(self, queue: str, message: AbstractIncomingMessage) -> None:
        order = str((message.headers or {}).get("correlation_id") or "")
        if self._random.random() < self.duplicated_share:
            self.stats.duplicated += 1
            self._after(self._random.uniform(0.1, 2.0), functools.partial(self._deliver, queue, message))
        if self._random.random() < self.held_share:
            self._hold(queue, order, message)
            return
        await self._deliver(queue, message)
        await message.ack()
        self.stats.passed += 1
        for held in self._held.pop((queue, order), []):
            held.released = True
            self.stats.overtaken += 1
            self.stats.overtakes[(queue, held.message.type or "", message.type or "")] += 1
            self._after(
                self._random.uniform(*self.overtaken_lag), functools.partial(self._pass_on, queue, held)
            )

    def _hold(self, queue: str, order: str, message: AbstractIncomingMessage) -> None:
        held = _Held(message)
        self._held.setdefault((queue, order), []).append(held)
        self.stats.held += 1

        async def at_deadline() -> None:
            if held.released:
                return
            held.released = True
            waiting = self._held.get((queue, order), [])
            waiting.remove(held)
            if not waiting:
                self._held.pop((queue, order), None)
            self.stats.delayed += 1
            await self._pass_on(queue, held)

        self._after(self._random.uniform(*self.hold_deadline), at_deadline)

    async def _pass_on(self, queue: str, held: _Held) -> None:
        await self._deliver(queue, held.message)
        await held.message.ack()

    async def _release_everything(self) -> None:
        """At stop: what is still held goes now, and the copies and releases already timed finish."""
        for (queue, _), waiting in list(self._held.items()):
            for held in waiting:
                held.released = True
                self.stats.delayed += 1
                await self._pass_on(queue, held)
        self._held.clear()
        if self._later:
            await asyncio.gather(*self._later)

    def _after(self, seconds: float, then: Callable[[], Awaitable[None]]) -> None:
        async def later() -> None:
            await asyncio.sleep(seconds)
            await then()

        task = asyncio.create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _deliver(self, queue: str, message: AbstractIncomingMessage) -> None:
        """Into the service's queue, unchanged, confirmed by the broker."""
        await self._out.default_exchange.publish(
            aio_pika.Message(
                body=message.body,
                content_type=message.content_type,
                message_id=message.message_id,
                type=message.type,
                headers=dict(message.headers or {}),
                timestamp=message.timestamp,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queue,
        )


def routes_of(bindings_listing: str, queues: list[str]) -> list[Route]:
    """The exchange bindings of ``queues`` from ``rabbitmqctl list_bindings source_name destination_name
    destination_kind routing_key`` (the default exchange's implicit bindings left out)."""
    routes = []
    for line in bindings_listing.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        exchange, destination, kind, routing_key = parts
        if exchange and kind == "queue" and destination in queues:
            routes.append(Route(exchange=exchange, queue=destination, routing_key=routing_key))
    return routes
