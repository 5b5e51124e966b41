"""Consuming a service's queue: decode, run the subscribed handler once (inbox), ack after commit.

A failing message is re-published to a delay queue with its attempt count and error, waits there and
dead-letters back; once the retry budget is spent it is parked with its error. Either way the original is
acked only after the copy is confirmed, so nothing is lost and nothing blocks the queue.

When more messages are ready than there are free slots (a backlog), a slot takes several of them, each the
head of a different order's lane, and handles them in one unit of work: one BEGIN, one inbox claim, each
handler with its own message as the causation and its own trace, one outbox write, one COMMIT, then the acks.
If any of them fails, or the commit does, the whole batch is rolled back and each message handled alone, as
if it had come alone, so only the failing one is retried or parked.

A subscription can be ``Probed``: a cheap look before the inbox claim says whether its message can change anything;
one that cannot is acked with no inbox row and, alone, no transaction (one statement in autocommit).

Acks go straight to the channel, without waiting for the socket to drain (an ack has no answer to wait for), and
a batch's acks go as one ``multiple`` ack when its delivery tags are the lowest this worker has not settled.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncSession

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

MessageProbe = Callable[[Any, AsyncSession], Awaitable[bool]]
"""A look at what one contract's message could change, before its inbox claim: reads only; see ``Probed``."""


@dataclass(frozen=True, slots=True)
class Probed:
    """A subscription whose message is probed before it is claimed: ``probe(message, session)`` answers whether
    handling it could change anything. False: the message is acked with no inbox row, and, handled alone, with
    no transaction (the probe's statements run in autocommit: a probe of one statement costs one round trip, and
    writes nothing, no WAL, nothing for retention to prune). True: it is claimed and handled as any other
    message, in a transaction of its own that begins after the probe (``UnitOfWork.probe``).

    A probe may answer False only when both hold, which its subscription must argue:

    - the handler would change nothing for this message (no write, no message, no job), so skipping it loses
      nothing;
    - the answer is final: once False for a message, False for it (and any copy of it) ever after. "Not yet" is
      True: a message that arrives before what would make it matter must be claimed and handled as today.

    Then every message still takes effect exactly once. Effects come only from a handling that claimed the
    message in the inbox in the same transaction, so no message takes effect twice, whatever is skipped; and a
    message skipped is one no handling would ever have let take effect. Redelivered (its ack lost with a
    channel or a process) or duplicated (a sender's copy), a message skipped before is probed again and found
    a no-op again; nothing of its first delivery was kept, and nothing needs to be. Arriving out of order does
    not matter, since no later message can turn the answer to True. Once a probe answers True nothing changes
    from today: the claim tells a copy from the first delivery, and the handler reads what it decides on again
    in its own transaction.

    In a batch (several ready messages in one shared unit of work) each probe runs in the batch's transaction,
    in its message's trace, before the batch's one claim; a message probed False is left out of the claim,
    nothing runs for it, and it is acked with the others once the batch committed. A probe that raises fails
    like a handler: the batch is rolled back and each message handled alone, where that probe raises again and
    its message is retried and then parked; handled alone, a raising probe is just that."""

    handler: MessageHandler
    probe: MessageProbe


Subscription = MessageHandler | Probed
Subscriptions = Mapping[type[Message], Subscription]


def bindings_for(subscriptions: Subscriptions) -> list[Binding]:
    """A binding per subscribed message and per earlier version it replaces, which may still be in flight."""
    return [
        Binding.for_message(version)
        for message in subscriptions
        for version in (message, *message.replaced_versions())
    ]


@dataclass(frozen=True, slots=True)
class _Route:
    """How an envelope of one type is handled: decoded as ``decoded``, upcast to ``handled``, probed (when its
    subscription is ``Probed``), then handled."""

    decoded: type[Message]
    handled: type[Message]
    handler: MessageHandler
    probe: MessageProbe | None


@dataclass(frozen=True, slots=True)
class Routed:
    """An envelope decoded (and upcast) for its handler: what ``Dispatcher.dispatch_together`` takes."""

    envelope: Envelope
    message: Message
    handler: MessageHandler
    probe: MessageProbe | None = None


