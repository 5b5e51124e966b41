"""Prometheus metrics of a real service: the HTTP app's /metrics and the worker's own metrics port.

The service is catalog (its database, migrations and HTTP app) with a handler of the test's own, so what is
measured is the runtime, not catalog's rules.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from prometheus_client.parser import text_string_to_metric_families

from shop_catalog.bootstrap import DEFINITION as CATALOG
from shop_contracts import catalog as contracts
from shop_contracts.routing import parking_queue, service_queue
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.outbox import outbox_backlog
from shop_runtime.service import WorkerContext
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import eventually, send
from tests.support.services import RunningService, running_service

pytestmark = pytest.mark.integration

QUEUE = service_queue("catalog")
RELEASE = contracts.ReleaseStock.TYPE


async def release_unless_told_to_fail(message: contracts.ReleaseStock, uow: UnitOfWork) -> None:
    if message.order_id.startswith("fail"):
        raise RuntimeError("fails on purpose")
    uow.publish(contracts.StockReleased(order_id=message.order_id), subject=message.order_id)
    await uow.commit()


def probe_subscriptions(context: WorkerContext) -> Subscriptions:
    return {contracts.ReleaseStock: release_unless_told_to_fail}


DEFINITION = replace(CATALOG, subscriptions=probe_subscriptions)


@pytest.fixture
async def catalog(
    broker: AbstractRobustConnection, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningService]:
    monkeypatch.setattr(Worker, "metrics_sample_seconds", 0.1)
    # Port 0: the worker serves its metrics on a free port, whatever else runs on this machine.
    settings = infra.service_settings(DEFINITION, suffix="_observability", http_port=0)
    async with running_service(DEFINITION, settings, broker) as service:
        yield service


def value(exposition: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, or None when there is none."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


async def worker_metrics(worker: Worker) -> str:
    assert worker.metrics_server is not None, "the worker serves no metrics"
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{worker.metrics_server.port}/metrics")
    assert response.status_code == 200
    return response.text


async def test_the_http_app_times_requests_by_route_template_and_not_its_probes(catalog) -> None:
    client = catalog.client
    one = await client.get(f"/products/{uuid.uuid4()}")
    await client.get(f"/products/{uuid.uuid4()}")
    unmatched = await client.get(f"/nowhere/{uuid.uuid4()}")
    await client.get("/health")
    await client.get("/ready")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    count = "shop_http_request_duration_seconds_count"
    by_template = value(response.text, count, method="GET", route="/products/{product_id}")
    assert by_template is not None
    assert by_template >= 2
    assert value(response.text, count, route="/products/{product_id}", status=str(one.status_code))
    assert value(response.text, count, route="unmatched", status=str(unmatched.status_code))
    for probe in ("/health", "/ready", "/metrics"):
        assert value(response.text, count, route=probe) is None


async def test_the_worker_counts_handled_and_duplicate_messages_and_samples_its_queue(
    catalog, broker: AbstractRobustConnection
) -> None:
    command = contracts.ReleaseStock(order_id="order-m", reason="cancelled")
    message_id = uuid.uuid4()
    handled = "shop_messages_handled_total"
    duration = "shop_message_handler_duration_seconds_count"
    # The registry lives as long as the process: count from what earlier tests left.
    before = await worker_metrics(catalog.worker)
    ok_before = value(before, handled, queue=QUEUE, type=RELEASE, outcome="ok") or 0
    duplicate_before = value(before, handled, queue=QUEUE, type=RELEASE, outcome="duplicate") or 0
    timed_before = value(before, duration, queue=QUEUE, type=RELEASE) or 0
    await send(broker, command, subject="order-m", message_id=message_id)
    await send(broker, command, subject="order-m", message_id=message_id)

    async def counted() -> None:
        text = await worker_metrics(catalog.worker)
        assert value(text, handled, queue=QUEUE, type=RELEASE, outcome="ok") == ok_before + 1
        assert value(text, handled, queue=QUEUE, type=RELEASE, outcome="duplicate") == duplicate_before + 1
        assert value(text, duration, queue=QUEUE, type=RELEASE) == timed_before + 2
        assert value(text, "shop_consumer_lag_messages", queue=QUEUE) == 0
        assert value(text, "shop_dead_letter_messages", queue=parking_queue("catalog")) == 0
        # The release the handler wrote to the outbox was published and marked.
        assert (value(text, "shop_outbox_published_total", service="catalog") or 0) >= 1
        assert value(text, "shop_outbox_backlog_messages", service="catalog") == 0
        assert value(text, "shop_outbox_oldest_unpublished_age_seconds", service="catalog") == 0

    await eventually(counted)


async def test_a_failing_message_is_counted_as_retried_then_parked(
    catalog, broker: AbstractRobustConnection
) -> None:
    handled = "shop_messages_handled_total"
    retries = len(catalog.settings.retry_delays_ms)
    before = await worker_metrics(catalog.worker)
    retried_before = value(before, handled, queue=QUEUE, type=RELEASE, outcome="retried") or 0
    parked_before = value(before, handled, queue=QUEUE, type=RELEASE, outcome="parked") or 0
    await send(broker, contracts.ReleaseStock(order_id="fail-1", reason="cancelled"), subject="fail-1")

    async def parked() -> None:
        text = await worker_metrics(catalog.worker)
        assert value(text, handled, queue=QUEUE, type=RELEASE, outcome="retried") == retried_before + retries
        assert value(text, handled, queue=QUEUE, type=RELEASE, outcome="parked") == parked_before + 1
        assert value(text, "shop_dead_letter_messages", queue=parking_queue("catalog")) == 1

    await eventually(parked)


async def test_the_outbox_backlog_counts_unpublished_rows_and_the_oldest_age(catalog) -> None:
    # The worker's relay publishes its own outbox at once, so the query is asked about a copy of the
    # messaging tables in a schema of their own, where nothing publishes.
    metadata = sa.MetaData(schema="metrics_probe")
    outbox, inbox = add_messaging_tables(metadata)
    database = Database(catalog.worker.database.engine, outbox=outbox, inbox=inbox)
    async with database.engine.begin() as connection:
        await connection.execute(sa.text("CREATE SCHEMA metrics_probe"))
        await connection.run_sync(metadata.create_all)
    unpublished_ages, published_age = (60, 5), 600
    async with database.engine.begin() as connection:
        for age in (*unpublished_ages, published_age):
            await connection.execute(
                sa.insert(outbox).values(
                    message_id=uuid.uuid4(),
                    message_type=RELEASE,
                    exchange="",
                    routing_key=QUEUE,
                    body=b"{}",
                    headers={},
                    created_at=sa.func.now() - sa.text(f"interval '{age} seconds'"),
                    published_at=sa.func.now() if age == published_age else None,
                )
            )

    backlog = await outbox_backlog(database)

    assert backlog.unpublished == 2
    assert 60 <= backlog.oldest_age_seconds < 120
