"""Two replicas of every process (item 4) and a small soak with rolling restarts (item 5)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from scripts.stack import SERVICES, Stack, replica_suffix
from shop_storefront import checkout, new_sku
from tests.chaos.journeys import (
    CANCELLED,
    RETURNED,
    Driver,
    Kind,
    acted_in_states,
    assert_all_ended,
    bodies_for,
    mix,
)
from tests.chaos.report import REPORTS, ScenarioReport
from tests.chaos.shop import (
    assert_audit_clean,
    assert_settled,
    audit,
    background,
    drained,
    payments_twice,
    place,
    place_many,
    product_in_stock,
    product_on_preorder,
    record,
    settle,
)

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


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


def rolling_restart(stack: Stack, report: ScenarioReport, until: threading.Event, *, rounds: int) -> int:
    """SIGTERM then start again, one at a time: every worker of every replica, then each service's second
    HTTP process (waiting until it answers before the next); round after round until ``until`` is set (at
    least one round, at most ``rounds``). Answers the rounds done."""
    done = 0
    while done < rounds and (done == 0 or not until.is_set()):
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
        done += 1
    return done


SOAK_ORDERS = 200


async def test_11_soak_with_cancellations_returns_and_rolling_restarts(
    replica_stack: Stack, gateways: list[httpx.AsyncClient]
) -> None:
    """In-stock orders and pre-orders, cancelled by customers and staff in several states, delivered and
    returned, while every process is restarted one by one; then every journey ends as its customer expects,
    stock adds up, nobody is charged or refunded twice and the audit is clean."""
    report = ScenarioReport("11 soak, rolling restarts")
    REPORTS.append(report)
    started = time.monotonic()
    stack = replica_stack
    in_stock, preorder = new_sku("SOAK"), new_sku("PRE")
    product_id = await product_in_stock(gateways[0], sku=in_stock, units=5000)
    await product_on_preorder(stack, gateways[0], sku=preorder, cap=5000)
    warm_up = [await place(gateway, checkout(sku)) for gateway in gateways for sku in (in_stock, preorder)]
    journeys = bodies_for(mix(SOAK_ORDERS), in_stock=in_stock, preorder=preorder)
    drivers = [Driver(gateway) for gateway in gateways]
    place_limit, act_limit = asyncio.Semaphore(12), asyncio.Semaphore(24)
    quiet = threading.Event()
    restarts = background(asyncio.to_thread(rolling_restart, stack, report, quiet, rounds=2))
    await asyncio.gather(
        *(drivers[i % 2].run(journey, place_limit, act_limit) for i, journey in enumerate(journeys))
    )
    quiet.set()
    report.notes.append(
        f"restart rounds: {await restarts}; journeys driven in {time.monotonic() - started:.1f}s"
    )
    await drained(stack, timeout=240)
    unfinished = await drivers[0].settle(journeys, timeout=180)
    orders = [journey.placed for journey in journeys if journey.placed is not None]
    settled = await settle(gateways[0], warm_up, timeout=60)
    twice = await payments_twice(stack)
    charged_twice = [p for p in orders if len(p.succeeded_payments()) > 1]
    refunded_twice = [j for j in journeys if j.refunded_too_much()]
    kinds = Counter(journey.kind.value for journey in journeys)
    available = (await gateways[0].get(f"/v1/products/{product_id}")).json()["variants"][0]["available"]
    kept_units = 2 + sum(1 for j in journeys if j.kind in (Kind.KEPT, Kind.DELIVERED, Kind.RETURN_DAMAGED))
    report.orders += len(journeys) + len(warm_up)
    report.lost += len(unfinished) + len(settled.lost)
    report.completed += report.orders - report.lost
    report.charged_twice += len(charged_twice) + twice + len(settled.charged_twice)
    cancelled = sum(1 for j in journeys if j.kind in CANCELLED and j.done())
    returned = sum(1 for j in journeys if j.kind in RETURNED and j.done())
    report.notes.append(f"journeys {dict(kinds)}")
    report.notes.append(f"cancelled in states {acted_in_states(journeys)}")
    report.notes.append(f"in-stock units available {available} of 5000, expected {5000 - kept_units}")
    report.oversold += max(0, (5000 - kept_units) - available)
    report.notes.append(
        f"SOAK completed={report.completed} lost={report.lost}"
        f" duplicated(charged twice {report.charged_twice}, refunded twice {len(refunded_twice)})"
        f" cancelled={cancelled} returned={returned} oversold={report.oversold}"
    )
    result = audit(stack, report)
    report.notes.append(f"audit exit {result.returncode}, violations {report.audit_violations}")
    report.seconds = time.monotonic() - started
    print(report.line())
    assert_all_ended(unfinished)
    assert_settled(settled)
    assert not charged_twice
    assert twice == 0
    assert not refunded_twice
    assert available == 5000 - kept_units
    assert_audit_clean(result)
