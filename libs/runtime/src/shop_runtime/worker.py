"""The worker process of a service: its consumer, its outbox relay and its background loops, shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from aio_pika.abc import AbstractRobustConnection

from shop_contracts.routing import service_queue
from shop_runtime.broker import connect, declare_service_topology
from shop_runtime.clock import clock_for
from shop_runtime.consumer import Consumer, Dispatcher, bindings_for
from shop_runtime.outbox import OutboxRelay
from shop_runtime.service import ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


async def connect_with_retry(url: str, stop: asyncio.Event) -> AbstractRobustConnection | None:
    """Wait for the broker at start-up instead of failing: the service comes up when the broker does."""
    delay = 0.5
    while not stop.is_set():
        try:
            return await connect(url)
        except (OSError, ConnectionError) as error:
            log.warning("broker not reachable (%s); retrying in %.1fs", error, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 10)
    return None


class Worker:
    """A service's consumer, outbox relay and background loops; ``start`` then ``stop``."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: Consumer | None = None
        self._broker: AbstractRobustConnection | None = None
        self.database = definition.database(settings)

    async def start(self) -> bool:
        """Connect, declare the topology and start consuming; False if stopped before the broker answered."""
        definition, settings = self.definition, self.settings
        self._broker = await connect_with_retry(settings.amqp_url, self.stopping)
        if self._broker is None:
            return False
        context = WorkerContext(
            settings=settings,
            database=self.database,
            broker=self._broker,
            clock=clock_for(settings.test_clock_file),
        )
        subscriptions = definition.subscriptions(context)
        consume_channel = await self._broker.channel(publisher_confirms=True)
        await consume_channel.set_qos(prefetch_count=settings.consumer_prefetch)
        await declare_service_topology(
            consume_channel,
            service=definition.name,
            bindings=bindings_for(subscriptions),
            retry_delays_ms=settings.retry_delays_ms,
        )
        relay = OutboxRelay(
            self.database,
            await self._broker.channel(publisher_confirms=True),
            batch_size=settings.relay_batch_size,
            idle_poll_seconds=settings.relay_idle_poll_seconds,
        )
        self._consumer = Consumer(
            service=definition.name,
            channel=consume_channel,
            dispatcher=Dispatcher(
                self.database, consumer=service_queue(definition.name), subscriptions=subscriptions
            ),
            retry_delays_ms=settings.retry_delays_ms,
        )
        self._tasks = [asyncio.create_task(relay.run(self.stopping), name="outbox-relay")]
        self._tasks += [asyncio.create_task(task(self.stopping)) for task in definition.background(context)]
        await self._consumer.start()
        log.info("%s worker started", definition.name)
        return True

    async def stop(self) -> None:
        """Stop taking messages, finish those in flight, let the relay finish its batch, then close."""
        log.info("%s worker stopping", self.definition.name)
        self.stopping.set()
        if self._consumer is not None:
            await self._consumer.stop(self.settings.shutdown_grace_seconds)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._broker is not None:
            await self._broker.close()
        await self.database.dispose()
        log.info("%s worker stopped", self.definition.name)


async def run_worker(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """Run a worker until SIGTERM or SIGINT."""
    worker = Worker(definition, settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stopping.set)
    if await worker.start():
        await worker.stopping.wait()
    await worker.stop()
