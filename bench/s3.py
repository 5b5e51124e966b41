"""S3 outbox relay: drain a backlog with the runtime's OutboxRelay vs raw confirmed publishing of the same messages."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench.infra import amqp, recreate_database
from shop_runtime.database import Database
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.outbox import OutboxRelay

EXCHANGE = "bench.s3"
QUEUE = "bench.s3.sink"
ROUTING_KEY = "orders.order.confirmed.v1"
BATCH = 200
"""The runtime's default relay_batch_size."""


def _body(index: int) -> bytes:
    order_id = str(uuid.uuid4())
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": ROUTING_KEY,
            "source": "orders",
            "time": datetime.now(UTC).isoformat(),
            "subject": order_id,
            "correlation_id": order_id,
            "causation_id": str(uuid.uuid4()),
            "data": {
                "order_id": order_id,
                "customer": {"email": f"buyer-{index}@example.com", "locale": "ko"},
                "currency": "KRW",
                "lines": [{"sku": "BENCH-00", "quantity": 1, "unit_price": 39000, "total": 39000}],
                "subtotal": 39000,
                "shipping": 3000,
                "total": 42000,
            },
        }
    ).encode()


async def relay_drain(*, rows: int) -> dict[str, Any]:
    url = await recreate_database("outbox")
    metadata = sa.MetaData()
    outbox, inbox = add_messaging_tables(metadata)
    engine = create_async_engine(
        url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=5, max_overflow=5
    )
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    records = [
        (
            uuid.uuid4(),
            ROUTING_KEY,
            "bench.s3",
            ROUTING_KEY,
            _body(i),
            json.dumps(
                {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01", "correlation_id": "x"}
            ),
        )
        for i in range(rows)
    ]
    filler = await asyncpg.connect(url)
    fill_started = time.monotonic()
    await filler.copy_records_to_table(
        "outbox",
        records=records,
        columns=["message_id", "message_type", "exchange", "routing_key", "body", "headers"],
    )
    await filler.execute("VACUUM ANALYZE outbox")
    fill_seconds = time.monotonic() - fill_started
    broker = await amqp()
    result: dict[str, Any] = {"rows": rows, "batch_size": BATCH, "fill_seconds": fill_seconds}
    try:
        channel = await broker.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(exchange, routing_key="#")
        await queue.purge()

        relay = OutboxRelay(
            Database(engine, outbox=outbox, inbox=inbox),
            channel,
            batch_size=BATCH,
            idle_poll_seconds=1,
            service="bench",
        )
        started = time.monotonic()
        drained = await relay.drain()
        relay_seconds = time.monotonic() - started
        left = await filler.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        result.update(
            relay_events=drained, relay_seconds=relay_seconds, relay_per_s=drained / relay_seconds, left=left
        )
        print(
            f"  S3 relay drained {drained} rows in {relay_seconds:.1f}s = {drained / relay_seconds:.0f}/s",
            flush=True,
        )
        await queue.purge()

        bodies = [(record[0], record[4]) for record in records]
        started = time.monotonic()
        for offset in range(0, rows, BATCH):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body,
                            content_type="application/json",
                            message_id=str(message_id),
                            type=ROUTING_KEY,
                            headers={"correlation_id": "x"},
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=ROUTING_KEY,
                    )
                    for message_id, body in bodies[offset : offset + BATCH]
                )
            )
        raw_seconds = time.monotonic() - started
        result.update(raw_seconds=raw_seconds, raw_per_s=rows / raw_seconds)
        result["relay_vs_raw"] = result["relay_per_s"] / result["raw_per_s"]
        print(
            f"  S3 raw confirmed publish of the same {rows} in batches of {BATCH}: {rows / raw_seconds:.0f}/s; "
            f"relay/raw = {result['relay_vs_raw']:.2f}",
            flush=True,
        )
        await channel.queue_delete(QUEUE)
        await channel.exchange_delete(EXCHANGE)
    finally:
        await broker.close()
        await filler.close()
        await engine.dispose()
    return result