class Dispatcher:
    """Runs the subscribed handler for one envelope in one unit of work, at most once per message id.

    An envelope of an earlier version of a subscribed message is upcast to it first (``Message.upcast``), so
    a handler sees only the version it subscribed to.
    """

    def __init__(self, database: Database, *, consumer: str, subscriptions: Subscriptions) -> None:
        self._database = database
        self._consumer = consumer
        self._routes: dict[str, _Route] = {}
        for message, subscription in subscriptions.items():
            handler, probe = (
                (subscription.handler, subscription.probe)
                if isinstance(subscription, Probed)
                else (subscription, None)
            )
            for version in (message, *message.replaced_versions()):
                if version.TYPE in self._routes:
                    raise ValueError(f"{consumer} subscribes to {version.TYPE} twice")
                self._routes[version.TYPE] = _Route(version, message, handler, probe)

    @property
    def message_types(self) -> list[str]:
        return list(self._routes)

    def route(self, envelope: Envelope) -> Routed:
        """Decode ``envelope`` for its handler; raise when none is subscribed or its data does not validate."""
        try:
            route = self._routes[envelope.type]
        except KeyError:
            raise UnknownMessageType(f"{self._consumer} has no handler for {envelope.type!r}") from None
        return Routed(
            envelope,
            route.handled.upcast(route.decoded.model_validate(envelope.data)),
            route.handler,
            route.probe,
        )

    async def dispatch(self, envelope: Envelope) -> bool:
        """Handle ``envelope``; return False when it was a duplicate and changed nothing (a message its probe
        found a no-op is handled: True, with nothing claimed and nothing written)."""
        routed = self.route(envelope)
        async with self._database.unit_of_work(causation=envelope) as uow:
            if routed.probe is not None and not await uow.probe(_looking_at(routed)):
                log.debug("%s %s changes nothing: acked unclaimed", envelope.type, envelope.id)
                return True
            if not await uow.claim_inbox(envelope.id, consumer=self._consumer, message_type=envelope.type):
                log.info("duplicate %s %s ignored", envelope.type, envelope.id)
                return False
            await routed.handler(routed.message, uow)
            await uow.commit()
        return True

    async def dispatch_together(
        self,
        batch: Sequence[Routed],
        *,
        around: Callable[[int], AbstractContextManager[object]],
    ) -> list[bool]:
        """Handle several messages in one unit of work, each at most once per message id; say which were new.

        First each probed message's probe runs inside ``around(its index)`` (its trace context); one statement
        then claims the others in the inbox; each new one's handler runs inside ``around(its index)`` with its
        own envelope as the causation; one commit ends them. A message probed a no-op is neither claimed nor
        handled, and counts as new. When a probe, a handler or the commit raises, nothing of the batch is left:
        the caller handles each message alone.
        """
        async with self._database.unit_of_work(shared=True) as uow:
            no_op: set[int] = set()
            for index, routed in enumerate(batch):
                if routed.probe is not None:
                    with around(index):
                        if not await uow.probe(_looking_at(routed)):
                            no_op.add(index)
            claimed = [routed.envelope for index, routed in enumerate(batch) if index not in no_op]
            unclaimed: set[uuid.UUID] = set()
            if claimed:
                unclaimed = await uow.claim_inbox_many(claimed, consumer=self._consumer)
            new: list[bool] = []
            for index, routed in enumerate(batch):
                envelope = routed.envelope
                if index in no_op:
                    log.debug("%s %s changes nothing: acked unclaimed", envelope.type, envelope.id)
                    new.append(True)
                    continue
                if envelope.id not in unclaimed:  # handled before, or earlier in this batch
                    log.info("duplicate %s %s ignored", envelope.type, envelope.id)
                    new.append(False)
                    continue
                unclaimed.discard(envelope.id)
                uow.causation = envelope
                with around(index):
                    await routed.handler(routed.message, uow)
                new.append(True)
            await uow.commit_shared()
        return new


def _looking_at(routed: Routed) -> Callable[[AsyncSession], Awaitable[bool]]:
    """``routed``'s probe, for its message, as ``UnitOfWork.probe`` runs it."""
    probe, message = routed.probe, routed.message
    assert probe is not None

    def look(session: AsyncSession) -> Awaitable[bool]:
        return probe(message, session)

    return look


