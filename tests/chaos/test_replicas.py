"""Two replicas of every process (item 4) and a small soak with rolling restarts (item 5)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from scripts.stack import SERVICES, Stack, replica_suffix
from tests.chaos.report import REPORTS, ScenarioReport
from tests.chaos.shop import (
    Placed,
    assert_audit_clean,
    assert_settled,
    audit,
    background,
    checkout,
    drained,
    new_sku,
    place,
    place_many,
    plain_url,
    product_in_stock,
    product_on_preorder,
    record,
    settle,
)

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]


@pytest.fixture
async def gateways(replica_stack: Stack) -> AsyncIterator[list[httpx.AsyncClient]]:
    clients = [httpx.AsyncClient(base_url=url, timeout=15) for url in replica_stack.config.gateway_urls]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def handled_by(stack: Stack, service: str, replica: int) -> int:
    """Messages a worker replica handled (ok or duplicate), from its Prometheus metrics."""
    port = stack.config.service_port(service, replica) + 1000
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("shop_messages_handled_total{") and re.search(r'outcome="(ok|duplicate)"', line):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def payments_twice(stack: Stack) -> int:
    connection = await asyncpg.connect(plain_url(stack.config.database_url("payments")))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM (SELECT order_id FROM payments WHERE status = 'succeeded'"
                " GROUP BY order_id, step HAVING count(*) > 1) AS twice"
            )
        )
    finally:
        await connection.close()


async def test_10_two_replicas_of_everything_process_each_order_once(
    replica_stack: Stack, gateways: list[httpx.AsyncClient]
) -> None:
    report = ScenarioReport("10 two replicas")
    REPORTS.append(report)
    started = time.monotonic()
    stack = replica_stack
    sku = new_sku()
    await product_in_stock(gateways[0], sku=sku, units=1000)
    for gateway in gateways:
        await place(gateway, checkout(sku))  # both orders replicas know the SKU
    placing = time.monotonic()
    orders = await place_many(gateways, [checkout(sku) for _ in range(300)], concurrency=16)
    report.notes.append(f"placed {len(orders)} in {time.monotonic() - placing:.1f}s over 2 gateways")
    await drained(stack, timeout=180)
    settled = await settle(gateways[0], orders, timeout=120)
    record(report, orders, settled)
    work = {
        service: [await handled_by(stack, service, replica) for replica in range(2)]
        for service in ("catalog", "orders", "payments")
    }
    report.notes.append(f"messages handled per worker replica: {work}")
    twice = await payments_twice(stack)
    report.notes.append(f"order steps with two successful payments in the payments database: {twice}")
    result = audit(stack, report)
    report.seconds = time.monotonic() - started
    assert_settled(settled)
    assert twice == 0
    for service, counts in work.items():
        assert all(count > 0 for count in counts), f"a {service} replica did no work: {counts}"
    assert_audit_clean(result)


def rolling_restart(stack: Stack, report: ScenarioReport) -> None:
    """SIGTERM then start again, one at a time: every worker of every replica, then each service's second
    HTTP process (waiting until it answers before the next)."""
    for service in SERVICES:
        for replica in range(stack.config.replicas):
            name = f"{service}-worker{replica_suffix(replica)}"
            stack.restart(name)
            report.fault(f"SIGTERM + start {name}")
    for service in SERVICES:
        name = f"{service}-http{replica_suffix(stack.config.replicas - 1)}"
        stack.restart(name)
        stack.wait_http(name, timeout=120)
        report.fault(f"SIGTERM + start {name}")


async def test_11_soak_with_rolling_restarts(replica_stack: Stack, gateways: list[httpx.AsyncClient]) -> None:
    report = ScenarioReport("11 soak, rolling restarts")
    REPORTS.append(report)
    started = time.monotonic()
    stack = replica_stack
    in_stock, preorder = new_sku("SOAK"), new_sku("PRE")
    await product_in_stock(gateways[0], sku=in_stock, units=5000)
    await product_on_preorder(stack, gateways[0], sku=preorder, cap=5000)
    for gateway in gateways:
        await place(gateway, checkout(in_stock))
        await place(gateway, checkout(preorder))
    bodies = [checkout(preorder if i % 10 < 3 else in_stock) for i in range(1000)]
    burst = background(place_many(gateways, bodies, concurrency=16))
    restarts = background(asyncio.to_thread(rolling_restart, stack, report))
    orders: list[Placed] = await burst
    await restarts
    report.notes.append(f"placed {len(orders)} in {time.monotonic() - started:.1f}s")
    await drained(stack, timeout=240)
    settled = await settle(gateways[0], orders, timeout=180)
    record(report, orders, settled)
    twice = await payments_twice(stack)
    report.notes.append(f"pre-orders {sum(1 for b in bodies if b['lines'][0]['sku'] == preorder)}")
    report.notes.append(
        f"SOAK completed={report.completed} lost={report.lost} duplicated(charged twice)="
        f"{report.charged_twice + twice}"
    )
    result = audit(stack, report)
    report.notes.append(f"audit exit {result.returncode}")
    report.seconds = time.monotonic() - started
    print(report.line())
    assert_settled(settled)
    assert twice == 0
    assert_audit_clean(result)
