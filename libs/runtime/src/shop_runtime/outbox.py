"""The outbox relay: publishes committed outbox rows with publisher confirms, in batches, then marks them sent.

Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several relays can run side by side and rows left
unpublished by a process that died are simply picked up by the next batch. A row is marked published only
after the broker confirmed it; a crash in between publishes it again, and the consumers' inbox absorbs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
import aiormq
import asyncpg
import sqlalchemy as sa
from aio_pika.abc import AbstractChannel
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from shop_contracts.routing import SIGNATURE_HEADER
from shop_runtime.database import OUTBOX_CHANNEL, Database
from shop_runtime.metrics import OUTBOX_BATCH_DURATION, OUTBOX_PUBLISHED
from shop_runtime.signatures import sign
from shop_runtime.telemetry import spans_recorded

log = logging.getLogger(__name__)
tracer = trace.get_tracer("shop_runtime.outbox")
PERSISTENT = int(aio_pika.DeliveryMode.PERSISTENT)


@dataclass(frozen=True)
class OutboxBacklog:
    unpublished: int
    oldest_age_seconds: float


async def outbox_backlog(database: Database) -> OutboxBacklog:
    """How many committed rows wait to be published, and how long the oldest has waited (0 when none)."""
    outbox = database.outbox
    oldest_age = sa.func.extract("epoch", sa.func.now() - sa.func.min(outbox.c.created_at))
    query = sa.select(sa.func.count(), sa.func.coalesce(oldest_age, 0)).where(outbox.c.published_at.is_(None))
    async with database.engine.connect() as connection:
        unpublished, age = (await connection.execute(query)).one()
    return OutboxBacklog(unpublished=int(unpublished), oldest_age_seconds=max(float(age), 0.0))


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        channel: AbstractChannel,
        *,
        batch_size: int,
        idle_poll_seconds: float,
        service: str = "unnamed",
        signing: Mapping[str, str] | None = None,
    ):
        """``service`` labels the relay's metrics; a message to an exchange in ``signing`` carries the
        ``Shop-Signature`` header, made with that exchange's secret when it is sent.

        The relay talks to PostgreSQL over one asyncpg connection of its own, the one it LISTENs on, with
        its claim written once as SQL: a batch at a low rate holds one or two rows, and through the engine's
        pool and session each batch cost several times the CPU of its three round trips."""
        self._database = database
        self._channel = channel
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._wake = asyncio.Event()
        self._published = OUTBOX_PUBLISHED.labels(service)
        self._batch_duration = OUTBOX_BATCH_DURATION.labels(service)
        self._signing = dict(signing or {})
        self._claim = _claim_statement(database.outbox)
        self._connection: asyncpg.Connection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; wake on NOTIFY from committing transactions, else poll."""
        # Stopping wakes the relay too, so an idle wait is one event with a deadline: no tasks made and cancelled
        # per batch (at a low rate, that is per message).
        stopping = asyncio.create_task(_set_when(stop, self._wake))
        try:
            while not stop.is_set():
                # Cleared before the batch is claimed, never after: a NOTIFY from a commit the claim did not
                # see (it arrives while the batch is in flight) keeps the wake set, so the next batch follows
                # at once instead of after a whole idle poll.
                self._wake.clear()
                try:
                    published = await self.publish_batch()
                except Exception:
                    log.exception("outbox relay batch failed; retrying")
                    await self._close()  # a new connection next time, after a database restart say
                    await _wait_either(stop, asyncio.Event(), self._idle_poll_seconds)
                    continue
                if published < self._batch_size:
                    await _wait(self._wake, self._idle_poll_seconds)
        finally:
            stopping.cancel()
            await self._close()

    async def drain(self) -> int:
        """Publish every row waiting now, batch after batch; return how many were published (the bench's S3).

        One batch at a time, as ``run`` does. Claiming the next batch during the confirms' wait was tried
        and taken back: see docs/decisions.md, "Relay pipelining"."""
        published = 0
        try:
            while count := await self.publish_batch():
                published += count
        finally:
            await self._close()
        return published

    async def publish_batch(self) -> int:
        """Publish one batch of unpublished rows; return how many were published.

        One statement claims the rows (``FOR UPDATE SKIP LOCKED``) and marks them published; the mark
        commits only after the broker confirmed every message of the batch, so a failure rolls it back and
        the rows are published again.
        """
        started = time.perf_counter()
        connection = await self._connect()
        async with connection.transaction():
            rows = await connection.fetch(self._claim, datetime.now(UTC), self._batch_size)
            if not rows:
                return 0
            rows.sort(key=lambda row: row["id"])  # RETURNING keeps no order; publish in id order
            headers_of = [json.loads(row["headers"]) for row in rows]
            with _send_span(headers_of, len(rows)):
                # Straight to the channel underneath aio-pika: a message's properties are built once, not
                # through an aio-pika message (about twenty checked attribute writes) and then its properties.
                channel = await self._channel.get_underlay_channel()
                confirmations = []
                for row, headers in zip(rows, headers_of, strict=True):
                    if (secret := self._signing.get(row["exchange"])) is not None:
                        # Signed as it leaves, so the receiver's tolerance counts from the sending.
                        signature = sign(row["body"], secret=secret, timestamp=int(time.time()))
                        headers = {**headers, SIGNATURE_HEADER: signature}
                    properties = aiormq.spec.Basic.Properties(
                        content_type="application/json",
                        delivery_mode=PERSISTENT,
                        priority=0,
                        message_id=str(row["message_id"]),
                        message_type=row["message_type"],
                        headers=headers,
                        timestamp=row["created_at"],
                    )
                    confirmations.append(
                        channel.basic_publish(
                            row["body"],
                            exchange=row["exchange"],
                            routing_key=row["routing_key"],
                            properties=properties,
                            mandatory=False,
                        )
                    )
                if len(confirmations) == 1:
                    await confirmations[0]  # the usual batch at a low rate: no task to wrap it
                else:
                    await asyncio.gather(*confirmations)
        self._published.inc(len(rows))
        self._batch_duration.observe(time.perf_counter() - started)
        return len(rows)

    async def _connect(self) -> asyncpg.Connection:
        """The relay's connection, opened (and LISTENing) when there is none or it closed."""
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        url = make_url(self._database.engine.url).set(drivername="postgresql")
        connection: asyncpg.Connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            await connection.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError):
            log.warning("outbox relay cannot LISTEN; it polls every %.1fs", self._idle_poll_seconds)
        self._connection = connection
        return connection

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await connection.close(timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                connection.terminate()


def _claim_statement(outbox: sa.Table) -> str:
    """Claim up to $2 unpublished rows, oldest first, and mark them published at $1 (the relay's one query)."""
    preparer = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]
    table = preparer.format_table(outbox)
    return (
        f"UPDATE {table} SET published_at = $1 WHERE id IN ("
        f"SELECT id FROM {table} WHERE published_at IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, message_id, message_type, exchange, routing_key, body, headers, created_at"
    )


def _send_span(headers_of: list[dict[str, str]], count: int) -> AbstractContextManager[object]:
    """One span per batch, linked to where each message was made (its producer span, in the order's trace):
    when a message left is visible from the order's trace without the relay joining it. Nothing (not even
    the links, a context extracted per row) is built when this process records no spans."""
    if not spans_recorded():
        return nullcontext()
    links = [
        Link(context)
        for headers in headers_of
        if (context := trace.get_current_span(propagate.extract(headers)).get_span_context()).is_valid
    ]
    return tracer.start_as_current_span(
        "outbox send",
        kind=SpanKind.PRODUCER,
        links=links,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.batch.message_count": count,
        },
    )


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


async def _wait(wake: asyncio.Event, timeout: float) -> None:
    """Until ``wake`` is set or ``timeout`` seconds have passed."""
    try:
        async with asyncio.timeout(timeout):
            await wake.wait()
    except TimeoutError:
        pass


async def _wait_either(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
