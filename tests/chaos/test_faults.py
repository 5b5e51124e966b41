"""Faults injected into one running shop (one replica of every process), each followed by the audit.

Every scenario places real orders through the gateway, injects its fault, waits (polling, with deadlines)
until the backlog drains, then checks what customers see (every order final, charged once) and the audit.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import aio_pika
import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from scripts.stack import SERVICES, Stack
from shop_contracts import Envelope
from shop_contracts.money import Money
from shop_contracts.payments import CapturePayment, PaymentSucceeded
from shop_contracts.routing import COMMANDS_EXCHANGE, service_queue
from shop_runtime.broker import declare_exchanges
from shop_storefront import checkout, new_sku
from tests.chaos.conftest import CHAOS_VHOST
from tests.chaos.journeys import Driver, Kind, acted_in_states, assert_all_ended, bodies_for, mix
from tests.chaos.proxy import FlakyProxy
from tests.chaos.reorder import DELIVERED, SHIPPED, Reorderer, routes_of
from tests.chaos.report import REPORTS, ScenarioReport
from tests.chaos.servers import Servers
from tests.chaos.shop import (
    Placed,
    assert_audit_clean,
    assert_settled,
    audit,
    background,
    drained,
    ops,
    parked_counts,
    payments_twice,
    place,
    place_many,
    plain_url,
    product_in_stock,
    product_on_preorder,
    record,
    settle,
    unpublished_outbox,
)
from tests.support.messages import send

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(360)]


@contextmanager
def scenario(name: str) -> Iterator[ScenarioReport]:
    report = ScenarioReport(name)
    REPORTS.append(report)
    started = time.monotonic()
    try:
        yield report
    finally:
        report.seconds = time.monotonic() - started


async def fetchval(stack: Stack, service: str, sql: str, *args: object) -> int:
    connection = await asyncpg.connect(plain_url(stack.config.database_url(service)))
    try:
        return int(await connection.fetchval(sql, *args))
    finally:
        await connection.close()


async def until(check: object, *, timeout: float = 60, what: str = "condition") -> None:
    """Poll an async predicate until it is true, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        await asyncio.sleep(0.1)


async def confirmed_count(stack: Stack) -> int:
    return await fetchval(stack, "orders", "SELECT count(*) FROM orders WHERE status = 'confirmed'")


async def finish(
    stack: Stack, gateway: httpx.AsyncClient, report: ScenarioReport, orders: list[Placed]
) -> None:
    """Drain, settle every order, record the figures, assert what customers see and the audit."""
    started = time.monotonic()
    await drained(stack)
    drain_seconds = time.monotonic() - started
    settled = await settle(gateway, orders)
    record(report, orders, settled)
    started = time.monotonic()
    result = audit(stack, report)
    report.notes.append(f"drained in {drain_seconds:.1f}s; audit took {time.monotonic() - started:.1f}s")
    assert_settled(settled)
    assert_audit_clean(result)