class _Acks:
    """Acks what was committed, in as few frames as AMQP allows without acking anything else.

    An ack with ``multiple`` settles every delivery of its channel up to its tag, so it is sent only for tags
    that are all this consumer's lowest unsettled ones on that channel (a batch whose messages came one after
    another, when no earlier delivery is still being handled), and only up to a tag below which every delivery
    has reached the consumer; the others are acked one by one. Tags count per channel: a channel restored after a
    reconnect has tags of its own, and acks on a closed one fail as before (the broker delivers them again)."""

    __slots__ = ("_channels",)

    def __init__(self) -> None:
        self._channels: dict[Any, _Tags] = {}

    def delivered(self, message: AbstractIncomingMessage) -> None:
        channel = _open_channel(message)
        if channel is None or message.delivery_tag is None:
            return
        tags = self._channels.get(channel)
        if tags is None:
            tags = self._channels[channel] = _Tags()
        tags.delivered(message.delivery_tag)

    def forget(self, message: AbstractIncomingMessage) -> None:
        """``message`` was settled some other way (nacked)."""
        self._settled(_open_channel(message), [message.delivery_tag or 0])

    async def ack(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Ack ``messages`` (committed): one frame for those among the lowest unsettled tags of their channel, one
        each for the rest. Raise (after acking what it can) when a channel closed: the broker delivers them again."""
        by_channel: dict[Any, list[int]] = {}
        closed = 0
        for message in messages:
            channel = _open_channel(message)
            if channel is None:
                closed += 1
            else:
                by_channel.setdefault(channel, []).append(message.delivery_tag or 0)
        for channel, tags in by_channel.items():
            covered: list[int] = []
            known = self._channels.get(channel)
            if len(tags) > 1 and known is not None:
                tags.sort()
                others = known.unsettled.difference(tags)
                lowest_other = min(others) if others else None
                covered = [
                    tag
                    for tag in tags
                    if (lowest_other is None or tag < lowest_other) and tag <= known.contiguous
                ]
            try:
                if len(covered) > 1:
                    await channel.basic_ack(covered[-1], multiple=True, wait=False)
                    alone = tags[len(covered) :]
                else:
                    alone = tags
                for tag in alone:
                    await channel.basic_ack(tag, wait=False)
            finally:
                self._settled(channel, tags)
        if closed:
            self._settled(None, [])
            raise ChannelInvalidStateError(
                f"{closed} message(s) came on a channel that closed before their ack"
            )

    def _settled(self, channel: Any, tags: Sequence[int]) -> None:
        if channel is not None and (known := self._channels.get(channel)) is not None:
            known.unsettled.difference_update(tags)
        for closed in [channel for channel in self._channels if channel.is_closed]:
            del self._channels[closed]


class _Tags:
    """The delivery tags of one channel: which are not settled yet, and up to which one every delivery arrived."""

    __slots__ = ("ahead", "contiguous", "unsettled")

    def __init__(self) -> None:
        self.unsettled: set[int] = set()
        self.contiguous = 0
        """Every tag from 1 to this one reached the consumer (a ``multiple`` ack never covers one that did not)."""
        self.ahead: set[int] = set()
        """Tags that arrived before a lower one."""

    def delivered(self, tag: int) -> None:
        self.unsettled.add(tag)
        if tag != self.contiguous + 1:
            self.ahead.add(tag)
            return
        self.contiguous = tag
        while self.contiguous + 1 in self.ahead:
            self.contiguous += 1
            self.ahead.discard(self.contiguous)


def _open_channel(message: AbstractIncomingMessage) -> Any:
    """The (aiormq) channel ``message`` came on, or None when it closed since."""
    try:
        return message.channel
    except ChannelInvalidStateError:
        return None


class _Lane:
    """Messages of one correlation id in this worker: one is handled at a time, in arrival order."""

    __slots__ = ("busy", "waiting")

    def __init__(self) -> None:
        self.waiting: deque[AbstractIncomingMessage] = deque()
        self.busy = False


class Consumer:
    def __init__(
        self,
        *,
        service: str,
        channel: AbstractChannel,
        dispatcher: Dispatcher,
        retry_delays_ms: list[int],
        concurrency: int = 1,
        batch_size: int = 1,
    ) -> None:
        """``concurrency`` units of work run at once; the messages prefetched wait for a slot. Messages of
        one correlation id (one order) are handled one after another, in the order they arrived, so a
        saga's steps (picked, packed, shipped, delivered) never overtake each other in one worker.

        A slot takes up to ``batch_size`` ready messages (the heads of lanes not being handled) into one unit
        of work when more are ready than slots are free; it never waits for a batch to fill. With 1, every
        message has a unit of work of its own."""
        self._service = service
        self._channel = channel
        self._dispatcher = dispatcher
        self._retry_delays_ms = retry_delays_ms
        self._queue_name = service_queue(service)
        self._metrics = ConsumerMetrics(self._queue_name, dispatcher.message_types)
        self._consumer_tag: str | None = None
        self._free_slots = concurrency
        self._batch_size = batch_size
        self._lanes: dict[str, _Lane] = {}
        self._ready: deque[str] = deque()
        """Keys of the lanes whose first message may start: not busy, something waiting; each at most once."""
        self._running: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._acks = _Acks()

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
        self._acks.delivered(message)
        # Nothing here awaits, so messages join their lane in delivery order.
        key = str((message.headers or {}).get("correlation_id") or message.message_id or "")
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.waiting.append(message)
        if not lane.busy and len(lane.waiting) == 1:
            self._ready.append(key)
        self._start_ready()

    def _start_ready(self) -> None:
        """Give each free slot its share of the ready lanes' first messages (up to ``batch_size``): one
        message a slot while slots are free for all of them, more only when they outnumber the slots."""
        while self._free_slots and self._ready:
            size = min(self._batch_size, -(-len(self._ready) // self._free_slots))
            batch: list[tuple[str, AbstractIncomingMessage]] = []
            for _ in range(size):
                key = self._ready.popleft()
                lane = self._lanes[key]
                lane.busy = True
                batch.append((key, lane.waiting.popleft()))
            self._free_slots -= 1
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[str, AbstractIncomingMessage]]) -> None:
        try:
            if len(batch) == 1:
                await self._process(batch[0][1])
            else:
                await self._process_together([message for _, message in batch])
        except Exception:
            # What gets here is an ack or nack on a closed channel: the broker delivers the messages again.
            log.exception("could not settle %d message(s); the broker will deliver them again", len(batch))
        finally:
            self._free_slots += 1
            for key, _ in batch:
                lane = self._lanes[key]
                lane.busy = False
                if lane.waiting:
                    self._ready.append(key)
                else:
                    del self._lanes[key]
            self._in_flight -= len(batch)
            if self._in_flight == 0:
                self._idle.set()
            self._start_ready()

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
                self._metrics.unit_of_work(1)
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
                    self._acks.forget(message)
                    return
                self._metrics.record(message.type, outcome, handled_in)
            else:
                self._metrics.record(message.type, outcome, time.perf_counter() - started)
        await self._acks.ack([message])

    async def _process_together(self, messages: list[AbstractIncomingMessage]) -> None:
        """Handle several messages (of different lanes) in one unit of work, then ack them; when that fails,
        handle each alone. A message that cannot be decoded or has no handler is handled alone at once."""
        started = time.perf_counter()
        together: list[tuple[AbstractIncomingMessage, Routed, Span]] = []
        alone: list[AbstractIncomingMessage] = []
        for message in messages:
            try:
                routed = self._dispatcher.route(Envelope.model_validate_json(message.body))
            except Exception:
                alone.append(message)  # it fails again there, and is retried or parked with its error
                continue
            headers = message.headers or {}
            context = propagate.extract({k: v for k, v in headers.items() if isinstance(v, str)})
            span = self._start_span(message, context)
            span.set_attribute("shop.correlation_id", routed.envelope.correlation_id)
            together.append((message, routed, span))
        if len(together) == 1:
            together[0][2].end()
            alone.insert(0, together[0][0])
        elif together:
            handled_in = [0.0] * len(together)

            @contextmanager
            def around(index: int) -> Iterator[None]:
                began = time.perf_counter()
                try:
                    with trace.use_span(together[index][2], end_on_exit=False):
                        yield
                finally:
                    handled_in[index] += time.perf_counter() - began

            try:
                # The statements the batch shares (claim, outbox write, commit) go in its first message's trace.
                with trace.use_span(together[0][2], end_on_exit=False):
                    new = await self._dispatcher.dispatch_together(
                        [routed for _, routed, _ in together], around=around
                    )
            except Exception as error:
                log.warning(
                    "a batch of %d messages was rolled back (%s: %s); handling each alone",
                    len(together),
                    type(error).__name__,
                    error,
                )
                self._metrics.batch_split()
                for _, _, span in together:
                    span.add_event("rolled back with its batch; handled again alone")
                    span.end()
                alone[:0] = [message for message, _, _ in together]
            else:
                self._metrics.unit_of_work(len(together))
                # Each message's duration: its handler, and an equal share of what the batch did together.
                shared = (time.perf_counter() - started - sum(handled_in)) / len(together)
                for (message, _, span), was_new, seconds in zip(together, new, handled_in, strict=True):
                    span.end()
                    self._metrics.record(message.type, "ok" if was_new else "duplicate", seconds + shared)
                await self._acks.ack([message for message, _, _ in together])
        for message in alone:
            await self._process(message)

    def _start_span(self, message: AbstractIncomingMessage, context: Context) -> Span:
        """``_span``'s span, started but not made current: a batch switches between its messages' spans."""
        if not spans_recorded():
            return trace.get_current_span(context)
        return tracer.start_span(
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

    def _span(self, message: AbstractIncomingMessage, context: Context) -> AbstractContextManager[Span]:
        """The consumer span of ``message``, continuing the trace its headers carry, made current and ended on exit;
        when this process records no spans, only that trace context made current (what the API's no-op tracer would
        do, without building the span's name and attributes), so the messages it causes still carry the trace on."""
        return trace.use_span(self._start_span(message, context), end_on_exit=True)

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
