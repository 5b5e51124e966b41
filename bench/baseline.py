"""The bare baselines, measured in the same run as S1: the order's hops with asyncpg and aio-pika only,
raw confirmed publish/consume, and single-row updates."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage

from bench.infra import amqp, recreate_database

QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}
PREFETCH = 32
POOL = 5
SKUS = 20
BODY = b'{"type":"bench.bare.v1","data":{"order_id":"%s","lines":[{"sku":"BENCH-00","quantity":1}],"total":39000}}'

SCHEMA = """
CREATE TABLE inbox (message_id uuid PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE outbox (id bigserial PRIMARY KEY, message_id uuid NOT NULL UNIQUE, routing_key text NOT NULL,
                     body bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
"""
EFFECTS = {
    "orders": "CREATE TABLE orders (id uuid PRIMARY KEY, status text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());",
    "catalog": "CREATE TABLE stock (sku text PRIMARY KEY, on_hand int NOT NULL, reserved int NOT NULL DEFAULT 0,"
    " CHECK (reserved <= on_hand));",
    "payments": "CREATE TABLE payments (id uuid PRIMARY KEY, order_id uuid NOT NULL, amount int NOT NULL);",
}


class BarePipeline:
    """gateway→orders→catalog→orders→payments→orders: per hop one transaction (inbox, effect, outbox), one confirmed publish."""

    def __init__(self) -> None:
        self.pools: dict[str, asyncpg.Pool] = {}
        self.done: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self._all_done = asyncio.Event()
        self._slots = asyncio.Semaphore(1)
        self._consumer_channels: list[AbstractChannel] = []
        self._expected = 0

    async def setup(self, channel: AbstractChannel) -> None:
        for service, effect in EFFECTS.items():
            url = await recreate_database(f"bare_{service}")
            setup = await asyncpg.connect(url)
            await setup.execute(SCHEMA + effect)
            if service == "catalog":
                await setup.executemany(
                    "INSERT INTO stock (sku, on_hand) VALUES ($1, 100000000)",
                    [(f"BENCH-{i:02d}",) for i in range(SKUS)],
                )
            await setup.close()
            self.pools[service] = await asyncpg.create_pool(url, min_size=POOL, max_size=POOL)
        self.exchange = await channel.declare_exchange(
            "bare.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        for service in EFFECTS:
            queue = await channel.declare_queue(f"bare.{service}", durable=True, arguments=QUORUM)
            await queue.bind(self.exchange, routing_key=f"to.{service}.*")
            await queue.purge()
        done = await channel.declare_queue("bare.done", durable=True, arguments=QUORUM)
        await done.bind(self.exchange, routing_key="to.done.*")
        await done.purge()

    async def consume(self, connection: Any) -> None:
        for service in EFFECTS:
            channel = await connection.channel()
            self._consumer_channels.append(channel)
            await channel.set_qos(prefetch_count=PREFETCH)
            exchange = await channel.get_exchange("bare.events")
            queue = await channel.get_queue(f"bare.{service}")
            await queue.consume(self._handler(service, exchange))
        channel = await connection.channel()
        self._consumer_channels.append(channel)
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.get_queue("bare.done")
        await queue.consume(self._on_done)

    def _handler(self, service: str, exchange: AbstractExchange) -> Any:
        pool = self.pools[service]

        async def handle(message: AbstractIncomingMessage) -> None:
            step = (message.routing_key or "").rsplit(".", 1)[-1]
            order_id = uuid.UUID(message.correlation_id)
            outgoing_id = uuid.uuid4()
            next_key = {
                "place": "to.catalog.reserve",
                "reserve": "to.orders.reserved",
                "reserved": "to.payments.capture",
                "capture": "to.orders.succeeded",
                "succeeded": "to.done.confirmed",
            }[step]
            body = BODY % str(order_id).encode()
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute(
                    "INSERT INTO inbox (message_id) VALUES ($1)", uuid.UUID(message.message_id)
                )
                if step == "place":
                    await connection.execute(
                        "INSERT INTO orders (id, status) VALUES ($1, 'pending')", order_id
                    )
                elif step == "reserve":
                    await connection.execute(
                        "UPDATE stock SET reserved = reserved + 1 WHERE sku = $1",
                        f"BENCH-{order_id.int % SKUS:02d}",
                    )
                elif step == "reserved":
                    await connection.execute(
                        "UPDATE orders SET status = 'reserved', updated_at = now() WHERE id = $1", order_id
                    )
                elif step == "capture":
                    await connection.execute(
                        "INSERT INTO payments (id, order_id, amount) VALUES ($1, $2, 39000)",
                        uuid.uuid4(),
                        order_id,
                    )
                else:
                    await connection.execute(
                        "UPDATE orders SET status = 'confirmed', updated_at = now() WHERE id = $1", order_id
                    )
                await connection.execute(
                    "INSERT INTO outbox (message_id, routing_key, body) VALUES ($1, $2, $3)",
                    outgoing_id,
                    next_key,
                    body,
                )
            await exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=str(outgoing_id),
                    correlation_id=str(order_id),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=next_key,
            )
            await message.ack()

        return handle

    async def _on_done(self, message: AbstractIncomingMessage) -> None:
        self.done[message.correlation_id or ""] = time.monotonic()
        self._slots.release()
        await message.ack()
        if len(self.done) >= self._expected:
            self._all_done.set()

    async def run(
        self, channel: AbstractChannel, *, orders: int, in_flight: int, timeout: float
    ) -> dict[str, Any]:
        """Push ``orders`` orders through as fast as the pipeline takes them (at most ``in_flight`` outstanding)."""
        self._expected = orders
        self._slots = asyncio.Semaphore(in_flight)
        exchange = await channel.get_exchange("bare.events")
        started = time.monotonic()
        deadline = started + timeout
        sent = 0
        while sent < orders and time.monotonic() < deadline:
            await self._slots.acquire()
            order_id = str(uuid.uuid4())
            self.started[order_id] = time.monotonic()
            await exchange.publish(
                aio_pika.Message(
                    BODY % order_id.encode(),
                    message_id=str(uuid.uuid4()),
                    correlation_id=order_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="to.orders.place",
            )
            sent += 1
        try:
            await asyncio.wait_for(self._all_done.wait(), timeout=max(deadline - time.monotonic(), 1))
        except TimeoutError:
            pass
        elapsed = (max(self.done.values()) if self.done else time.monotonic()) - started
        latencies = sorted(self.done[k] - self.started[k] for k in self.done if k in self.started)
        return {
            "orders": orders,
            "completed": len(self.done),
            "in_flight": in_flight,
            "seconds": elapsed,
            "orders_per_s": len(self.done) / elapsed if elapsed > 0 else None,
            "p50_s": latencies[len(latencies) // 2] if latencies else None,
        }

    async def close(self, channel: AbstractChannel) -> None:
        for pool in self.pools.values():
            await pool.close()
        for consumer in self._consumer_channels:
            await consumer.close()
        for name in [*(f"bare.{s}" for s in EFFECTS), "bare.done"]:
            await channel.queue_delete(name)
        await channel.exchange_delete("bare.events")


async def bare_pipeline(*, orders: int, in_flight: int = 200, timeout: float = 120) -> dict[str, Any]:
    connection = await amqp()
    try:
        channel = await connection.channel()
        pipeline = BarePipeline()
        await pipeline.setup(channel)
        await pipeline.consume(connection)
        result = await pipeline.run(channel, orders=orders, in_flight=in_flight, timeout=timeout)
        await pipeline.close(channel)
    finally:
        await connection.close()
    print(
        f"  bare pipeline: {result['completed']}/{orders} orders in {result['seconds']:.1f}s = "
        f"{result['orders_per_s'] or 0:.1f} orders/s",
        flush=True,
    )
    return result


async def raw_publish_consume(*, messages: int, batch: int = 200, size: int = 700) -> dict[str, Any]:
    """Confirmed publishes to a quorum queue (``batch`` confirms awaited together), then consume and ack them."""
    connection = await amqp()
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("bench.raw", durable=True, arguments=QUORUM)
        await queue.purge()
        body = b"x" * size
        started = time.monotonic()
        for offset in range(0, messages, batch):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key="bench.raw",
                    )
                    for _ in range(min(batch, messages - offset))
                )
            )
        publish_seconds = time.monotonic() - started
        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=PREFETCH)
        consumed = 0
        finished = asyncio.Event()

        async def on_message(message: AbstractIncomingMessage) -> None:
            nonlocal consumed
            await message.ack()
            consumed += 1
            if consumed >= messages:
                finished.set()

        started = time.monotonic()
        source = await consumer.get_queue("bench.raw")
        await source.consume(on_message)
        try:
            await asyncio.wait_for(finished.wait(), timeout=120)
        except TimeoutError:
            pass
        consume_seconds = time.monotonic() - started
        await consumer.close()
        await channel.queue_delete("bench.raw")
    finally:
        await connection.close()
    result = {
        "messages": messages,
        "batch": batch,
        "body_bytes": size,
        "publish_per_s": messages / publish_seconds,
        "consume_per_s": consumed / consume_seconds,
        "consume_prefetch": PREFETCH,
    }
    print(
        f"  raw confirmed publish {result['publish_per_s']:.0f}/s, consume+ack {result['consume_per_s']:.0f}/s",
        flush=True,
    )
    return result


async def single_row_updates(*, seconds: float, concurrency: tuple[int, ...] = (1, 8)) -> dict[str, Any]:
    """Autocommit ``UPDATE ... WHERE id = $1`` on one row per connection (synchronous commit on)."""
    url = await recreate_database("rows")
    setup = await asyncpg.connect(url)
    await setup.execute("CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)")
    await setup.executemany("INSERT INTO counters (id) VALUES ($1)", [(i,) for i in range(64)])
    synchronous_commit = await setup.fetchval("SHOW synchronous_commit")
    await setup.close()
    results: dict[str, Any] = {"synchronous_commit": synchronous_commit}
    for workers in concurrency:
        pool = await asyncpg.create_pool(url, min_size=workers, max_size=workers)
        started = time.monotonic()
        counts = await asyncio.gather(*(_update_loop(pool, row, started + seconds) for row in range(workers)))
        results[f"updates_per_s_{workers}_connections"] = sum(counts) / (time.monotonic() - started)
        await pool.close()
    print(f"  single-row updates: {results}", flush=True)
    return results


async def _update_loop(pool: asyncpg.Pool, row: int, stop_at: float) -> int:
    count = 0
    async with pool.acquire() as connection:
        while time.monotonic() < stop_at:
            await connection.execute("UPDATE counters SET n = n + 1 WHERE id = $1", row)
            count += 1
    return count
