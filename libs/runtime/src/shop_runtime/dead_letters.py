"""Parked (dead-lettered) messages: count, list, inspect, replay and purge a service's parking queue.

One copy for everyone: functions take an open broker connection and return data, so ``shop-ops
dead-letters`` and each service's internal HTTP API (``dead_letters_router``, behind the gateway's
``/v1/admin/dead-letters``) format the same results their own way.

Reading a queue without losing or reordering it: AMQP has no "peek". ``list_parked`` and ``find_parked``
take each message with ``basic.get`` and manual acknowledgement and keep every one unacknowledged until
the walk ends, so the broker never hands the same message out twice and no consumer sees a half-read
queue; then they return every message with ``basic.nack(requeue=True)``, in the order they were taken,
which puts them back at the head in their original order. If the tool dies halfway, closing the channel
returns whatever it held the same way: a listing can delay a message, never drop it. The walk ends when
the queue has nothing more to give (or at ``WALK_LIMIT`` messages). Returns are asynchronous in the broker,
so a walk waits, briefly, until the queue counts the returned messages as ready again: a ``show`` or
``replay`` right after a ``list`` finds what the list saw.

Each look is a redelivery to the broker: on RabbitMQ 4.0 to 4.2, where quorum queues count returned
messages against a default delivery limit of 20, give parking queues a policy with ``delivery-limit: -1``
(unlimited) before listing them often; RabbitMQ 3.x (used here) and 4.3+ do not count ``nack`` returns.

A replay re-publishes the message, with publisher confirms and mandatory routing, to the exchange and
routing key it first arrived by, without the attempt and error headers (so the consumer's retry budget
starts again) and only then acknowledges it in the parking queue: if the publish is not confirmed or not
routable the message stays parked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelNotFoundEntity

from shop_contracts.routing import parking_queue

ATTEMPTS_HEADER = "x-shop-attempts"
ERROR_HEADER = "x-shop-error"
TRACEBACK_HEADER = "x-shop-traceback"
PARKED_AT_HEADER = "x-shop-parked-at"
ORIGINAL_EXCHANGE_HEADER = "x-shop-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-shop-original-routing-key"
REPLAYED_AT_HEADER = "x-shop-replayed-at"

WALK_LIMIT = 10_000
"""At most this many messages are held at once by one walk of a parking queue."""
RETURN_SETTLE_SECONDS = 3.0

HEADERS_REMOVED_ON_REPLAY = (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    TRACEBACK_HEADER,
    PARKED_AT_HEADER,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    "x-death",
)


class ParkingQueueMissing(Exception):
    """The service's parking queue is not declared (its worker never ran against this broker)."""


class ReplayFailed(Exception):
    """The broker did not confirm or could not route the re-published message; it stays parked."""


class PurgeNotConfirmed(Exception):
    """A purge confirmed with another count than the queue holds: the caller has not seen what it deletes."""

    def __init__(self, *, confirmed: int, parked: int) -> None:
        super().__init__(f"{parked} message(s) are parked, not the {confirmed} confirmed")
        self.confirmed = confirmed
        self.parked = parked


@dataclass(frozen=True)
class ParkedMessage:
    service: str
    message_id: str
    message_type: str
    attempts: int
    error: str
    traceback: str
    parked_at: str
    original_exchange: str
    original_routing_key: str
    headers: dict[str, Any]
    body: bytes
    content_type: str | None = None

    def summary(self) -> dict[str, Any]:
        """What a listing shows of the message (JSON-ready)."""
        return {
            "id": self.message_id,
            "type": self.message_type,
            "attempts": self.attempts,
            "error": self.error_first_line,
            "parked_at": self.parked_at or None,
        }

    def details(self) -> dict[str, Any]:
        """Everything about the message (JSON-ready): error, traceback, original route, headers and body."""
        try:
            body: Any = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            body = self.body.decode(errors="replace")
        return {
            **self.summary(),
            "service": self.service,
            "error": self.error,
            "traceback": self.traceback,
            "original_exchange": self.original_exchange,
            "original_routing_key": self.original_routing_key,
            "content_type": self.content_type,
            "headers": {key: _jsonable(value) for key, value in self.headers.items()},
            "body": body,
        }

    @property
    def error_first_line(self) -> str:
        return self.error.splitlines()[0] if self.error else ""

    def body_text(self) -> str:
        """The body as JSON, pretty-printed when it parses; as text (or its repr) when it does not."""
        try:
            return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False)
        except (ValueError, UnicodeDecodeError):
            try:
                return self.body.decode()
            except UnicodeDecodeError:
                return repr(self.body)


