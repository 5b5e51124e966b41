"""RabbitMQ connection and topology: exchanges, a service's quorum queue, its delay queues and parking queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from shop_contracts import Message
from shop_contracts.routing import (
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    WAREHOUSE_EXCHANGE,
    parking_queue,
    retry_queue,
    service_queue,
)

EXCHANGES = (EVENTS_EXCHANGE, COMMANDS_EXCHANGE, WAREHOUSE_EXCHANGE)
QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str

    @classmethod
    def for_message(cls, message: type[Message]) -> Binding:
        return cls(message.EXCHANGE, message.TYPE)


async def connect(amqp_url: str) -> AbstractRobustConnection:
    """A connection that reconnects by itself and restores its channels, queues and consumers."""
    return await aio_pika.connect_robust(amqp_url, client_properties={"connection_name": "shop"})


async def declare_exchanges(channel: AbstractChannel) -> None:
    for name in EXCHANGES:
        await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_service_topology(
    channel: AbstractChannel, *, service: str, bindings: Iterable[Binding], retry_delays_ms: Iterable[int]
) -> None:
    """Declare (idempotently) what ``service`` consumes from, and bind it to what it subscribes to."""
    await declare_exchanges(channel)
    queue_name = service_queue(service)
    queue = await channel.declare_queue(queue_name, durable=True, arguments=QUORUM)
    for binding in bindings:
        await queue.bind(binding.exchange, routing_key=binding.routing_key)
    for delay in sorted(set(retry_delays_ms)):
        await channel.declare_queue(
            retry_queue(service, delay),
            durable=True,
            arguments={
                **QUORUM,
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue_name,
            },
        )
    await channel.declare_queue(parking_queue(service), durable=True, arguments=QUORUM)
