"""Seeing and sending messages on the real broker in tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from shop_contracts import Envelope, Message
from shop_contracts.routing import COMMANDS_EXCHANGE, EVENTS_EXCHANGE, WAREHOUSE_EXCHANGE
from shop_runtime.broker import declare_exchanges

MessageT = TypeVar("MessageT", bound=Message)


class MessageProbe:
    """Binds a private queue to every exchange and keeps every envelope that passes."""

    def __init__(self, connection: AbstractRobustConnection) -> None:
        self._connection = connection
        self.envelopes: list[Envelope] = []
        self.raw: list[AbstractIncomingMessage] = []
        self._arrived = asyncio.Condition()

    async def start(self) -> MessageProbe:
        self._channel: AbstractChannel = await self._connection.channel()
        await declare_exchanges(self._channel)
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        for exchange in (EVENTS_EXCHANGE, COMMANDS_EXCHANGE, WAREHOUSE_EXCHANGE):
            await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def stop(self) -> None:
        await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with self._arrived:
            self.raw.append(message)
            self.envelopes.append(Envelope.model_validate_json(message.body))
            self._arrived.notify_all()

    def of_type(self, message_class: type[MessageT]) -> list[MessageT]:
        return [message_class.model_validate(e.data) for e in self.envelopes if e.type == message_class.TYPE]

    async def wait_for(
        self,
        message_class: type[MessageT],
        where: Callable[[MessageT], bool] = lambda message: True,
        *,
        timeout: float = 10.0,
    ) -> MessageT:
        """The first message of that class matching ``where``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                for message in self.of_type(message_class):
                    if where(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [e.type for e in self.envelopes]
                    raise TimeoutError(f"no {message_class.TYPE} within {timeout}s; seen: {seen}")
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout=remaining)
                except TimeoutError:
                    pass


async def send(
    connection: AbstractRobustConnection,
    message: Message,
    *,
    subject: str,
    message_id: uuid.UUID | None = None,
) -> Envelope:
    """Publish one message the way a relay would (tests only: production code publishes via the outbox)."""
    envelope = Envelope.wrap(message, subject=subject, correlation_id=subject)
    if message_id is not None:
        envelope = envelope.model_copy(update={"id": message_id})
    await publish_envelope(connection, message, envelope)
    return envelope


async def publish_envelope(
    connection: AbstractRobustConnection, message: Message, envelope: Envelope
) -> None:
    """Publish ``envelope`` (of ``message``) on the message's exchange and routing key, as a relay would."""
    channel = await connection.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    exchange = await channel.get_exchange(message.EXCHANGE)
    await exchange.publish(
        aio_pika.Message(
            envelope.model_dump_json().encode(),
            content_type="application/json",
            message_id=str(envelope.id),
            type=envelope.type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={"correlation_id": envelope.correlation_id},
        ),
        routing_key=message.routing_key(),
    )
    await channel.close()


async def eventually(check: Callable[[], object], *, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll ``check`` (sync or async) until it stops raising AssertionError, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)