async def test_1_kill_9_the_orders_worker_between_commit_and_publish(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    with scenario("1 kill -9 orders worker") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        baseline = await confirmed_count(stack)
        burst = background(place_many([gateway], [checkout(sku) for _ in range(40)], concurrency=8))

        async def flowing() -> bool:
            return await confirmed_count(stack) >= baseline + 5

        await until(flowing, what="orders flowing")
        stack.kill("orders-worker")
        report.fault("SIGKILL orders-worker while orders flow")
        # Checkouts still commit (orders' HTTP process writes the order and its outgoing command in one
        # transaction) while no relay publishes them: committed, not yet published.
        more = await place_many([gateway], [checkout(sku) for _ in range(10)], concurrency=5)
        waiting = await unpublished_outbox(stack)
        report.notes.append(f"unpublished outbox rows while the worker was dead: {waiting['orders']}")
        assert waiting["orders"] > 0
        stack.start(["orders-worker"])
        orders = await burst + more
        await finish(stack, gateway, report, orders)


async def test_2_kill_9_the_payments_worker_in_the_middle_of_handlers(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    with scenario("2 kill -9 payments worker") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        before = await fetchval(stack, "payments", "SELECT count(*) FROM payments")
        burst = background(place_many([gateway], [checkout(sku) for _ in range(50)], concurrency=10))

        async def charging() -> bool:
            return await fetchval(stack, "payments", "SELECT count(*) FROM payments") >= before + 8

        await until(charging, what="payments charging")
        stack.kill("payments-worker")
        at_kill = await fetchval(stack, "payments", "SELECT count(*) FROM payments") - before
        report.fault(f"SIGKILL payments-worker after {at_kill} charges of the burst")
        stack.start(["payments-worker"])
        orders = await burst
        assert at_kill < len(orders), "the burst finished before the kill: nothing was in flight"
        await finish(stack, gateway, report, orders)


async def test_3_restart_rabbitmq_under_load(
    stack: Stack, gateway: httpx.AsyncClient, servers: Servers
) -> None:
    with scenario("3 RabbitMQ restart") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        baseline = await confirmed_count(stack)
        burst = background(place_many([gateway], [checkout(sku) for _ in range(40)], concurrency=8))

        async def flowing() -> bool:
            return await confirmed_count(stack) >= baseline + 5

        await until(flowing, what="orders flowing")
        during: asyncio.Task[list[Placed]] | None = None
        try:
            started = time.monotonic()
            await asyncio.to_thread(servers.rabbit_stop_app)
            report.fault("rabbitmqctl stop_app under load")
            # Placing an order must not need the broker: the command waits in orders' outbox.
            during = background(place_many([gateway], [checkout(sku) for _ in range(5)]))
            done, _ = await asyncio.wait({during}, timeout=8)
            report.notes.append(f"checkouts accepted while the broker was down: {5 if done else 'not all'}")
        finally:
            await asyncio.to_thread(servers.rabbit_start_app)
            report.notes.append(f"broker outage {time.monotonic() - started:.1f}s")
        orders = await burst + await during
        try:
            await finish(stack, gateway, report, orders)
        finally:
            if report.lost or report.audit_violations is None:  # heal the shop for the next scenarios
                report.notes.append("queues had no consumers after the broker restart; workers restarted")
                for name in [n for n in stack.processes if n.endswith("-worker")]:
                    stack.restart(name)
                await drained(stack, timeout=120)


async def test_4_restart_postgresql_under_load(
    stack: Stack, gateway: httpx.AsyncClient, servers: Servers
) -> None:
    with scenario("4 PostgreSQL restart") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        baseline = await confirmed_count(stack)
        burst = background(place_many([gateway], [checkout(sku) for _ in range(40)], concurrency=8))

        async def flowing() -> bool:
            return await confirmed_count(stack) >= baseline + 5

        await until(flowing, what="orders flowing")
        try:
            started = time.monotonic()
            await asyncio.to_thread(servers.postgres_restart)
            report.fault("PostgreSQL restart (fast shutdown) under load")
        finally:
            await asyncio.to_thread(servers.postgres_ensure_running)
            report.notes.append(f"database restart took {time.monotonic() - started:.1f}s")
        orders = await burst
        await finish(stack, gateway, report, orders)


async def test_5_the_same_message_delivered_three_times_concurrently(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    """Hold catalog's and payments' workers, let each command arrive, add two copies (same message id),
    then start the worker: it takes all three at once (prefetch) and must take effect once."""
    with scenario("5 triple delivery") as report:
        sku = new_sku()
        product_id = await product_in_stock(gateway, sku=sku, units=100)
        await place(gateway, checkout(sku))  # orders knows the SKU before the workers stop
        connection = await aio_pika.connect_robust(stack.config.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await declare_exchanges(channel)
            tap = await channel.declare_queue(exclusive=True)
            await tap.bind(COMMANDS_EXCHANGE, routing_key="#")
            commands = await channel.get_exchange(COMMANDS_EXCHANGE)
            stack.stop_process("catalog-worker")
            stack.stop_process("payments-worker")
            orders = [await place(gateway, checkout(sku)) for _ in range(6)]
            ids = {placed.id for placed in orders}
            seen: dict[str, list[aio_pika.abc.AbstractIncomingMessage]] = {}

            async def commands_of(message_type: str) -> bool:
                while (message := await tap.get(no_ack=True, fail=False)) is not None:
                    seen.setdefault(message.type or "", []).append(message)
                mine = [m for m in seen.get(message_type, []) if json.loads(m.body)["subject"] in ids]
                return len(mine) >= len(ids)

            async def triple(message_type: str) -> int:
                await until(lambda: commands_of(message_type), what=f"{message_type} for every order")
                originals = [m for m in seen[message_type] if json.loads(m.body)["subject"] in ids]
                copies = [
                    commands.publish(
                        aio_pika.Message(
                            m.body,
                            message_id=m.message_id,
                            type=m.type,
                            headers=m.headers,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=m.routing_key or "",
                    )
                    for m in originals
                    for _ in range(2)
                ]
                await asyncio.gather(*copies)
                report.fault(f"{len(originals)} x {message_type} delivered three times at once")
                return len(copies)

            await triple("catalog.stock.reserve.v1")
            stack.start(["catalog-worker"])
            await triple(CapturePayment.TYPE)
            stack.start(["payments-worker"])
        finally:
            await connection.close()
        await drained(stack)
        settled = await settle(gateway, orders)
        record(report, orders, settled)
        available = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]["available"]
        report.notes.append(f"stock available {available} of 100 after 7 orders of 1")
        report.oversold += max(0, (100 - 7) - available)
        duplicates = stack.log_tails(["catalog-worker", "payments-worker"], lines=3000).count("duplicate ")
        report.notes.append(f"duplicate deliveries logged as ignored: {duplicates}")
        for placed in orders:
            events = [entry["event"] for entry in placed.view["timeline"]]
            assert len(events) == len(set(events)) or events.count("payment_captured") <= 1, events
        result = audit(stack, report)
        assert_settled(settled)
        assert available == 100 - 7
        assert_audit_clean(result)


async def test_6_poison_messages_are_parked_while_orders_keep_flowing(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    with scenario("6 poison messages") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        connection = await aio_pika.connect_robust(stack.config.amqp_url)
        poison: dict[str, str] = {}
        try:
            channel = await connection.channel(publisher_confirms=True)
            await declare_exchanges(channel)
            commands = await channel.get_exchange(COMMANDS_EXCHANGE)
            not_json = str(uuid.uuid4())
            await commands.publish(
                aio_pika.Message(b"{not json", message_id=not_json, type="catalog.stock.reserve.v1"),
                routing_key="catalog.stock.reserve.v1",
            )
            poison[not_json] = "catalog"
            unknown = Envelope(
                type="catalog.stock.teleport.v1",
                source="chaos",
                subject="ord_nope",
                correlation_id="ord_nope",
                data={"order_id": "ord_nope"},
            )
            await commands.publish(
                aio_pika.Message(
                    unknown.model_dump_json().encode(), message_id=str(unknown.id), type=unknown.type
                ),
                routing_key="catalog.stock.reserve.v1",
            )
            poison[str(unknown.id)] = "catalog"
            ghost = str(uuid.uuid4())
            envelope = await send(
                connection,
                PaymentSucceeded(
                    order_id=ghost, payment_id=str(uuid.uuid4()), step="full", amount=Money(1000, "KRW")
                ),
                subject=ghost,
            )
            poison[str(envelope.id)] = "orders"
            report.fault("invalid JSON, an unknown type and an unknown order id published")
            orders = await place_many([gateway], [checkout(sku) for _ in range(20)], concurrency=8)
        finally:
            await connection.close()

        async def all_parked() -> bool:
            counts = await asyncio.to_thread(parked_counts)
            return counts["catalog"] >= 2 and counts["orders"] >= 1

        await until(all_parked, timeout=60, what="the poison messages parked")
        listed = ops(stack, "dead-letters", "list")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        report.notes.append("dead-letters list:\n      " + "\n      ".join(listed.stdout.splitlines()))
        for message_id in poison:
            assert message_id in listed.stdout, listed.stdout
        assert listed.stdout.count("attempts=4") >= 3, listed.stdout
        await finish(stack, gateway, report, orders)
        for service in sorted(set(poison.values())):
            purged = ops(stack, "dead-letters", "purge", service, "--yes")
            assert purged.returncode == 0, purged.stdout + purged.stderr


async def test_7_the_psp_times_out_or_errors_and_then_succeeds(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    with scenario("7 PSP timeout / 5xx") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        bodies = [checkout(sku, token="tok_timeout_then_ok") for _ in range(8)]
        bodies += [checkout(sku, token="tok_error_then_ok") for _ in range(8)]
        orders = await place_many([gateway], bodies)
        report.fault("16 charges whose first PSP attempt timed out (8) or answered 503 (8)")
        await finish(stack, gateway, report, orders)
        for placed in orders:
            assert len(placed.succeeded_payments()) == 1
            assert placed.view["payments"]["captured"] == placed.view["totals"]["total"]
        logs = stack.log_tails(["payments-worker"], lines=5000)
        retried = logs.count("did not answer charge") + logs.count("answered 503 to charge")
        report.notes.append(f"PSP failures retried by the worker (log lines): {retried}")


async def test_8_a_slow_flaky_database_connection(
    stack: Stack, gateway: httpx.AsyncClient, servers: Servers
) -> None:
    with scenario("8 flaky DB proxy (payments)") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        # A port the system picks: a fixed one may be held by some connection's ephemeral source port.
        proxy = FlakyProxy(listen_port=0, target_port=servers.postgres_port, drop_every_seconds=1.5).start()
        through_proxy = (
            make_url(stack.config.database_url("payments"))
            .set(port=proxy.port)
            .render_as_string(hide_password=False)
        )
        env = {"SHOP_PAYMENTS_DATABASE_URL": through_proxy}
        try:
            stack.restart("payments-worker", extra_env=env)
            stack.restart("payments-http", extra_env=env)
            await asyncio.to_thread(stack.wait_http, "payments-http", 120)
            orders = await place_many([gateway], [checkout(sku) for _ in range(40)], concurrency=8)
            settled = await settle(gateway, orders)
            report.fault(
                f"proxy: {proxy.stats.connections} connections, {proxy.stats.dropped} dropped, "
                "2-25 ms per chunk"
            )
            assert proxy.stats.dropped > 0
        finally:
            stack.restart("payments-worker")
            stack.restart("payments-http")
            proxy.stop()
        await asyncio.to_thread(stack.wait_http, "payments-http", 120)
        del settled
        await finish(stack, gateway, report, orders)


async def test_9_the_same_checkout_retried_by_the_client(stack: Stack, gateway: httpx.AsyncClient) -> None:
    with scenario("9 client retries checkout") as report:
        sku = new_sku()
        await product_in_stock(gateway, sku=sku, units=500)
        await place(gateway, checkout(sku))  # orders knows the SKU
        orders: list[Placed] = []
        async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=0.005) as impatient:
            for _ in range(10):
                body, key = checkout(sku), str(uuid.uuid4())
                try:
                    await impatient.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
                except httpx.TimeoutException:
                    pass
                report.fault("a checkout timed out at the client and was retried 4 times at once")
                retried = await asyncio.gather(*(place(gateway, body, key=key) for _ in range(4)))
                assert len({placed.id for placed in retried}) == 1, [placed.id for placed in retried]
                orders.append(retried[0])
                placed_for_email = await fetchval(
                    stack, "orders", "SELECT count(*) FROM orders WHERE email = $1", body["email"]
                )
                assert placed_for_email == 1
        await finish(stack, gateway, report, orders)


# The soak's round twice, and twenty more returns: a return asked for the moment the order shows delivered is
# where a shipped report overtaken by its delivered report shows (refused as "nothing shipped").
REORDER_KINDS = [*mix(40), *[Kind.RETURN_CHANGED_MIND, Kind.RETURN_DAMAGED] * 10]


@pytest.mark.timeout(600)
async def test_12_messages_between_services_delayed_duplicated_and_reordered(
    stack: Stack, gateway: httpx.AsyncClient, servers: Servers
) -> None:
    """Every message between services passes a hop that holds a share back until a later message of the
    same order overtook it, delays some and delivers some twice; customers, staff and the warehouse act the
    moment the order shows the state they wait for (a return as soon as it shows delivered, a cancellation as
    soon as it shows confirmed). Then every journey ends as its customer expects, nobody is charged or
    refunded twice, stock adds up, nothing is parked and the audit is clean."""
    with scenario("12 reordered, duplicated") as report:
        in_stock, preorder = new_sku("REORDER"), new_sku("PRE")
        product_id = await product_in_stock(gateway, sku=in_stock, units=1000)
        await product_on_preorder(stack, gateway, sku=preorder, cap=1000)
        parked_before = await asyncio.to_thread(parked_counts)
        listing = await asyncio.to_thread(
            servers.rabbitmqctl,
            *("-q", "list_bindings", "-p", CHAOS_VHOST, "--no-table-headers"),
            *("source_name", "destination_name", "destination_kind", "routing_key"),
        )
        routes = routes_of(listing, [service_queue(service) for service in SERVICES])
        assert routes, listing
        reorderer = Reorderer(amqp_url=stack.config.amqp_url, routes=routes).start()
        journeys = bodies_for(REORDER_KINDS, in_stock=in_stock, preorder=preorder)
        driver = Driver(gateway, poll_seconds=0.2)
        place_limit, act_limit = asyncio.Semaphore(8), asyncio.Semaphore(16)
        started = time.monotonic()
        try:
            await asyncio.gather(*(driver.run(journey, place_limit, act_limit) for journey in journeys))
        finally:
            await asyncio.to_thread(reorderer.stop)
            stats = reorderer.stats
            report.fault(f"{len(routes)} bindings through the reordering hop: {stats.describe()}")
        overtaken_shipped = stats.overtaken_in(service_queue("orders"), SHIPPED, DELIVERED)
        report.notes.append(
            f"journeys driven in {time.monotonic() - started:.1f}s; orders had a shipment's delivered report"
            f" before its shipped report {overtaken_shipped} time(s)"
        )
        await drained(stack)
        unfinished = await driver.settle(journeys, timeout=120)
        orders = [journey.placed for journey in journeys if journey.placed is not None]
        twice = await payments_twice(stack)
        charged_twice = [placed for placed in orders if len(placed.succeeded_payments()) > 1]
        refunded_twice = [journey for journey in journeys if journey.refunded_too_much()]
        available = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]["available"]
        # A resellable unit is back on the shelf once its return was received; a refused return keeps it out.
        kept = sum(
            1
            for j in journeys
            if j.kind in (Kind.KEPT, Kind.DELIVERED, Kind.RETURN_DAMAGED)
            or (
                j.kind is Kind.RETURN_CHANGED_MIND
                and j.return_view.get("status") not in ("received", "refunded")
            )
        )
        parked = {
            service: count - parked_before.get(service, 0)
            for service, count in (await asyncio.to_thread(parked_counts)).items()
            if count > parked_before.get(service, 0)
        }
        report.orders += len(journeys)
        report.lost += len(unfinished)
        report.completed += report.orders - report.lost
        report.charged_twice += len(charged_twice) + twice
        report.oversold += max(0, (1000 - kept) - available)
        report.notes.append(f"journeys {dict(Counter(journey.kind.value for journey in journeys))}")
        report.notes.append(f"cancelled in states {acted_in_states(journeys)}")
        report.notes.append(f"in-stock units available {available} of 1000, expected {1000 - kept}")
        report.notes.append(f"refunded twice {len(refunded_twice)}; parked {parked or 'none'}")
        result = audit(stack, report)
        assert_all_ended(unfinished)
        assert not charged_twice
        assert twice == 0
        assert not refunded_twice
        assert available == 1000 - kept
        assert not parked, parked
        assert_audit_clean(result)