def _jsonable(value: Any) -> Any:
    """An AMQP header value as JSON can carry it (bytes as text, times as ISO 8601, tables and arrays inside)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def parked_message(
    service: str,
    *,
    message_id: str | None,
    message_type: str | None,
    headers: dict[str, Any],
    body: bytes,
    content_type: str | None = None,
) -> ParkedMessage:
    """Read a parked message's properties and the headers the consumer parked it with."""
    if not message_id:  # a message published without the property still has the envelope's id
        try:
            message_id = str(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            message_id = ""
    try:
        attempts = int(_text(headers.get(ATTEMPTS_HEADER)) or 0)
    except ValueError:
        attempts = 0
    return ParkedMessage(
        service=service,
        message_id=message_id,
        message_type=message_type or "",
        attempts=attempts,
        error=_text(headers.get(ERROR_HEADER)),
        traceback=_text(headers.get(TRACEBACK_HEADER)),
        parked_at=_text(headers.get(PARKED_AT_HEADER)),
        original_exchange=_text(headers.get(ORIGINAL_EXCHANGE_HEADER)),
        original_routing_key=_text(headers.get(ORIGINAL_ROUTING_KEY_HEADER)),
        headers=dict(headers),
        body=body,
        content_type=content_type,
    )


def _from_delivery(service: str, message: AbstractIncomingMessage) -> ParkedMessage:
    return parked_message(
        service,
        message_id=message.message_id,
        message_type=message.type,
        headers=dict(message.headers or {}),
        body=message.body,
        content_type=message.content_type,
    )


def replay_headers(headers: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """The headers a replayed message carries: the originals without attempts and errors, plus when."""
    kept = {key: value for key, value in headers.items() if key not in HEADERS_REMOVED_ON_REPLAY}
    kept[REPLAYED_AT_HEADER] = now.isoformat()
    return kept


async def _parking_queue(channel: AbstractChannel, service: str) -> AbstractQueue:
    try:
        return await channel.declare_queue(parking_queue(service), passive=True)
    except ChannelNotFoundEntity:
        raise ParkingQueueMissing(f"{parking_queue(service)} does not exist") from None


async def parked_count(connection: AbstractConnection, service: str) -> int:
    """How many messages wait in the service's parking queue (passive declare: nothing is read)."""
    channel = await connection.channel()
    try:
        queue = await _parking_queue(channel, service)
        declared = queue.declaration_result
        return int(declared.message_count or 0)
    finally:
        if not channel.is_closed:
            await channel.close()


@asynccontextmanager
async def _held(
    connection: AbstractConnection, service: str, *, limit: int = WALK_LIMIT
) -> AsyncIterator[_Walk]:
    channel = await connection.channel()
    returned = 0
    try:
        queue = await _parking_queue(channel, service)
        walk = _Walk(service, queue, min(limit, WALK_LIMIT))
        try:
            yield walk
        finally:
            returned = await walk.return_all()
    finally:
        if not channel.is_closed:
            await channel.close()
    if returned:
        await _settle(connection, service, ready_at_least=returned)


async def _settle(connection: AbstractConnection, service: str, *, ready_at_least: int) -> None:
    """Wait (up to RETURN_SETTLE_SECONDS) until the queue counts the returned messages as ready again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETURN_SETTLE_SECONDS
    while loop.time() < deadline:
        if await parked_count(connection, service) >= ready_at_least:
            return
        await asyncio.sleep(0.02)


class _Walk:
    """Takes a parking queue's messages one by one and holds them until they are acked or returned."""

    def __init__(self, service: str, queue: AbstractQueue, limit: int) -> None:
        self._service = service
        self._queue = queue
        self._limit = limit
        self._held: list[AbstractIncomingMessage] = []

    async def messages(self) -> AsyncIterator[tuple[ParkedMessage, AbstractIncomingMessage]]:
        for _ in range(self._limit):
            delivery = await self._queue.get(no_ack=False, fail=False, timeout=10)
            if delivery is None:
                return
            self._held.append(delivery)
            yield _from_delivery(self._service, delivery), delivery

    async def acknowledge(self, delivery: AbstractIncomingMessage) -> None:
        await delivery.ack()
        self._held.remove(delivery)

    async def return_all(self) -> int:
        """Give back every message still held, in the order taken; returns how many."""
        returned = len(self._held)
        for delivery in self._held:
            await delivery.nack(requeue=True)
        self._held.clear()
        return returned


async def list_parked(connection: AbstractConnection, service: str) -> list[ParkedMessage]:
    """Every message in the service's parking queue, oldest first; the queue is left as it was."""
    async with _held(connection, service) as walk:
        return [parked async for parked, _ in walk.messages()]


async def find_parked(connection: AbstractConnection, service: str, message_id: str) -> ParkedMessage | None:
    async with _held(connection, service) as walk:
        async for parked, _ in walk.messages():
            if parked.message_id == message_id:
                return parked
    return None


async def _republish(channel: AbstractChannel, parked: ParkedMessage, *, now: datetime) -> None:
    if parked.original_exchange:
        exchange = await channel.get_exchange(parked.original_exchange, ensure=False)
    else:
        exchange = channel.default_exchange
    routing_key = parked.original_routing_key
    if not routing_key and not parked.original_exchange:
        raise ReplayFailed(f"message {parked.message_id} has no original exchange or routing key")
    try:
        # On a confirming channel publish returns only once the broker acknowledged: a nack raises
        # DeliveryError, and an unroutable message (mandatory, on_return_raises) raises PublishError.
        await exchange.publish(
            aio_pika.Message(
                body=parked.body,
                content_type=parked.content_type,
                message_id=parked.message_id or None,
                type=parked.message_type or None,
                headers=replay_headers(parked.headers, now=now),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
            mandatory=True,
        )
    except Exception as error:
        raise ReplayFailed(
            f"message {parked.message_id} not replayed: {type(error).__name__}: {error}"
        ) from error


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: list[str]
    failed: dict[str, str]


async def replay(
    connection: AbstractConnection,
    service: str,
    *,
    message_id: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReplayOutcome:
    """Replay one parked message (``message_id``) or, when it is None, every one parked when it starts."""
    # Replaying all stops at the count parked when it starts: a replayed message that fails again and is
    # parked anew must wait for the operator, not be replayed in a loop.
    limit = WALK_LIMIT if message_id is not None else await parked_count(connection, service)
    publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
    replayed: list[str] = []
    failed: dict[str, str] = {}
    try:
        async with _held(connection, service, limit=limit) as walk:
            async for parked, delivery in walk.messages():
                if message_id is not None and parked.message_id != message_id:
                    continue
                try:
                    await _republish(publisher, parked, now=now())
                except ReplayFailed as error:
                    failed[parked.message_id] = str(error)
                    if publisher.is_closed:
                        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
                else:
                    await walk.acknowledge(delivery)
                    replayed.append(parked.message_id)
                if message_id is not None:
                    break
    finally:
        if not publisher.is_closed:
            await publisher.close()
    return ReplayOutcome(replayed, failed)


async def purge(connection: AbstractConnection, service: str, *, confirmed: int | None = None) -> int:
    """Delete the messages in the service's parking queue; returns how many.

    With ``confirmed`` (the count the caller saw) the queue must hold exactly that many, or nothing is deleted
    (``PurgeNotConfirmed``); then those messages, oldest first, are deleted, and one parked meanwhile stays.
    """
    if confirmed is not None:
        parked = await parked_count(connection, service)
        if parked != confirmed:
            raise PurgeNotConfirmed(confirmed=confirmed, parked=parked)
        if confirmed == 0:
            return 0
        deleted = 0
        async with _held(connection, service, limit=confirmed) as walk:
            async for _, delivery in walk.messages():
                await walk.acknowledge(delivery)
                deleted += 1
        return deleted
    channel = await connection.channel()
    try:
        queue = await _parking_queue(channel, service)
        result = await queue.purge()
        return int(result.message_count or 0)
    finally:
        if not channel.is_closed:
            await channel.close()
