"""One service under test, in process: a fresh database, fresh queues, its worker and its HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from shop_contracts.routing import parking_queue, retry_queue, service_queue
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import create_engine
from shop_runtime.migrations import create_database_if_missing
from shop_runtime.service import ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import eventually


@dataclass(frozen=True)
class RunningService:
    client: httpx.AsyncClient
    worker: Worker
    settings: ServiceSettings
    app: FastAPI


def worker_only(
    name: str, settings_class: type[ServiceSettings], metadata: sa.MetaData, subscriptions: Subscriptions
) -> ServiceDefinition:
    """A service of the runtime's tests: a worker subscribed to ``subscriptions``, tables from ``metadata``, no
    HTTP app and no migrations (``fresh_worker_settings`` creates its tables)."""

    def subscribed(context: WorkerContext) -> Subscriptions:
        return subscriptions

    def no_app(settings: ServiceSettings) -> FastAPI:
        raise NotImplementedError

    return ServiceDefinition(
        name=name,
        settings_class=settings_class,
        metadata=metadata,
        migrations_path=Path("unused"),
        create_app=no_app,
        subscriptions=subscribed,
    )


async def fresh_worker_settings(
    broker: AbstractRobustConnection, definition: ServiceDefinition, retry_delays_ms: list[int]
) -> ServiceSettings:
    """Settings of ``definition`` (a ``worker_only`` service) with a fresh database holding its tables and no
    queues left from an earlier test; the caller drops the database afterwards."""
    settings = infra.service_settings(definition, retry_delays_ms=retry_delays_ms)
    await infra.drop_database(settings.database_url)
    await create_database_if_missing(settings.database_url)
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.run_sync(definition.metadata.create_all)
    await engine.dispose()
    await delete_service_queues(broker, definition.name, settings.retry_delays_ms)
    return settings


async def delete_service_queues(
    broker: AbstractRobustConnection, service: str, retry_delays_ms: list[int]
) -> None:
    """A fresh database needs fresh queues: a message left by an earlier test would be new to it."""
    channel = await broker.channel()
    for queue in (
        service_queue(service),
        parking_queue(service),
        *(retry_queue(service, d) for d in retry_delays_ms),
    ):
        await channel.queue_delete(queue)
    await channel.close()


@asynccontextmanager
async def running_service(
    definition: ServiceDefinition, settings: ServiceSettings, broker: AbstractRobustConnection
) -> AsyncIterator[RunningService]:
    await infra.fresh_database(definition, settings)
    await delete_service_queues(broker, definition.name, settings.retry_delays_ms)
    app = definition.http_app(settings)
    worker = Worker(definition, settings)
    assert await worker.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{definition.name}"
            ) as client,
        ):
            yield RunningService(client=client, worker=worker, settings=settings, app=app)
    finally:
        await worker.stop()
        # The database stays for the next test's fresh_database to empty; the session drops it at its end.


def queue_depth(queue: str, vhost: str = infra.TEST_VHOST) -> int:
    """Ready plus unacknowledged messages in ``queue``: 0 means its consumer finished everything it got."""
    listed = infra.run_rabbitmqctl("-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages")
    counts = dict(line.split("\t") for line in listed.splitlines() if "\t" in line)
    return int(counts.get(queue, "0"))


async def drained(queue: str) -> None:
    """Wait until ``queue`` has nothing ready or in flight."""

    async def nothing_left() -> None:
        assert await asyncio.to_thread(queue_depth, queue) == 0

    await eventually(nothing_left)
