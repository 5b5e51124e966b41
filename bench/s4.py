"""S4 notification fan-out: one event to every consumer that wants it (N queues bound to one event type)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from bench.infra import amqp
from bench.stats import summarize

EXCHANGE = "bench.s4"
ROUTING_KEY = "orders.order.confirmed.v1"


async def fan_out(
    *, consumers: int, events: int, paced_rate: float | None, prefetch: int = 32
) -> dict[str, Any]:
    """Publish ``events`` (confirmed, in batches of 100) to ``consumers`` quorum queues; latency per delivery.

    With ``paced_rate`` the events are published one by one at that rate (latency not dominated by a backlog).
    """
    connection = await amqp()
    latencies: list[float] = []
    expected = consumers * events
    finished = asyncio.Event()
    body = b"{" + b'"x":1,' * 100 + b'"y":1}'
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        names = [f"bench.s4.consumer-{i}" for i in range(consumers)]
        for name in names:
            queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
            await queue.bind(exchange, routing_key=ROUTING_KEY)
            await queue.purge()

        acked = 0

        async def on_message(message: AbstractIncomingMessage) -> None:
            nonlocal acked
            sent = int((message.headers or {}).get("sent_ns", 0))  # type: ignore[arg-type]
            latencies.append((time.time_ns() - sent) / 1e9)
            await message.ack()
            # Done once every ack is sent, not every delivery seen: an ack still on its way when the channels close
            # reaches the broker on a closed channel, and the broker closes the connection (CHANNEL_ERROR).
            acked += 1
            if acked >= expected:
                finished.set()

        consumer_channels = []
        for name in names:
            consumer = await connection.channel()
            consumer_channels.append(consumer)
            await consumer.set_qos(prefetch_count=prefetch)
            await (await consumer.get_queue(name)).consume(on_message)

        def message() -> aio_pika.Message:
            return aio_pika.Message(
                body, headers={"sent_ns": time.time_ns()}, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
            )

        started = time.monotonic()
        if paced_rate is None:
            for offset in range(0, events, 100):
                await asyncio.gather(
                    *(
                        exchange.publish(message(), routing_key=ROUTING_KEY)
                        for _ in range(min(100, events - offset))
                    )
                )
        else:
            pending: list[asyncio.Task[Any]] = []
            for i in range(events):
                delay = started + i / paced_rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                pending.append(asyncio.create_task(exchange.publish(message(), routing_key=ROUTING_KEY)))
            await asyncio.gather(*pending)
        published_seconds = time.monotonic() - started
        try:
            await asyncio.wait_for(finished.wait(), timeout=120)
        except TimeoutError:
            pass
        seconds = time.monotonic() - started
        for consumer in consumer_channels:
            await consumer.close()
        for name in names:
            await channel.queue_delete(name)
        await channel.exchange_delete(EXCHANGE)
    finally:
        await connection.close()
    result: dict[str, Any] = {
        "consumers": consumers,
        "events": events,
        "paced_rate": paced_rate,
        "deliveries": len(latencies),
        "events_per_s": events / published_seconds,
        "deliveries_per_s": len(latencies) / seconds,
        "latency_s": summarize(latencies),
    }
    p99 = result["latency_s"]["p99"]
    print(
        f"  S4 {consumers} consumers, {events} events {'burst' if paced_rate is None else f'at {paced_rate:.0f}/s'}: "
        f"{result['deliveries_per_s']:.0f} deliveries/s, p99 {p99 * 1000 if p99 else 0:.0f} ms",
        flush=True,
    )
    return result
