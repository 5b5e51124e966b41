"""The worker process of a service: its consumer, its outbox relay, its background loops (the schedule, the
message retention, the service's own) and its metrics.

It serves Prometheus metrics on its own port (``worker_metrics_port``: the service's HTTP port plus 1000) and
samples what only it can see on a timer: its queue's lag, its parking queue's depth and the outbox backlog.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

import uvloop
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from shop_contracts.routing import parking_queue, service_queue
from shop_runtime.broker import connect, declare_service_topology
from shop_runtime.clock import clock_for
from shop_runtime.consumer import Consumer, Dispatcher, bindings_for
from shop_runtime.metrics import (
    CONSUMER_LAG,
    DEAD_LETTER_DEPTH,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    MetricsServer,
    start_metrics_server,
    worker_metrics_port,
)
from shop_runtime.outbox import OutboxRelay, outbox_backlog
from shop_runtime.retention import MessageRetention
from shop_runtime.scheduling import Scheduler
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

    metrics_sample_seconds: float = 5.0
    """How often the queue depths and the outbox backlog are sampled (a third of a 15 s scrape interval)."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: Consumer | None = None
        self._broker: AbstractRobustConnection | None = None
        self.database = definition.database(settings)
        self.metrics_server: MetricsServer | None = None

    async def start(self) -> bool:
        """Serve metrics, connect, declare the topology, consume; False if stopped before the broker answered."""
        definition, settings = self.definition, self.settings
        self._serve_metrics()
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
            service=definition.name,
            signing=definition.signing(settings),
        )
        self._consumer = Consumer(
            service=definition.name,
            channel=consume_channel,
            dispatcher=Dispatcher(
                self.database, consumer=service_queue(definition.name), subscriptions=subscriptions
            ),
            retry_delays_ms=settings.retry_delays_ms,
            concurrency=settings.consumer_concurrency,
            batch_size=settings.consumer_batch_size,
        )
        self._tasks = [
            asyncio.create_task(relay.run(self.stopping), name="outbox-relay"),
            asyncio.create_task(self._sample_metrics(self.stopping), name="metrics-sampler"),
            asyncio.create_task(
                MessageRetention(
                    self.database,
                    retention=timedelta(days=settings.message_retention_days),
                    batch_size=settings.message_retention_batch_size,
                    interval_seconds=settings.message_retention_interval_seconds,
                    service=definition.name,
                ).run(self.stopping),
                name="message-retention",
            ),
        ]
        jobs = definition.jobs(context)
        if jobs:
            scheduler = Scheduler(
                self.database,
                definition.metadata.tables["scheduled_jobs"],
                jobs,
                clock=context.clock,
                poll_seconds=settings.scheduler_poll_seconds,
                max_attempts=settings.job_max_attempts,
                service=definition.name,
            )
            self._tasks.append(asyncio.create_task(scheduler.run(self.stopping), name="scheduler"))
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
        if self.metrics_server is not None:
            await asyncio.to_thread(self.metrics_server.close)
            self.metrics_server = None
        log.info("%s worker stopped", self.definition.name)

    def _serve_metrics(self) -> None:
        """A worker without its metrics still does its work: a taken port is logged, not fatal."""
        port = worker_metrics_port(self.settings.http_port)
        try:
            self.metrics_server = start_metrics_server(port, host=self.settings.http_host)
        except OSError as error:
            log.warning("cannot serve metrics on port %d (%s); the worker runs without them", port, error)
            return
        log.info("%s worker serves metrics on port %d", self.definition.name, self.metrics_server.port)

    async def _sample_metrics(self, stop: asyncio.Event) -> None:
        """Sample queue depths (passive declares on a channel of their own) and the outbox backlog."""
        assert self._broker is not None
        service = self.definition.name
        queues = ((service_queue(service), CONSUMER_LAG), (parking_queue(service), DEAD_LETTER_DEPTH))
        gauges = [(name, gauge.labels(name)) for name, gauge in queues]
        backlog, oldest_age = OUTBOX_BACKLOG.labels(service), OUTBOX_OLDEST_AGE.labels(service)
        channel: AbstractRobustChannel | None = None
        while not stop.is_set():
            try:
                if channel is None or channel.is_closed:
                    channel = await self._broker.channel(publisher_confirms=False)
                for name, gauge in gauges:
                    # robust=False: a robust channel would answer later passive declares from its cache.
                    queue = await channel.declare_queue(name, passive=True, robust=False)
                    gauge.set(queue.declaration_result.message_count or 0)
            except Exception as error:
                log.warning("sampling queue depths failed: %s", error)
            try:
                waiting = await outbox_backlog(self.database)
                backlog.set(waiting.unpublished)
                oldest_age.set(waiting.oldest_age_seconds)
            except Exception as error:
                log.warning("sampling the outbox backlog failed: %s", error)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.metrics_sample_seconds)
            except TimeoutError:
                pass
        if channel is not None and not channel.is_closed:
            await channel.close()


async def run_worker(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """Run a worker until SIGTERM or SIGINT."""
    worker = Worker(definition, settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stopping.set)
    if await worker.start():
        await worker.stopping.wait()
    await worker.stop()


def run_worker_process(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """Run a worker to its end on uvloop's event loop (libuv), as the HTTP processes run: a message costs a dozen
    or more turns of the loop (each round trip to PostgreSQL and RabbitMQ wakes it), and uvloop's turns, futures'
    callbacks and socket writes cost less CPU than asyncio's own (see docs/decisions.md, "Workers on uvloop")."""
    uvloop.run(run_worker(definition, settings))
