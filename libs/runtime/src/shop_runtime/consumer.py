"""Consuming a service's queue: decode, run the subscribed handler once (inbox), ack after commit.

A failing message is re-published to a delay queue with its attempt count and error, waits there and
dead-letters back; once the retry budget is spent it is parked with its error. Either way the original is
acked only after the copy is confirmed, so nothing is lost and nothing blocks the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shop_contracts import Envelope, Message, UnknownMessageType
from shop_contracts.routing import parking_queue, retry_queue, service_queue
from shop_runtime.broker import QUORUM, Binding
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.dead_letters import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    PARKED_AT_HEADER,
    TRACEBACK_HEADER,
)
from shop_runtime.metrics import ConsumerMetrics, Outcome
from shop_runtime.telemetry import spans_recorded

log = logging.getLogger(__name__)
tracer = trace.get_tracer("shop_runtime.consumer")

MessageHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
"""A consumer function: translates one contract into a command and runs its handler in the given unit of work."""

Subscriptions = Mapping[type[Message], MessageHandler]


def bindings_for(subscriptions: Subscriptions) -> list[Binding]:
    """A binding per subscribed message and per earlier version it replaces, which may still be in flight."""
    return [
        Binding.for_message(version)
        for message in subscriptions
        for version in (message, *message.replaced_versions())
    ]


@dataclass(frozen=True, slots=True)
class _Route:
    """How an envelope of one type is handled: decoded as ``decoded``, upcast to ``handled``, then handled."""

    decoded: type[Message]
    handled: type[Message]
    handler: MessageHandler


class Dispatcher:
    """Runs the subscribed handler for one envelope in one unit of work, at most once per message id.

    An envelope of an earlier version of a subscribed message is upcast to it first (``Message.upcast``), so
    a handler sees only the version it subscribed to.
    """

    def __init__(self, database: Database, *, consumer: str, subscriptions: Subscriptions) -> None:
        self._database = database
        self._consumer = consumer
        self._routes: dict[str, _Route] = {}
        for message, handler in subscriptions.items():
            for version in (message, *message.replaced_versions()):
                if version.TYPE in self._routes:
                    raise ValueError(f"{consumer} subscribes to {version.TYPE} twice")
                self._routes[version.TYPE] = _Route(version, message, handler)

    @property
    def message_types(self) -> list[str]:
        return list(self._routes)

    async def dispatch(self, envelope: Envelope) -> bool:
        """Handle ``envelope``; return False when it was a duplicate and changed nothing."""
        try:
            route = self._routes[envelope.type]
        except KeyError:
            raise UnknownMessageType(f"{self._consumer} has no handler for {envelope.type!r}") from None
        message = route.handled.upcast(route.decoded.model_validate(envelope.data))
        async with self._database.unit_of_work(causation=envelope) as uow:
            if not await uow.claim_inbox(envelope.id, consumer=self._consumer, message_type=envelope.type):
                log.info("duplicate %s %s ignored", envelope.type, envelope.id)
                return False
            await route.handler(message, uow)
            await uow.commit()
        return True


class _Lane:
    """Messages of one correlation id in this worker: one is handled at a time, in arrival order."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Consumer:
    def __init__(
        self,
        *,
        service: str,
        channel: AbstractChannel,
        dispatcher: Dispatcher,
        retry_delays_ms: list[int],
        concurrency: int = 1,
    ) -> None:
        """``concurrency`` messages are handled at once; the others prefetched wait for a slot. Messages of
        one correlation id (one order) are handled one after another, in the order they arrived, so a
        saga's steps (picked, packed, shipped, delivered) never overtake each other in one worker."""
        self._service = service
        self._channel = channel
        self._dispatcher = dispatcher
        self._retry_delays_ms = retry_delays_ms
        self._queue_name = service_queue(service)
        self._metrics = ConsumerMetrics(self._queue_name, dispatcher.message_types)
        self._consumer_tag: str | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, _Lane] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        # Declared (not just looked up): the robust channel restores only queues it declared, and with them
        # their consumers, after the broker restarts.
        queue = await self._channel.declare_queue(
            service_queue(self._service), durable=True, arguments=QUORUM
        )
        self._queue = queue
        self._consumer_tag = await queue.consume(self._on_message)

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking messages, then wait (up to the grace period) for the ones in flight to finish."""
        if self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except Exception:
                log.warning("could not cancel the consumer cleanly", exc_info=True)
            self._consumer_tag = None
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace_seconds)
        except TimeoutError:
            log.warning(
                "%d message(s) still in flight at shutdown; they will be redelivered", self._in_flight
            )

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        # The lane is taken before the first await, so messages queue on it in delivery order.
        key = str((message.headers or {}).get("correlation_id") or message.message_id or "")
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.users += 1
        try:
            async with lane.lock, self._slots:
                await self._process(message)
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._lanes[key]
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        context = propagate.extract({k: v for k, v in headers.items() if isinstance(v, str)})
        with self._span(message, context) as span:
            started = time.perf_counter()
            outcome: Outcome
            try:
                envelope = Envelope.model_validate_json(message.body)
                span.set_attribute("shop.correlation_id", envelope.correlation_id)
                outcome = "ok" if await self._dispatcher.dispatch(envelope) else "duplicate"
            except Exception as error:
                handled_in = time.perf_counter() - started
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, str(error)))
                try:
                    outcome = await self._retry_or_park(message, headers, error)
                except Exception:
                    log.exception("could not re-publish failed message %s; requeueing it", message.message_id)
                    self._metrics.record(message.type, "retried", handled_in)
                    await message.nack(requeue=True)
                    return
                self._metrics.record(message.type, outcome, handled_in)
            else:
                self._metrics.record(message.type, outcome, time.perf_counter() - started)
        await message.ack()

    def _span(self, message: AbstractIncomingMessage, context: Context) -> AbstractContextManager[Span]:
        """The consumer span of ``message``, continuing the trace its headers carry; when this process records
        no spans, only that trace context made current (what the API's no-op tracer would do, without
        building the span's name and attributes), so the messages it causes still carry the trace on."""
        if not spans_recorded():
            return trace.use_span(trace.get_current_span(context))
        return tracer.start_as_current_span(
            f"{message.type or 'message'} process",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.destination.name": self._queue_name,
                "messaging.message.id": message.message_id or "",
                "messaging.operation.type": "process",
            },
        )

    async def _retry_or_park(
        self, message: AbstractIncomingMessage, headers: dict[str, Any], error: Exception
    ) -> Outcome:
        """Re-publish a failed message to its next delay queue, or park it; say which."""
        headers.pop("x-death", None)
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        headers[ATTEMPTS_HEADER] = attempts
        headers[ERROR_HEADER] = f"{type(error).__name__}: {error}"[:2000]
        if attempts == 1:  # later deliveries come back from a delay queue, with its routing instead
            headers[ORIGINAL_EXCHANGE_HEADER] = message.exchange or ""
            headers[ORIGINAL_ROUTING_KEY_HEADER] = message.routing_key or ""
        outcome: Outcome
        if attempts <= len(self._retry_delays_ms):
            outcome = "retried"
            target = retry_queue(self._service, self._retry_delays_ms[attempts - 1])
            log.warning("message %s failed (attempt %d), retrying: %s", message.message_id, attempts, error)
        else:
            outcome = "parked"
            target = parking_queue(self._service)
            headers[TRACEBACK_HEADER] = "".join(traceback.format_exception(error))[-4000:]
            headers[PARKED_AT_HEADER] = datetime.now(UTC).isoformat()
            log.error("message %s parked after %d attempts: %s", message.message_id, attempts, error)
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                body=message.body,
                content_type=message.content_type,
                message_id=message.message_id,
                type=message.type,
                headers=headers,
                timestamp=message.timestamp,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=target,
        )
        return outcome
